import { formatDuration } from "../model/duration.ts";
import { RollgateError } from "../model/errors.ts";
import type { Cluster, Fleet } from "../model/fleet.ts";
import { STRATEGIES, type Strategy } from "../model/step.ts";
import { assemble } from "./assemble.ts";
import { leftAlone, resolveLimit } from "./limit.ts";
import type { Plan } from "./types.ts";
import { analyse, type Upgrade } from "./upgrade.ts";
import { cmpVersions } from "./versions.ts";

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
  /** `--limit` values: clusters, superclusters, packs; only those are planned (plan/limit.ts). */
  limit?: readonly string[];
}

/** The upgrade, within the limit when there is one. */
function analyseWithin(fleet: Fleet, options: PlanOptions): Upgrade {
  if (options.limit === undefined || options.limit.length === 0) return analyse(fleet, options.to);
  const limit = resolveLimit(fleet, options.limit);
  const u = analyse(fleet, options.to, limit);
  if (u.targets.size === 0)
    throw new RollgateError(
      "ROLLGATE_E_PLAN_BAD_LIMIT",
      `--limit ${options.limit.join(" --limit ")}: no cluster it names has a --to target; nothing to plan`,
    );
  return u;
}

/** Records the limit in the plan: what it was, and every cluster it leaves alone. */
function markLimit(plan: Plan, fleet: Fleet, options: PlanOptions): Plan {
  if (options.limit === undefined || options.limit.length === 0) return plan;
  plan.limit = options.limit.map((l) => l.trim());
  plan.leftAlone = leftAlone(fleet, resolveLimit(fleet, options.limit), plan.targets);
  return plan;
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
  const u = analyseWithin(fleet, options);
  let plan: Plan;
  if (choice === "auto") {
    const candidates: Plan[] = [];
    let firstError: unknown;
    for (const s of u.applicable) {
      // M12's alternatives only when asked: a full outage of a matrix, or half of it out at once
      if (s === "all-at-once" || s === "two-halves") continue;
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
    // all-at-once's own refusal names the matrix and the floor (plan/rolling.ts, planAllAtOnce)
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
  return markLimit(plan, fleet, options);
}

/** Every applicable strategy side by side (`rollgate plan --compare`). */
export function compareStrategies(fleet: Fleet, options: PlanOptions): StrategyComparison[] {
  const u = analyseWithin(fleet, options);
  return u.applicable.map((s): StrategyComparison => {
    const floor = fleet.defaults.capacityFloor;
    const relaxed = (s === "maintenance-window" || s === "all-at-once") && floor > 0;
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
      ...(relaxed
        ? {
            reason: `a full outage (${s === "all-at-once" ? "M12" : "D5"}) breaks the capacity floor ${floor}`,
          }
        : {}),
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

/** The rollback of a matrix part way through its upgrade, before its point of no return (plan/rollback.ts). */
export { planRollback, type RollbackOptions } from "./rollback.ts";
