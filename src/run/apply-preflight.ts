import type { Driver, ServerObservation } from "../drivers/driver.ts";
import { RollgateError } from "../model/errors.ts";
import type { Cluster, Fleet } from "../model/fleet.ts";
import type { FleetChange } from "../model/fleet-sync.ts";
import { compareVersions } from "../model/version.ts";
import type { Plan } from "../plan/types.ts";
import { fleetFileUpdate } from "./fleet-sync.ts";
import { shellWord } from "./return-to-service.ts";
import { labFleetOf } from "./state-path.ts";

/**
 * Before `rollgate apply` writes anything: every server the plan touches is observed and compared
 * with the fleet file (G5), and a planner's refusal of a stale file is answered with the mismatch.
 */
export interface Observed {
  cluster: Cluster;
  server: Fleet["clusters"][number]["servers"][number];
  obs: ServerObservation;
}

/** Observes every server of `clusters` at once; refuses (nothing written) when one cannot be reached (G5). */
export async function observeAll(
  clusters: Cluster[],
  driverFor: (c: Cluster) => Driver,
  when: "starting" | "resuming",
): Promise<Observed[]> {
  const observed = await Promise.all(
    clusters.flatMap((cluster) =>
      cluster.servers.map(async (server) => ({
        cluster,
        server,
        // the driver's own timeout (driver.exec.timeout, …), not one for every driver
        obs: await driverFor(cluster).observe({ cluster, server }),
      })),
    ),
  );
  const unreachable = observed.filter((o) => o.obs.state === "unreachable");
  if (unreachable.length) {
    throw new RollgateError(
      "ROLLGATE_E_PREFLIGHT_UNREACHABLE",
      // each with the driver's reason: a timeout (after the driver's own timeout), a program that
      // could not be started, a refused connection (a lab that is down), an answer that is no status
      `cannot observe ${unreachable.length} server(s) before ${when} (G5): ${unreachable.map((o) => `${o.server.name} (${o.cluster.name}): ${o.obs.error ?? "it reports itself unreachable"}`).join("; ")}; nothing was done`,
    );
  }
  return observed;
}

/** Observe every server of the clusters the plan touches; refuse to start on an unreachable or surprising fleet. */
export async function preflight(
  fleet: Fleet,
  plan: Plan,
  driverFor: (c: Cluster) => Driver,
  /** The last completed run of this fleet and target in the state file, if any. */
  lastCompleted?: string,
  /** The fleet file: a mismatch shows the lines to change in it (fleet sync). */
  fleetFile?: string,
): Promise<void> {
  const clusters = fleet.clusters.filter((c) => plan.steps.some((s) => s.cluster === c.name));
  const noDriver = clusters.filter((c) => !c.driver?.http && !c.driver?.ssh && !c.driver?.exec);
  if (noDriver.length) {
    throw new RollgateError(
      "ROLLGATE_E_NO_DRIVER",
      `no driver for cluster(s) ${noDriver.map((c) => c.name).join(", ")}: add driver.http, driver.ssh or driver.exec to the fleet file (or use \`rollgate lab up\`)`,
    );
  }
  const observed = await observeAll(clusters, driverFor, "starting");
  refuseBusy(observed, fleetFile);
  const targetOf = (c: Cluster) => plan.targets[c.name] ?? plan.target;
  // Everything already on its target: a new run would only replay a finished upgrade (a DMA
  // cluster would be busied out and taken out of its new supercluster again). Nothing to do.
  // Unless the file already says so (every release on the target): the plan is then what remains
  // of a supercluster part way (clusters that left it and joined none yet, G5/D5/D6).
  if (
    observed.every((o) => compareVersions(o.obs.release, targetOf(o.cluster)) === 0) &&
    observed.some((o) => compareVersions(o.server.version, o.obs.release) !== 0)
  ) {
    throw lastCompleted
      ? new RollgateError(
          "ROLLGATE_E_RUN_FINISHED",
          `run ${lastCompleted} has already completed: every server runs its target; nothing to do (describe the fleet as it now is in the fleet file before planning another upgrade)`,
        )
      : behindError(fleet, plan, observed, fleetFile);
  }
  // A release the file does not say, or (DMA) any release but the file's: a matrix or generic
  // server may be ahead on the target (the per-server procedure finds that, G5; M3 decides the
  // rest), but a DMA cluster's procedure (reassign, busy-out, leave, …, join) is planned from its
  // release and its supercluster as the file says, and is wrong for any other.
  const surprising = observed.filter((o) => {
    if (compareVersions(o.obs.release, o.server.version) === 0) return false;
    return o.cluster.pack === "polycom-dma" || compareVersions(o.obs.release, targetOf(o.cluster)) !== 0;
  });
  // M11: a mode the file does not say, other than the one the plan's mode pass sets: the plan
  // would leave that server out of its pass (or set it again from a mode it does not have)
  const lastMode = (c: Cluster) =>
    plan.steps.filter((x) => x.cluster === c.name && x.action === "set-mode").at(-1)?.mode;
  const otherMode = observed.filter(
    (o) =>
      o.server.mode !== undefined &&
      o.obs.state !== "unreachable" &&
      o.obs.mode !== o.server.mode &&
      o.obs.mode !== lastMode(o.cluster),
  );
  const moved = observed.filter(
    (o) =>
      o.cluster.pack === "polycom-dma" &&
      o.obs.supercluster !== undefined &&
      (o.obs.supercluster ?? undefined) !== o.cluster.supercluster,
  );
  if (surprising.length || moved.length || otherMode.length) {
    const update = fleetFile === undefined ? undefined : mismatchUpdate(fleetFile, fleet, observed);
    throw new RollgateError(
      "ROLLGATE_E_PREFLIGHT_MISMATCH",
      `the fleet is not as the fleet file says: ${[
        ...surprising.map((o) => `${o.server.name} runs ${o.obs.release}, the file says ${o.server.version}`),
        ...otherMode.map(
          (o) =>
            `${o.server.name} runs in mode ${o.obs.mode ?? "(none reported)"}, the file says ${o.server.mode} (M11)`,
        ),
        ...moved.map(
          (o) =>
            `${o.server.name} sees ${o.cluster.name} in ${o.obs.supercluster ? `supercluster ${o.obs.supercluster}` : "no supercluster"}, the file says ${o.cluster.supercluster ?? "none"}`,
        ),
      ].join("; ")}; nothing was done.${update?.message ?? ""}`,
      update ? { details: { changes: update.changes, diff: update.diff } } : undefined,
    );
  }
}

/**
 * Every server already on its target while the fleet file says otherwise: the file is behind the
 * fleet (an aborted run, a maintenance window aborted part way, an upgrade by hand), which may be
 * far from done (clusters out of service, in no supercluster). Not "nothing to do": bring the file
 * up to date, then plan again from it (G5), with the commands to paste.
 */
function behindError(fleet: Fleet, plan: Plan, observed: Observed[], fleetFile?: string): RollgateError {
  const f = fleetFile ? shellWord(fleetFile) : "FLEET";
  const to = plan.target
    .split(",")
    .map((t) => `--to ${shellWord(t)}`)
    .join(" ");
  const update = fleetFile === undefined ? undefined : mismatchUpdate(fleetFile, fleet, observed);
  return new RollgateError(
    "ROLLGATE_E_PREFLIGHT_MISMATCH",
    `every server already runs its target, but the fleet file says otherwise: the fleet file is behind the fleet (what is left to do, if anything, is planned from what it says); nothing was done. Bring it up to date with \`rollgate fleet sync ${f} --write\`, then plan again: \`rollgate plan ${f} ${to}\`.${update?.message ?? ""}`,
    update ? { details: { changes: update.changes, diff: update.diff } } : undefined,
  );
}

/**
 * A server busy with an action before a run starts (an install of an aborted run still under way,
 * or one that hangs; an action at its console): a new run would act on a server that is not where
 * the file or the plan has it, and would only find out when the server refuses it (G5, M9: one
 * action at a time on a server). Refused before anything is written, naming each server, its
 * action and how to end it.
 */
function refuseBusy(observed: Observed[], fleetFile: string | undefined): void {
  const busy = observed.filter((o) => o.obs.activity || o.obs.state === "installing");
  if (busy.length === 0) return;
  const what = (o: Observed) => {
    const a = o.obs.activity;
    const action = a ? `${a.action}${a.release ? ` ${a.release}` : ""}` : "an install";
    const ends =
      a?.endsAt === null ? ", which will not end by itself" : a?.endsAt ? `, until ${a.endsAt}` : "";
    return `${o.server.name} (${o.cluster.name}) is busy: ${action} in progress${ends}`;
  };
  const lab = fleetFile === undefined ? undefined : labFleetOf(fleetFile);
  const end = lab
    ? `end it with \`${busy.map((o) => `rollgate lab fault ${lab} ${o.server.name} crash`).join("` and `")}\` (a crash interrupts the action under way)`
    : "end it at the server as its manual says";
  throw new RollgateError(
    "ROLLGATE_E_PREFLIGHT_MISMATCH",
    `${busy.map(what).join("; ")} (G5, M9: one action at a time on a server): wait for it to end, or ${end}, then plan again; nothing was done`,
    {
      details: {
        busy: busy.map((o) => ({
          server: o.server.name,
          cluster: o.cluster.name,
          activity: o.obs.activity ?? { action: "install" },
        })),
      },
    },
  );
}

/**
 * What to write in the fleet file so that it describes the fleet as observed (G5): the lines to
 * change, as `rollgate fleet sync FILE --write` would write them (run/fleet-sync.ts). Only the
 * clusters observed are brought up to date; undefined when nothing can be said.
 */
function mismatchUpdate(
  fleetFile: string,
  fleet: Fleet,
  observed: Observed[],
): { message: string; changes: FleetChange[]; diff: string[] } | undefined {
  try {
    const u = fleetFileUpdate(fleetFile, fleet, observed);
    if (u.diff.length === 0) return undefined;
    const shown = u.diff.slice(0, 60);
    return {
      message: ` Describe the fleet as it now is: \`rollgate fleet sync ${fleetFile} --write\` writes it, or change these lines of ${fleetFile} (- as it reads, + as it should read):\n${shown.join("\n")}${u.diff.length > shown.length ? `\n… and ${u.diff.length - shown.length} more line(s): rollgate fleet sync ${fleetFile} prints the whole file` : ""}`,
      changes: u.changes,
      diff: u.diff,
    };
  } catch (e) {
    // the file cannot be read or rewritten (a catalog error): the message above still names every
    // difference; anything else is a bug
    if (!(e instanceof RollgateError)) throw e;
    return undefined;
  }
}

/**
 * Planning refuses the fleet as the file describes it (a target not newer, an unsupported path,
 * a fleet that breaks a rule). When the file is stale (the fleet was upgraded since: a previous
 * run, an abort, a cluster upgraded by hand), that refusal answers the wrong question: the servers
 * are observed (G5) and, if they disagree with the file, the answer is the mismatch with the lines
 * to write (`rollgate fleet sync`). Otherwise the planner's own refusal stands.
 */
export async function staleFileInstead(
  e: unknown,
  fleetFile: string,
  fleet: Fleet,
  driverFor: (c: Cluster) => Driver,
): Promise<unknown> {
  const codes = [
    "ROLLGATE_E_PLAN_TARGET_NOT_NEWER",
    "ROLLGATE_E_PLAN_UNSUPPORTED_PATH",
    "ROLLGATE_E_PLAN_FLEET_BREAKS_RULES",
    "ROLLGATE_E_PLAN_BAD_TARGET",
  ];
  if (!(e instanceof RollgateError) || !codes.includes(e.code)) return e;
  const clusters = fleet.clusters.filter((c) => c.driver?.http || c.driver?.ssh || c.driver?.exec);
  if (clusters.length === 0) return e;
  try {
    const observed = (
      await Promise.all(
        clusters.flatMap((cluster) =>
          cluster.servers.map(async (server) => ({
            cluster,
            server,
            obs: await driverFor(cluster).observe({ cluster, server }),
          })),
        ),
      )
    ).filter((o) => o.obs.state !== "unreachable");
    const update = mismatchUpdate(fleetFile, fleet, observed);
    if (!update) return e;
    return new RollgateError(
      "ROLLGATE_E_PREFLIGHT_MISMATCH",
      `the fleet is not as the fleet file says, so the plan made from the file is wrong (it says: ${e.message}); nothing was done.${update.message}`,
      { details: { changes: update.changes, diff: update.diff, planError: e.code } },
    );
  } catch {
    // best effort: the planner's refusal stands on its own; this only adds the servers' view to it
    return e;
  }
}
