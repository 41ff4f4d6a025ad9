import type { ServerObservation } from "../drivers/driver.ts";
import type { Cluster } from "../model/fleet.ts";
import { compareVersions } from "../model/version.ts";
import type { RuleId, Step, TerritoryAssignment } from "../model/step.ts";
import { type M3Member, m3OutOfOrder } from "../rules/index.ts";

/**
 * What each step's effect looks like in observations (rule G5), and what has gone wrong when it
 * does not come (rule D8 and M3). Pure functions over ServerObservations: the engine observes,
 * these decide.
 */

export interface StepContext {
  step: Step;
  cluster: Cluster;
  /** Observations of the step's servers: one for a server step, every server for a cluster step. */
  observations: ServerObservation[];
  /** Recorded in the step's intent: the backup count before the backup action. */
  backupsBefore?: number;
  /**
   * join-supercluster: the servers of the cluster joined (the founder), observed just now. A join
   * is judged against the supercluster it joins, not on the joining cluster's word alone (D10).
   */
  joined?: ServerObservation[];
}

/** On the target release and, in a mode pass (M11, `mode`), in the pass's mode (what M2, M3 and M9 call upgraded). */
export const onTarget = (o: ServerObservation, target: string, mode?: string) =>
  compareVersions(o.release, target) === 0 && (mode === undefined || o.mode === mode);

function sameAssignment(a: TerritoryAssignment[] | undefined, b: TerritoryAssignment[] | undefined): boolean {
  if (!a || !b) return false;
  const key = (t: TerritoryAssignment) => `${t.name}:${t.primary}:${t.backup ?? ""}`;
  const want = new Set(b.map(key));
  return a.length >= b.length && b.length > 0 && a.filter((t) => want.has(key(t))).length === b.length;
}

/** True when the step's effect is already there: the step is recorded as done, not repeated (G5). */
export function effectPresent(ctx: StepContext, target: string): boolean {
  const { step, observations: obs } = ctx;
  if (obs.length === 0 || obs.some((o) => o.state === "unreachable")) return false;
  const all = (p: (o: ServerObservation) => boolean) => obs.every(p);
  const mode = step.pass?.mode;
  const upgraded = all(
    (o) => onTarget(o, target, mode) && o.state !== "installing" && o.activity?.action !== "set-mode",
  );
  switch (step.action) {
    case "disable":
      return all((o) => o.disabled === true) || upgraded;
    case "enable":
      return all((o) => o.disabled !== true);
    case "backup":
      return (
        upgraded || (ctx.backupsBefore !== undefined && all((o) => (o.backups ?? 0) > ctx.backupsBefore!))
      );
    case "stop":
      return all((o) => o.state === "stopped" || o.state === "installing") || upgraded;
    case "install":
      if (ctx.cluster.pack === "polycom-dma") return upgraded && all((o) => o.login !== false);
      return upgraded;
    case "set-mode":
      return upgraded;
    case "start":
      return upgraded && all((o) => o.state === "running");
    case "verify":
      // a founder's verify also founds the new supercluster (D6, D10): done once it is a member
      return (
        verifyProblems(ctx, target).length === 0 &&
        (step.founds === undefined || all((o) => o.supercluster === step.founds))
      );
    case "reassign-territories":
    case "restore-territories":
      if (step.unassigned?.length)
        // D5's record step: done once none of them is on the supercluster any more
        return obs.some(
          (o) =>
            o.territories !== undefined &&
            !o.territories.some((t) => step.unassigned!.includes(t.name)) &&
            (!step.territories?.length || sameAssignment(o.territories, step.territories)),
        );
      return obs.some((o) => sameAssignment(o.territories, step.territories));
    case "busy-out":
      return all((o) => o.busiedOut === true || o.inService === false);
    case "leave-supercluster":
      return all(
        (o) => !o.supercluster || (step.supercluster !== undefined && o.supercluster !== step.supercluster),
      );
    case "join-supercluster":
      return (
        all(
          (o) =>
            (step.supercluster !== undefined && o.supercluster === step.supercluster) ||
            (step.joins !== undefined && (o.superclusterMembers ?? []).includes(step.joins)),
        ) && joinProblems(ctx).length === 0
      );
    case "return-to-service":
      return all((o) => o.inService === true && o.busiedOut !== true);
  }
}

/**
 * The install is still under way (do not perform it again, wait): a server is installing, or (DMA)
 * every server runs the new release and login has not come back yet (it settles after the
 * install, D7/D8a). Found after a restart, either is waited for, never requested again.
 */
export function inProgress(ctx: StepContext, target: string): boolean {
  // a mode change under way (M11): waited for, never requested again
  if (ctx.step.action === "set-mode")
    return ctx.observations.some(
      (o) =>
        o.activity?.action === "set-mode" &&
        (o.activity.mode === undefined || o.activity.mode === ctx.step.mode),
    );
  if (ctx.step.action !== "install") return false;
  const obs = ctx.observations;
  if (obs.some((o) => o.state === "installing")) return true;
  return (
    ctx.cluster.pack === "polycom-dma" &&
    obs.length > 0 &&
    obs.every((o) => onTarget(o, target) && o.state !== "unreachable") &&
    obs.some((o) => o.login === false)
  );
}

export interface Problem {
  rule: RuleId;
  detail: string;
}

/**
 * D10: a join is done only when the supercluster it joins counts the cluster in: every server of
 * the joined cluster (the founder) reports a member list with the joining cluster, in the same
 * supercluster the joining cluster reports. Empty when so; without `joined` observations (another
 * action), nothing to say. An unreachable server of the joined cluster cannot vouch for it (G5).
 */
export function joinProblems(ctx: StepContext): Problem[] {
  const { step, cluster, joined } = ctx;
  if (step.action !== "join-supercluster" || joined === undefined) return [];
  if (joined.length === 0)
    return [{ rule: "G5", detail: `no server of ${step.joins} was observed to check the join` }];
  const problems: Problem[] = [];
  const unreachable = joined.filter((o) => o.state === "unreachable");
  if (unreachable.length)
    problems.push({
      rule: "G5",
      detail: `cannot read ${unreachable.map((o) => o.server).join(", ")} of ${step.joins}, whose member list must show ${cluster.name}`,
    });
  const mine = ctx.observations.find((o) => o.supercluster)?.supercluster;
  for (const o of joined) {
    if (o.state === "unreachable") continue;
    const members = o.superclusterMembers ?? [];
    if (!members.includes(cluster.name) || (mine !== undefined && o.supercluster !== mine)) {
      problems.push({
        rule: "D10",
        detail: `${cluster.name} sees itself in ${mine ?? "no supercluster"}, but ${o.server} (${step.joins}) lists ${o.supercluster ?? "no supercluster"} with ${members.join(", ") || "no member"}: ${cluster.name} is not a member of the supercluster it joined (a lost member)`,
      });
      break;
    }
  }
  return problems;
}

/** D8: what a finished cluster or server upgrade must show; empty when all is well. */
export function verifyProblems(ctx: StepContext, target: string): Problem[] {
  const { cluster, observations: obs } = ctx;
  const problems: Problem[] = [];
  const unreachable = obs.filter((o) => o.state === "unreachable");
  if (unreachable.length)
    problems.push({ rule: "G5", detail: `cannot reach ${unreachable.map((o) => o.server).join(", ")}` });
  if (cluster.pack !== "polycom-dma") {
    const mode = ctx.step.pass?.mode;
    for (const o of obs) {
      if (o.state === "unreachable") continue;
      if (!onTarget(o, target))
        problems.push({ rule: "M9", detail: `${o.server} runs ${o.release}, not ${target}` });
      else if (!onTarget(o, target, mode))
        problems.push({
          rule: "M11",
          detail: `${o.server} runs in mode ${o.mode ?? "(none reported)"}, not ${mode}`,
        });
      else if (o.state === "isolated")
        problems.push({ rule: "M3", detail: `${o.server} is isolated from the matrix` });
      else if (o.state !== "running")
        problems.push({ rule: "M9", detail: `${o.server} is ${o.state}, not running` });
      else if (o.members && !o.members.includes(o.server))
        problems.push({ rule: "M9", detail: `${o.server} has not rejoined the matrix` });
    }
    return problems;
  }
  const reachable = obs.filter((o) => o.state !== "unreachable");
  const loginFails = reachable.filter((o) => o.login === false || o.state === "installing");
  if (loginFails.length)
    problems.push({
      rule: "D8a",
      detail: `login still fails on ${loginFails.map((o) => o.server).join(", ")}`,
    });
  const expected = cluster.servers.map((s) => s.name);
  for (const o of reachable) {
    if (o.login === false) continue;
    const shown = o.dashboard ?? expected;
    const missing = expected.filter((n) => !shown.includes(n));
    if (missing.length) {
      problems.push({
        rule: "D8b",
        detail: `the dashboard on ${o.server} shows ${shown.length} server(s) of ${expected.length}; missing ${missing.join(", ")}`,
      });
      break;
    }
  }
  // D8: "a successful two-server cluster reports itself clustered, both servers up, and the private
  // link between them working" (an appliance that reports no `clustered` field is not judged on it)
  if (!problems.some((p) => p.rule === "D8a" || p.rule === "D8b")) {
    const unclustered = reachable.filter((o) => o.login !== false && o.clustered === false);
    if (unclustered.length)
      problems.push({
        rule: "D8",
        detail: `${cluster.name} does not report itself clustered on ${unclustered.map((o) => o.server).join(", ")} (the private link between its servers is not working)`,
      });
  }
  const versions = new Map<string, string>();
  for (const o of reachable) {
    for (const [server, v] of Object.entries(o.packages ?? { [o.server]: o.release }))
      versions.set(server, v);
  }
  const distinct = new Set(versions.values());
  if (
    distinct.size > 1 ||
    (distinct.size === 1 &&
      !distinct.has(target) &&
      [...distinct].every((v) => compareVersions(v, target) !== 0))
  ) {
    problems.push({
      rule: "D8c",
      detail: `package versions differ: ${[...versions].map(([s, v]) => `${s} ${v}`).join(", ")}${distinct.size === 1 ? ` (expected ${target})` : ""}`,
    });
  }
  return problems;
}

/** M3: servers the matrix has isolated (old-release servers that stopped sending updates). */
export function isolatedServers(obs: ServerObservation[]): string[] {
  return obs.filter((o) => o.state === "isolated").map((o) => o.server);
}

/**
 * M3's interpretation (docs/rules.md): servers on the new release must be a top segment of the
 * address order. Returns the running new-release servers that have a running old-release server
 * with a higher address: the ones upgraded out of order. The rule's own function decides
 * (rules/predicates.ts m3OutOfOrder).
 */
export function outOfOrder(
  cluster: Cluster,
  obs: ServerObservation[],
  target: string,
  mode?: string,
): string[] {
  return m3OutOfOrder(cluster, members(obs, target, mode), "running");
}

/** Stopped servers on the new release with a running old-release server of higher address: an M3 correction under way. */
export function stoppedOutOfOrder(
  cluster: Cluster,
  obs: ServerObservation[],
  target: string,
  mode?: string,
): string[] {
  return m3OutOfOrder(cluster, members(obs, target, mode), "stopped");
}

function members(obs: ServerObservation[], target: string, mode: string | undefined): M3Member[] {
  return obs.map((o) => ({ server: o.server, onTarget: onTarget(o, target, mode), state: o.state }));
}
