import type { ServerObservation } from "../drivers/driver.ts";
import type { AbortLeftOut } from "../events/types.ts";
import type { Cluster, Fleet } from "../model/fleet.ts";
import { compareVersions } from "../model/version.ts";
import type { Step, TerritoryAssignment } from "../plan/types.ts";

/**
 * An abort with return to service (`rollgate abort FLEET --return-to-service`): which DMA clusters
 * the run took out of service may come back, judged on what their servers said just now. Pure,
 * like effects.ts; the engine acts (its step executor and rule gate), this only judges.
 *
 * D6/D3: a cluster serves as a member of a supercluster, and a supercluster's members run one
 * release. A cluster busied out but still a member of its supercluster, on one release, may return
 * to service; one that left its supercluster (and has not joined or founded the new one) cannot:
 * the way on is to finish its upgrade (`rollgate fleet sync --write`, then `rollgate apply`).
 */

/** The cluster is out of service as its servers report it (busied out, or not taking calls). */
export function outOfServiceNow(obs: ServerObservation[]): boolean {
  return obs.some((o) => o.inService === false || o.busiedOut === true);
}

/** Why `cluster` may not return to service now (undefined: it may), with the rule id and what to do. */
export function mayNotReturn(cluster: Cluster, obs: ServerObservation[]): AbortLeftOut | undefined {
  const unreachable = obs.filter((o) => o.state === "unreachable");
  if (unreachable.length)
    return {
      cluster: cluster.name,
      rule: "G5",
      reason: `${unreachable.map((o) => o.server).join(", ")} unreachable: ${cluster.name} is not returned to service without reading every server; bring ${unreachable.length === 1 ? "it" : "them"} back, then \`rollgate fleet sync --write\` and \`rollgate apply\``,
    };
  const memberOf = [...new Set(obs.map((o) => o.supercluster ?? null))];
  if (memberOf.length !== 1 || memberOf[0] === null) {
    const left = cluster.supercluster ?? "its supercluster";
    return {
      cluster: cluster.name,
      rule: "D6",
      reason: `${cluster.name} left ${left} and is a member of no supercluster: it serves again only as a member of one (the new one it joins or founds), so it stays out of service; finish its upgrade: \`rollgate fleet sync --write\` then \`rollgate apply\``,
    };
  }
  const releases = [...new Set(obs.map((o) => o.release))].sort(compareVersions);
  if (releases.length > 1)
    return {
      cluster: cluster.name,
      rule: "D3",
      reason: `${cluster.name}'s servers run ${releases.join(" and ")}: a cluster serves on one release, so it stays out of service; finish its upgrade: \`rollgate fleet sync --write\` then \`rollgate apply\``,
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
  const sc = fleet.superclusters.find((s) => s.name === supercluster && s.clusters.includes(cluster.name));
  if (!sc) return [];
  return sc.territories
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
