import type { ServerObservation } from "../drivers/driver.ts";
import { compareAddresses } from "../model/address.ts";
import type { Cluster } from "../model/fleet.ts";
import { compareVersions } from "../model/version.ts";
import type { Step } from "../model/step.ts";
import { onTarget, type Problem } from "./effects.ts";

/**
 * What must hold in the observed fleet, just before a step's action is sent, for the rules that
 * step relies on (D1, D2, D4, M2). The rule gate judges steps against the journal's picture of
 * the fleet; these judge them against what the servers said a moment ago, so that a fleet changed
 * under a run (a cluster put back into its supercluster by hand, a lab or appliance restarted, a
 * server reinstalled) makes the engine escalate instead of acting. Pure, like effects.ts.
 */
export interface PreconditionContext {
  step: Step;
  cluster: Cluster;
  /** The step's servers, observed just now. */
  observations: ServerObservation[];
  /** Matrix steps: every server of the matrix, observed just now. */
  matrix?: ServerObservation[];
  /** A rollback (plan.rollback): the newer release the matrix leaves, lowest address first (M3). */
  rollbackFrom?: string;
}

const names = (obs: ServerObservation[]) => obs.map((o) => o.server).join(", ");

export function preconditionProblems(ctx: PreconditionContext, target: string): Problem[] {
  const { step, cluster, observations: obs } = ctx;
  if (cluster.pack === "polycom-dma") return dmaProblems(step, cluster, obs, target);
  // all at once, the matrix down (M12): no address order to keep; two halves (M12): a half is
  // upgraded together, and the gate holds the second back until the first is back (M2)
  if (cluster.pack === "polyserve-matrix" && (step.fullStop || step.half !== undefined)) return [];
  if (cluster.pack === "polyserve-matrix" && ctx.matrix) {
    const m11 = passProblems(step, ctx.matrix);
    if (m11.length) return m11;
  }
  if (cluster.pack === "polyserve-matrix" && ctx.matrix)
    return ctx.rollbackFrom === undefined
      ? matrixProblems(step, cluster, ctx.matrix, target)
      : rollbackProblems(step, cluster, ctx.matrix, target, ctx.rollbackFrom);
  return [];
}

function dmaProblems(step: Step, cluster: Cluster, obs: ServerObservation[], target: string): Problem[] {
  const problems: Problem[] = [];
  const memberOf = [...new Set(obs.map((o) => o.supercluster).filter((s): s is string => !!s))];
  switch (step.action) {
    case "install":
      // D4 (incremental) and D5 (maintenance window) upgrades are incompatible (D2): out first
      if ((step.rules.includes("D4") || step.rules.includes("D5")) && memberOf.length)
        problems.push({
          rule: "D4",
          detail: `${cluster.name} is a member of ${memberOf.join(", ")} (observed just now): it cannot be upgraded to the incompatible ${target} while a member of a supercluster`,
        });
      break;
    case "leave-supercluster": {
      const serving = obs.filter((o) => o.inService === true || o.busiedOut === false);
      if (serving.length)
        problems.push({
          rule: "D4",
          detail: `${cluster.name} is not busied out and out of service (observed on ${names(serving)}): it must be before it leaves`,
        });
      // D4: no territory of its supercluster still served by it, as the cluster sees them just now
      // (the last member leaves with them: the supercluster dissolves)
      const others = new Set(
        obs.flatMap((o) => o.superclusterMembers ?? []).filter((m) => m !== cluster.name),
      );
      const held =
        others.size === 0
          ? []
          : [
              ...new Map(
                obs
                  .flatMap((o) => o.territories ?? [])
                  .filter((t) => t.primary === cluster.name || t.backup === cluster.name)
                  .map((t) => [t.name, t]),
              ).values(),
            ];
      if (held.length)
        problems.push({
          rule: "D4",
          detail: `${cluster.name} still serves ${held.map((t) => `${t.name} (${t.primary === cluster.name ? "primary" : "backup"})`).join(", ")} (observed just now): its territories go to other clusters before it leaves`,
        });
      const offline = obs.filter((o) => o.state !== "running");
      if (offline.length)
        problems.push({
          rule: "D4",
          detail: `not every server of ${cluster.name} is online (${offline.map((o) => `${o.server} ${o.state}`).join(", ")}): a server offline while its cluster leaves may come back inconsistent`,
        });
      break;
    }
    case "join-supercluster": {
      const elsewhere = memberOf.filter((s) => s !== step.supercluster);
      if (elsewhere.length)
        problems.push({
          rule: "D1",
          detail: `${cluster.name} is a member of ${elsewhere.join(", ")} (observed just now): it must leave before it joins ${step.joins ?? step.supercluster}`,
        });
      const behind = obs.filter((o) => !onTarget(o, target));
      if (behind.length)
        problems.push({
          rule: "D2",
          detail: `${names(behind)} ${behind.length === 1 ? "runs" : "run"} ${behind.map((o) => o.release).join(", ")}, not ${target}: the new supercluster's clusters run compatible releases`,
        });
      break;
    }
  }
  return problems;
}

/**
 * M11 on what the matrix's servers say just now: a mode change only while they run one release,
 * and no mode under way but the server's own and the step's (a mode set by hand to a third); a
 * release change only while they run one mode.
 */
function passProblems(step: Step, matrix: ServerObservation[]): Problem[] {
  if (!step.server || (step.action !== "set-mode" && step.action !== "install")) return [];
  const seen = matrix.filter((o) => o.state !== "unreachable");
  const me = seen.find((o) => o.server === step.server);
  const modes = [...new Set(seen.map((o) => o.mode).filter((m): m is string => m !== undefined))];
  if (step.action === "install") {
    if (modes.length < 2) return [];
    return [
      {
        rule: "M11",
        detail: `the servers of ${step.cluster} run in modes ${modes.join(" and ")} (observed just now): a release change waits until every server runs one mode; nothing was sent`,
      },
    ];
  }
  const releases = [...new Set(seen.map((o) => o.release))].sort(compareVersions);
  if (releases.length > 1)
    return [
      {
        rule: "M11",
        detail: `the servers of ${step.cluster} run ${releases.join(" and ")} (observed just now): a mode change waits until every server runs one release; nothing was sent`,
      },
    ];
  const others = modes.filter((m) => m !== step.mode && m !== me?.mode);
  if (others.length)
    return [
      {
        rule: "M11",
        detail: `${seen
          .filter((o) => o.mode !== undefined && others.includes(o.mode))
          .map((o) => `${o.server} runs in mode ${o.mode}`)
          .join(
            ", ",
          )} (observed just now), neither ${step.server}'s mode nor ${step.mode}: one mode change at a time; nothing was sent`,
      },
    ];
  return [];
}

/**
 * A rollback (M3, M4): a server goes back only once every server below it in the address order
 * runs the old release again, and while some other server still runs the old release (before the
 * point of no return the matrix admits it; after, it does not).
 */
function rollbackProblems(
  step: Step,
  cluster: Cluster,
  matrix: ServerObservation[],
  target: string,
  from: string,
): Problem[] {
  if (!step.server) return [];
  if (step.action === "start") return rollbackStartProblems(step.server, cluster, matrix, target, from);
  if (!["disable", "stop", "install"].includes(step.action)) return [];
  const me = matrix.find((o) => o.server === step.server);
  if (!me || onTarget(me, target)) return [];
  const address = new Map(cluster.servers.map((s) => [s.name, s.address]));
  const mine = address.get(step.server)!;
  const below = matrix.filter(
    (o) =>
      o.server !== step.server && compareAddresses(address.get(o.server)!, mine) < 0 && !onTarget(o, target),
  );
  if (below.length > 0)
    return [
      {
        rule: "M3",
        detail: `${below.map((o) => `${o.server} (${address.get(o.server)}) runs ${o.release}`).join(", ")}, below ${step.server} (${mine}) in the address order (observed just now): taking ${step.server} back to ${target} first would put ${from} servers below it`,
      },
    ];
  const old = matrix.filter(
    (o) =>
      o.server !== step.server && onTarget(o, target) && (o.state === "running" || o.state === "isolated"),
  );
  if (old.length === 0)
    return [
      {
        rule: "M4",
        detail: `no other server of ${cluster.name} runs ${target} (observed just now): the matrix is past its point of no return and admits only ${from}; ${step.server} cannot go back`,
      },
    ];
  return [];
}

/**
 * M4 at a rollback's start: a server back on the old release returns to the matrix only while
 * another server still runs the old release in it. If the last of them stopped meanwhile (by hand,
 * a crash), the matrix finalized on the newer release and refuses the old one: the engine escalates
 * instead of starting it.
 */
function rollbackStartProblems(
  server: string,
  cluster: Cluster,
  matrix: ServerObservation[],
  target: string,
  from: string,
): Problem[] {
  const me = matrix.find((o) => o.server === server);
  if (!me || !onTarget(me, target)) return [];
  const old = matrix.filter(
    (o) => o.server !== server && onTarget(o, target) && (o.state === "running" || o.state === "isolated"),
  );
  if (old.length > 0) return [];
  const running = matrix.filter((o) => o.state === "running" || o.state === "isolated");
  return [
    {
      rule: "M4",
      detail: `no other server of ${cluster.name} runs ${target} now (observed just now${running.length ? `: ${running.map((o) => `${o.server} runs ${o.release}`).join(", ")}` : ": none runs"}): the last ${target} server has left the matrix, so it is past its point of no return and admits only ${from} (M4): ${server} cannot return on ${target}. The way on is forward: abort, bring the fleet file up to date (rollgate fleet sync FLEET --write), and upgrade the matrix to ${from} (rollgate apply FLEET --to ${from})`,
    },
  ];
}

/** M2: a server begins its procedure only once every server above it in the address order runs the target. */
function matrixProblems(
  step: Step,
  cluster: Cluster,
  matrix: ServerObservation[],
  target: string,
): Problem[] {
  if (!step.server || !["disable", "stop", "install", "set-mode"].includes(step.action)) return [];
  // a mode pass (M11): "upgraded" is on the pass's mode
  const mode = step.pass?.mode;
  const me = matrix.find((o) => o.server === step.server);
  if (!me || onTarget(me, target, mode)) return [];
  const address = new Map(cluster.servers.map((s) => [s.name, s.address]));
  const mine = address.get(step.server)!;
  const above = matrix.filter(
    (o) =>
      o.server !== step.server &&
      compareAddresses(address.get(o.server)!, mine) > 0 &&
      !onTarget(o, target, mode),
  );
  if (above.length === 0) return [];
  return [
    {
      rule: "M2",
      detail: `${above.map((o) => `${o.server} (${address.get(o.server)}) runs ${o.release}${mode === undefined ? "" : ` in mode ${o.mode ?? "(none)"}`}`).join(", ")}, above ${step.server} (${mine}) in the address order (observed just now): upgrading ${step.server} now would be out of order (M3)`,
    },
  ];
}
