import { formatDuration } from "../model/duration.ts";
import { RollgateError } from "../model/errors.ts";
import { type Cluster, type Fleet, type Supercluster, superclusterLineage } from "../model/fleet.ts";
import { dmaLineages } from "../rules/context.ts";
import { explainStep } from "./explain.ts";
import {
  isWindowRest,
  planMaintenanceWindow,
  planPartDoneSupercluster,
  planStandaloneDma,
  planSuperclusterRolling,
} from "./dma.ts";
import { type DomainPlan, planRollingCluster } from "./rolling.ts";
import { resolveTargets } from "./targets.ts";
import { msToSeconds } from "./time.ts";
import { STRATEGIES, type Step, type Strategy } from "../model/step.ts";
import type { Plan } from "./types.ts";
import { cmpVersions, compatible } from "./versions.ts";
import { verifyPlan } from "./verify.ts";

/**
 * The planner: fleet + target(s) + strategy → a verified Plan (docs/planning.md).
 *
 * Every capacity domain (a supercluster, else a cluster) is planned on its own from time 0:
 * domains share no rule, so they run in parallel (G3 applies per domain). The plan's duration is
 * the longest domain's, and its lower bound the largest domain bound.
 */
export interface PlanOptions {
  /** `--to` values: "3.5.1", or selectors "CLUSTER=3.5.1", "sc-east=10.1.0", "polycom-dma=10.1.0". */
  to: string | readonly string[];
  /** "auto" (default) or one of STRATEGIES. */
  strategy?: string;
  /** Fill each step's `explain`. */
  explain?: boolean;
}

export interface StrategyComparison {
  strategy: Strategy;
  ok: boolean;
  /** Why the strategy cannot be used, when it cannot. */
  reason?: string;
  seconds?: number;
  lowerBoundSeconds?: number;
  minCapacity?: number;
  outageSeconds?: number;
  mixedWindowSeconds?: number;
  keepsFloor?: boolean;
  verified?: boolean;
  statesChecked?: number;
}

interface Upgrade {
  fleet: Fleet;
  targets: Map<string, string>;
  label: string;
  /** DMA superclusters (with their clusters) whose upgrade is incompatible (D2), or compatible. */
  incompatible: Array<{ name: string; clusters: Cluster[] }>;
  compatible: Array<{ name: string; clusters: Cluster[] }>;
  /**
   * DMA superclusters part way through an incremental upgrade (G5, D6): the lineage's
   * superclusters (old and new) and every cluster of it, in the new supercluster, in the old one
   * or in none between them (rules/context.ts `dmaLineages`).
   */
  partDone: Array<{ lineage: string; superclusters: Supercluster[]; clusters: Cluster[] }>;
  standaloneDma: Cluster[];
  rolling: Cluster[];
  applicable: Strategy[];
}

function analyse(fleet: Fleet, to: string | readonly string[]): Upgrade {
  const { byCluster, label } = resolveTargets(fleet, typeof to === "string" ? [to] : to);
  const u: Upgrade = {
    fleet,
    targets: byCluster,
    label,
    incompatible: [],
    compatible: [],
    partDone: [],
    standaloneDma: [],
    rolling: [],
    applicable: [],
  };
  const byName = new Map(fleet.clusters.map((c) => [c.name, c]));
  const lineages = dmaLineages(fleet, byCluster);
  const seen = new Set<string>();
  for (const sc of fleet.superclusters) {
    const clusters = sc.clusters.map((n) => byName.get(n)!);
    // a lineage with two superclusters (sc-east and sc-east@10.1.0), or with clusters between
    // them, is part way through its upgrade: planned from where it stands (G5); so is one that
    // every member left (an aborted maintenance window, D5: none is a member now)
    const lineage = superclusterLineage(sc.name);
    const scs = fleet.superclusters.filter((x) => superclusterLineage(x.name) === lineage);
    const between = fleet.clusters.filter(
      (c) => c.supercluster === undefined && lineages.get(c.name) === lineage,
    );
    const first = clusters[0] ?? between[0];
    const target = first && byCluster.get(first.name);
    if (target === undefined) continue;
    if (scs.length > 1 || between.length > 0) {
      if (seen.has(lineage)) continue;
      seen.add(lineage);
      // the new supercluster's clusters first (its founder leads), then the old one's, then the rest
      const newName = `${lineage}@${target}`;
      const ordered = [...scs].sort((a, b) => Number(b.name === newName) - Number(a.name === newName));
      u.partDone.push({
        lineage,
        superclusters: scs,
        clusters: [...ordered.flatMap((x) => x.clusters.map((n) => byName.get(n)!)), ...between],
      });
      continue;
    }
    const patch = clusters.every((c) => c.servers.every((s) => compatible(fleet, c, s.version, target)));
    (patch ? u.compatible : u.incompatible).push({ name: sc.name, clusters });
  }
  for (const c of fleet.clusters) {
    if (!byCluster.has(c.name) || c.supercluster !== undefined || lineages.has(c.name)) continue;
    if (c.pack === "polycom-dma") u.standaloneDma.push(c);
    else u.rolling.push(c);
  }
  if (u.incompatible.length > 0) u.applicable = ["incremental", "maintenance-window"];
  // the rest of a maintenance window (every cluster of each lineage out of every supercluster, D5)
  // is what either strategy carries on with: the operator's own --strategy is not refused
  else if (u.partDone.length > 0 && u.partDone.every((p) => isWindowRest(p.clusters)))
    u.applicable = ["maintenance-window", "incremental"];
  else if (u.partDone.length > 0) u.applicable = ["incremental"];
  else if (u.compatible.length > 0 || u.standaloneDma.length > 0) u.applicable = ["patch"];
  else u.applicable = ["rolling"];
  return u;
}

/**
 * A plan starts from the fleet the file describes. If that fleet already breaks a rule (servers
 * upgraded out of order, M3; incompatible releases side by side, G1/D2; …), no plan can keep every
 * instant within the rules: that is bad input, refused with the rule and, for M3, the manual's
 * correction, not reported as a planner bug. The verifier finds it at no extra cost: it checks
 * each domain's state before the first step (violations with no step, at 0 s, "after").
 */
function refuseBrokenStart(plan: Plan): void {
  const violations = plan.verification.violations.filter(
    (v) => v.step === undefined && v.branch === "after" && v.at === 0,
  );
  if (violations.length === 0) return;
  const m3 = violations.some((v) => v.rule === "M3");
  const hint = m3
    ? ` The manual's correction (M3): stop the matrix software on the server upgraded out of order, upgrade the remaining servers in order, and start it last. To have rollgate do it, record that server with the old release in the fleet file (the plan then upgrades it in its turn of the address order) and run \`rollgate apply … --correct-out-of-order\`: the engine finds it on the new release, keeps it stopped until every server above it is upgraded, and starts it in its turn.`
    : " Bring the fleet back within the rules (or correct the fleet file if it is wrong), then plan again.";
  const list = violations
    .slice(0, 5)
    .map((v) => `${v.rule}: ${v.detail}`)
    .join("; ");
  throw new RollgateError(
    "ROLLGATE_E_PLAN_FLEET_BREAKS_RULES",
    `the fleet as the file describes it already breaks the rules: ${list}${violations.length > 5 ? ` (and ${violations.length - 5} more)` : ""}.${hint}`,
    { details: { violations } },
  );
}

function withFloor(fleet: Fleet, capacityFloor: number): Fleet {
  return { ...fleet, defaults: { ...fleet.defaults, capacityFloor } };
}

/** Builds (without verifying) the plan of one strategy; every time in integer ms (plan/time.ts). */
function build(
  u: Upgrade,
  strategy: Strategy,
  fleet: Fleet,
): { steps: Step[]; notes: string[]; ms: number; lowerBoundMs: number } {
  const parts: DomainPlan[] = [];
  for (const c of u.rolling) parts.push(planRollingCluster(fleet, c, u.targets.get(c.name)!));
  for (const c of u.standaloneDma) parts.push(planStandaloneDma(fleet, c, u.targets.get(c.name)!));
  const scByName = new Map(fleet.superclusters.map((s) => [s.name, s]));
  for (const { name, clusters } of u.compatible) {
    const sc = scByName.get(name)!;
    parts.push(planSuperclusterRolling(fleet, sc, clusters, u.targets.get(clusters[0]!.name)!, "patch"));
  }
  for (const { name, clusters } of u.incompatible) {
    const sc = scByName.get(name)!;
    const target = u.targets.get(clusters[0]!.name)!;
    parts.push(
      strategy === "maintenance-window"
        ? planMaintenanceWindow(fleet, sc, clusters, target)
        : planSuperclusterRolling(fleet, sc, clusters, target, "incremental"),
    );
  }
  // a supercluster part way through its upgrade goes on with the incremental procedure it was
  // under (D6), whatever the strategy of the others
  for (const { lineage, superclusters, clusters } of u.partDone)
    parts.push(
      planPartDoneSupercluster(fleet, lineage, superclusters, clusters, u.targets.get(clusters[0]!.name)!),
    );
  let steps: Step[];
  if (parts.length === 1) steps = parts[0]!.steps;
  else {
    // what a stable sort by start gives (domains keep their relative order), without sorting
    // every step: steps grouped by start in plan order, the groups in ascending start (a large
    // fleet has few distinct starts: its domains share their estimates)
    const byStart = new Map<number, Step[]>();
    for (const p of parts)
      for (const s of p.steps) {
        const g = byStart.get(s.start);
        if (g === undefined) byStart.set(s.start, [s]);
        else g.push(s);
      }
    steps = [];
    for (const t of [...byStart.keys()].sort((a, b) => a - b)) for (const s of byStart.get(t)!) steps.push(s);
  }
  return {
    steps,
    notes: parts.flatMap((p) => p.notes ?? []),
    ms: parts.reduce((m, p) => Math.max(m, p.ms), 0),
    lowerBoundMs: parts.reduce((m, p) => Math.max(m, p.lowerBoundMs), 0),
  };
}

/** M6/D6: the longest time (ms) a cluster (matrix, generic) or supercluster (DMA) runs mixed releases. */
function mixedWindow(fleet: Fleet, steps: readonly Step[]): number {
  const span = new Map<string, [number, number]>();
  const scOf = new Map(
    fleet.clusters.map((c) => [c.name, c.supercluster && superclusterLineage(c.supercluster)]),
  );
  for (const s of steps) {
    if (s.action !== "install") continue;
    const key = scOf.get(s.cluster) ?? s.cluster;
    const cur = span.get(key);
    if (!cur) span.set(key, [s.end, s.end]);
    else {
      if (s.end < cur[0]) cur[0] = s.end;
      if (s.end > cur[1]) cur[1] = s.end;
    }
  }
  let m = 0;
  for (const [a, b] of span.values()) m = Math.max(m, b - a);
  return m;
}

function assemble(u: Upgrade, strategy: Strategy, fleet: Fleet, explain: boolean, floor?: number): Plan {
  const b = build(u, strategy, fleet);
  const mixedMs = mixedWindow(fleet, b.steps);
  // the Plan speaks seconds: ms / 1000, which the verifier reads back to the same ms
  for (const s of b.steps) {
    s.start = msToSeconds(s.start);
    s.end = msToSeconds(s.end);
  }
  const v = verifyPlan(fleet, b.steps, u.targets, floor === undefined ? {} : { capacityFloor: floor });
  if (explain) for (const s of b.steps) s.explain = explainStep(s, fleet);
  return {
    fleet: fleet.name,
    target: u.label,
    targets: Object.fromEntries(u.targets),
    strategy,
    capacityFloor: fleet.defaults.capacityFloor,
    steps: b.steps,
    estimate: {
      seconds: msToSeconds(b.ms),
      lowerBoundSeconds: msToSeconds(b.lowerBoundMs),
      minCapacity: Math.floor(v.minCapacity * 100 + 1e-9) / 100,
      outageSeconds: v.outageSeconds,
      mixedWindowSeconds: msToSeconds(mixedMs),
    },
    verification: { ok: v.ok, statesChecked: v.statesChecked, violations: v.violations },
    ...(b.notes.length > 0 ? { findings: b.notes } : {}),
  };
}

function checkStrategyName(name: string): Strategy | "auto" {
  if (name === "auto" || (STRATEGIES as readonly string[]).includes(name)) return name as Strategy | "auto";
  throw new RollgateError(
    "ROLLGATE_E_PLAN_UNKNOWN_STRATEGY",
    `unknown strategy "${name}": expected auto, ${STRATEGIES.join(", ")}`,
  );
}

function notApplicable(u: Upgrade, s: Strategy): RollgateError {
  return new RollgateError(
    "ROLLGATE_E_PLAN_STRATEGY_NOT_APPLICABLE",
    `strategy ${s} does not apply to this upgrade; applicable: ${u.applicable.join(", ")}` +
      (u.incompatible.length > 0
        ? ` (the upgrade of ${u.incompatible.map((x) => x.name).join(", ")} is incompatible, D2)`
        : ""),
  );
}

/**
 * Why `auto` took `plan` (docs/planning.md, "auto"): the shortest of the plans that keep the
 * floor. At floor 0 that is the maintenance window whenever it is shorter: a floor of 0 declares a
 * full outage acceptable, and D5 is the manual's "simplest and fastest" method; the reason says
 * that service is then fully unavailable, and how to keep some of it.
 */
export function autoChoice(plan: Plan, candidates: Plan[], floor: number): string {
  const others = candidates
    .filter((p) => p !== plan)
    .map((p) => `${p.strategy} ${formatDuration(p.estimate.seconds)}`);
  const against = others.length ? `, against ${others.join(", ")}` : ", the only one that keeps it";
  let why = `auto picks ${plan.strategy}: the shortest plan that keeps the capacity floor ${floor} (${formatDuration(plan.estimate.seconds)}${against})`;
  if (plan.strategy === "maintenance-window")
    why += `; capacityFloor 0 allows a full outage, so service is fully unavailable for ${formatDuration(plan.estimate.outageSeconds ?? 0)} (D5). To keep some service up, set defaults.capacityFloor above 0 or pass --strategy incremental (D6)`;
  return why;
}

function mwFloorError(u: Upgrade): RollgateError {
  return new RollgateError(
    "ROLLGATE_E_PLAN_FLOOR_UNREACHABLE",
    `maintenance-window takes ${u.incompatible.map((x) => x.name).join(", ")} fully out of service (D5), below the capacity floor ${u.fleet.defaults.capacityFloor} (G3); use --strategy incremental, or set defaults.capacityFloor: 0`,
  );
}

/**
 * Plans the upgrade and verifies it. Throws a RollgateError for bad input (exit 2) and
 * ROLLGATE_E_PLAN_VERIFY_FAILED when the verifier rejects the planner's own plan (a bug).
 */
export function planUpgrade(fleet: Fleet, options: PlanOptions): Plan {
  const choice = checkStrategyName(options.strategy ?? "auto");
  const u = analyse(fleet, options.to);
  let plan: Plan;
  if (choice === "auto") {
    const candidates: Plan[] = [];
    let firstError: unknown;
    for (const s of u.applicable) {
      if (s === "maintenance-window" && fleet.defaults.capacityFloor > 0) {
        firstError ??= mwFloorError(u);
        continue;
      }
      try {
        candidates.push(assemble(u, s, fleet, Boolean(options.explain)));
      } catch (e) {
        firstError ??= e;
      }
    }
    if (candidates.length === 0) throw firstError;
    plan = candidates.reduce((best, p) => (p.estimate.seconds < best.estimate.seconds ? p : best));
    plan.choice = autoChoice(plan, candidates, fleet.defaults.capacityFloor);
  } else {
    if (!u.applicable.includes(choice)) throw notApplicable(u, choice);
    if (choice === "maintenance-window" && fleet.defaults.capacityFloor > 0) throw mwFloorError(u);
    plan = assemble(u, choice, fleet, Boolean(options.explain));
  }
  if (!plan.verification.ok) {
    refuseBrokenStart(plan);
    const v = plan.verification.violations[0]!;
    throw new RollgateError(
      "ROLLGATE_E_PLAN_VERIFY_FAILED",
      `the plan breaks ${v.rule}${v.step ? ` at ${v.step}` : ""}: ${v.detail}`,
      { details: { violations: plan.verification.violations } },
    );
  }
  return plan;
}

/** Every applicable strategy side by side (`rollgate plan --compare`). */
export function compareStrategies(fleet: Fleet, options: PlanOptions): StrategyComparison[] {
  const u = analyse(fleet, options.to);
  return u.applicable.map((s): StrategyComparison => {
    const floor = fleet.defaults.capacityFloor;
    const relaxed = s === "maintenance-window" && floor > 0;
    let p: Plan;
    try {
      p = assemble(u, s, relaxed ? withFloor(fleet, 0) : fleet, false);
    } catch (e) {
      return { strategy: s, ok: false, reason: e instanceof Error ? e.message : String(e) };
    }
    refuseBrokenStart(p); // no strategy can start from a fleet that already breaks a rule
    return {
      strategy: s,
      ok: !relaxed && p.verification.ok,
      ...(relaxed ? { reason: `a full outage (D5) breaks the capacity floor ${floor}` } : {}),
      seconds: p.estimate.seconds,
      lowerBoundSeconds: p.estimate.lowerBoundSeconds,
      minCapacity: p.estimate.minCapacity,
      outageSeconds: p.estimate.outageSeconds ?? 0,
      mixedWindowSeconds: p.estimate.mixedWindowSeconds ?? 0,
      keepsFloor: p.estimate.minCapacity + 1e-9 >= floor,
      verified: p.verification.ok,
      statesChecked: p.verification.statesChecked,
    };
  });
}

/** Newest-first helper for callers that show the current release of a cluster. */
export function currentRelease(c: Cluster): string {
  return c.servers.reduce((v, s) => (cmpVersions(s.version, v) < 0 ? s.version : v), c.servers[0]!.version);
}
