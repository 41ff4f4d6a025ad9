import { shellWord } from "../model/shell.ts";
import type { ServerObservation } from "../drivers/driver.ts";
import type { AbortLeftOut, AbortReturned } from "../events/types.ts";
import { compareAddresses } from "../model/address.ts";
import { estimateFor } from "../model/estimates.ts";
import { type Cluster, type Fleet, type Server, superclusterLineage } from "../model/fleet.ts";
import { compareVersions } from "../model/version.ts";
import type { Step, TerritoryAssignment } from "../model/step.ts";

/**
 * An abort with return to service (`rollgate abort FLEET --return-to-service`): which DMA clusters
 * the run took out of service may come back, judged on what their servers said just now. Pure,
 * like effects.ts; the engine acts (its step executor and rule gate), this only judges.
 *
 * D6/D3: a cluster serves as a member of a supercluster, and a supercluster's members run one
 * release. A cluster busied out but still a member of its supercluster, on one release, may return
 * to service; one that left its supercluster (and has not joined or founded the new one) cannot:
 * the way on is to finish its upgrade (`rollgate fleet sync FLEET --write`, then `rollgate apply FLEET
 * --to VERSION`: finishCommands, with the run's fleet file and target).
 */

export { shellWord } from "../model/shell.ts";

/**
 * What to run to finish an upgrade after an abort, pasteable: bring the fleet file up to what
 * the servers report, then apply again with the run's target (`Plan.target`: a version, or the
 * `--to` selectors joined by commas). FLEET and VERSION stand in for what is not known.
 */
export function finishCommands(fleetFile?: string, target?: string): string {
  const f = fleetFile ? shellWord(fleetFile) : "FLEET";
  // a rollback's target is "rollback C=REL,…": finished by rolling back again, not by an apply --to
  if (target?.startsWith("rollback ")) {
    const clusters = target
      .slice("rollback ".length)
      .split(",")
      .map((t) => `--cluster ${shellWord(t.split("=")[0]!)}`)
      .join(" ");
    return `\`rollgate fleet sync ${f} --write\` then \`rollgate rollback ${f} ${clusters} --yes\``;
  }
  const to = (target ? target.split(",") : ["VERSION"]).map((t) => `--to ${shellWord(t)}`).join(" ");
  return `\`rollgate fleet sync ${f} --write\` then \`rollgate apply ${f} ${to}\``;
}

/** The cluster is out of service as its servers report it (busied out, or not taking calls). */
export function outOfServiceNow(obs: ServerObservation[]): boolean {
  return obs.some((o) => o.inService === false || o.busiedOut === true);
}

/** Why `cluster` may not return to service now (undefined: it may), with the rule id and what to do. */
export function mayNotReturn(
  cluster: Cluster,
  obs: ServerObservation[],
  /** What to run to finish the upgrade (finishCommands). */
  finish = finishCommands(),
): AbortLeftOut | undefined {
  const unreachable = obs.filter((o) => o.state === "unreachable");
  if (unreachable.length)
    return {
      cluster: cluster.name,
      rule: "G5",
      reason: `${unreachable.map((o) => o.server).join(", ")} unreachable: ${cluster.name} is not returned to service without reading every server; bring ${unreachable.length === 1 ? "it" : "them"} back, then ${finish}`,
    };
  const memberOf = [...new Set(obs.map((o) => o.supercluster ?? null))];
  if (memberOf.length !== 1 || memberOf[0] === null) {
    const left = cluster.supercluster ?? "its supercluster";
    return {
      cluster: cluster.name,
      rule: "D6",
      reason: `${cluster.name} left ${left} and is a member of no supercluster: it serves again only as a member of one (the new one it joins or founds), so it stays out of service; finish its upgrade: ${finish}`,
    };
  }
  const releases = [...new Set(obs.map((o) => o.release))].sort(compareVersions);
  if (releases.length > 1)
    return {
      cluster: cluster.name,
      rule: "D3",
      reason: `${cluster.name}'s servers run ${releases.join(" and ")}: a cluster serves on one release, so it stays out of service; finish its upgrade: ${finish}`,
    };
  return undefined;
}

/**
 * The fleet file's territories that `cluster` served (primary or backup) before the run, in the
 * supercluster it is a member of now: what the manual's order restores once it is back in service.
 * Only the territories whose clusters are all serving members of that supercluster (D4: territories
 * go to members; D5: a territory goes unserved only in a maintenance window).
 */
export function territoriesToRestore(
  fleet: Fleet,
  cluster: Cluster,
  supercluster: string,
  serving: (name: string) => boolean,
): TerritoryAssignment[] {
  // the design of the cluster's lineage: the supercluster the file names, or (an upgrade that founded
  // `<lineage>@<release>` before the abort) the file's supercluster of the same lineage
  const lineage = superclusterLineage(supercluster);
  const scs = fleet.superclusters.filter(
    (s) =>
      superclusterLineage(s.name) === lineage &&
      (s.clusters.includes(cluster.name) || (s.formerMembers ?? []).includes(cluster.name)),
  );
  if (scs.length === 0) return [];
  return scs
    .flatMap((s) => s.territories)
    .filter((t) => t.primary === cluster.name || t.backup === cluster.name)
    .filter((t) => [t.primary, t.backup].every((n) => n === undefined || serving(n)))
    .map((t) => ({
      name: t.name,
      primary: t.primary,
      ...(t.backup !== undefined ? { backup: t.backup } : {}),
    }));
}

/** The restore step an abort runs for a cluster it returned (not a step of the plan: its id says so). */
export function restoreStep(
  cluster: Cluster,
  supercluster: string,
  territories: TerritoryAssignment[],
): Step {
  return {
    id: `${cluster.name}/restore-territories-on-abort`,
    action: "restore-territories",
    cluster: cluster.name,
    supercluster,
    territories,
    after: [],
    start: 0,
    end: 120,
    rules: ["D6", "D4"],
    pointOfNoReturn: false,
  };
}

/** The return-to-service step for a cluster whose plan has none (its own, with the plan's shape). */
export function returnStep(cluster: Cluster): Step {
  return {
    id: `${cluster.name}/return-to-service-on-abort`,
    action: "return-to-service",
    cluster: cluster.name,
    after: [],
    start: 0,
    end: 60,
    rules: ["D6", "G3"],
    pointOfNoReturn: false,
  };
}

/**
 * A Matrix server the aborted run stopped (M9: stop, install, start) and did not start again: may
 * it start now, judged on what every server of its matrix said just now? Undefined when it is not
 * down (running, or isolated: that is M3's correction, not a return). The rules:
 * - G5: every server of the matrix is read; one unreachable, nothing is started unseen.
 * - M9: a server whose install is under way cannot start; it starts once the install has ended.
 * - M4: a server on the old release rejoins only while an active server still runs that release
 *   (after the last one left, only the new release may join: the point of no return).
 * - M3: the servers on the new release stay a top segment of the address order: an old-release
 *   server does not start above a running new-release one, a new-release server does not start
 *   below a running old-release one.
 * - M5: a filesystem no longer mounted on any server on its release (or older) cannot be mounted
 *   on it: it is not started to run without its filesystems.
 */
export function matrixServerReturn(
  cluster: Cluster,
  server: Server,
  obs: ServerObservation[],
  /** What to run to finish the upgrade (finishCommands). */
  commands = finishCommands(),
): { ok: true; returned: AbortReturned } | { ok: false; left: AbortLeftOut } | undefined {
  const left = (rule: string, reason: string) => ({
    ok: false as const,
    left: { cluster: cluster.name, server: server.name, rule, reason },
  });
  const finish = `finish the upgrade: ${commands}`;
  const unreachable = obs.filter((o) => o.state === "unreachable");
  if (unreachable.length)
    return left(
      "G5",
      `${unreachable.map((o) => o.server).join(", ")} unreachable: ${server.name} is not started without reading every server of ${cluster.name}; bring ${unreachable.length === 1 ? "it" : "them"} back, then ${finish}`,
    );
  const me = obs.find((o) => o.server === server.name);
  if (!me) return left("G5", `${server.name} was not observed: it is not started unseen`);
  if (me.state === "installing" || me.lastInstall?.result === "running")
    return left(
      "M9",
      `${server.name} is in the middle of its install${me.lastInstall ? ` of ${me.lastInstall.release}` : ""}: it cannot start until the install has ended; once it has, ${finish} (M9: install, start, confirm it rejoined)`,
    );
  if (me.state !== "stopped") return undefined;
  const address = (name: string) => cluster.servers.find((x) => x.name === name)?.address ?? "";
  const running = obs.filter((o) => o.server !== server.name && o.state === "running");
  const isolated = obs.filter((o) => o.state === "isolated");
  if (isolated.length)
    return left(
      "M3",
      `${isolated.map((o) => o.server).join(", ")} ${isolated.length === 1 ? "is" : "are"} isolated (an out-of-order upgrade): ${server.name} is not started into a broken matrix; apply the M3 correction first (\`rollgate apply --correct-out-of-order\`)`,
    );
  if (running.length === 0)
    return left(
      "M4",
      `no server of ${cluster.name} is running: whether ${server.name} (${me.release}) may join cannot be judged; start the matrix by hand, then ${finish}`,
    );
  const lowest = [...running].sort((a, b) => compareVersions(a.release, b.release))[0]!.release;
  const old = compareVersions(me.release, lowest) <= 0;
  if (compareVersions(me.release, lowest) < 0)
    return left(
      "M4",
      `${server.name} runs ${me.release}, but no active server of ${cluster.name} runs ${me.release} any more (the last one left: only ${lowest} or later may join); ${server.name} must be upgraded before it returns: ${finish}`,
    );
  // M3: new-release servers are a top segment of the address order
  const breaks = running.filter((o) =>
    old
      ? compareVersions(o.release, me.release) > 0 && compareAddresses(address(o.server), server.address) < 0
      : compareVersions(o.release, me.release) < 0 && compareAddresses(address(o.server), server.address) > 0,
  );
  if (breaks.length)
    return left(
      "M3",
      old
        ? `${server.name} (${me.release}) would run above ${breaks.map((o) => `${o.server} (${o.release})`).join(", ")} in the address order: the new-release servers must stay a top segment, so it stays stopped; ${finish}`
        : `${server.name} (${me.release}) would run below ${breaks.map((o) => `${o.server} (${o.release})`).join(", ")} in the address order: the new-release servers must stay a top segment, so it stays stopped until those are upgraded; ${finish}`,
    );
  // M5: each filesystem it mounts must still be mountable on its release
  for (const fs of cluster.filesystems.filter((f) => f.mountedOn.includes(server.name))) {
    const mounters = running.filter((o) => o.mounts?.includes(fs.name));
    if (mounters.length && !mounters.some((o) => compareVersions(o.release, me.release) <= 0))
      return left(
        "M5",
        `${fs.name} is mounted only on servers newer than ${me.release} (${mounters.map((o) => o.server).join(", ")}): it cannot be mounted on ${server.name}, so it stays stopped; ${finish}`,
      );
  }
  return {
    ok: true,
    returned: {
      cluster: cluster.name,
      server: server.name,
      rules: old ? ["M4", "M3", "M5"] : ["M3", "M5"],
      reason: old
        ? `${server.name} runs ${me.release} and ${cluster.name} still has active servers on it (M4: an old-release server may rejoin); no newer server runs below it (M3)`
        : `${server.name} runs ${me.release}; every running server above it in the address order runs ${me.release} or later (M3: the new-release servers stay a top segment)`,
    },
  };
}

/**
 * A step an abort with return to service runs on a Matrix server, `MATRIX/SERVER/<action>-on-abort`:
 * not a step of the plan (its id says so), journaled as any other.
 */
function onAbortStep(
  cluster: Cluster,
  server: string,
  release: string,
  action: "start" | "verify" | "enable",
  rules: string[],
): Step {
  return {
    id: `${cluster.name}/${server}/${action}-on-abort`,
    action,
    cluster: cluster.name,
    server,
    release,
    after: [],
    start: 0,
    // its duration, as the engine times it out (k × the estimate): the fleet file's, else the pack's
    end: estimateFor(cluster, action),
    rules,
    pointOfNoReturn: false,
  };
}

/** The start that returns a Matrix server the run stopped (M4, M3: may it rejoin; M9: then verified). */
export const matrixStartStep = (cluster: Cluster, server: string, release: string): Step =>
  onAbortStep(cluster, server, release, "start", ["M4", "M3", "M9"]);

/** The verify after that start (M9: confirm it rejoined). */
export const matrixVerifyStep = (cluster: Cluster, server: string, release: string): Step =>
  onAbortStep(cluster, server, release, "verify", ["M9"]);

/** The enable of a Matrix server the run disabled and did not stop (M9's disable undone; through the old release, M7). */
export const matrixEnableStep = (cluster: Cluster, server: string, release: string): Step =>
  onAbortStep(cluster, server, release, "enable", ["M9", "M7"]);
