import type { Fleet } from "../model/fleet.ts";
import { ruleContext } from "../rules/context.ts";
import { initialState } from "../rules/state.ts";
import { msToSeconds } from "./time.ts";
import type { Step } from "../model/step.ts";
import type { Verification, Violation } from "./types.ts";
import { finalChecks } from "./verify-final.ts";
import { replayDomain } from "./verify-replay.ts";
import { collectInto } from "./verify-report.ts";
import { checkStructure } from "./verify-structure.ts";

/**
 * The verifier: replays a plan over the abstract fleet (rules/state.ts) in time order and checks
 * every rule at every instant (docs/planning.md, "The verifier").
 *
 * - Times are read as integer milliseconds (plan/time.ts): a step's start and end must be whole
 *   milliseconds and its end after its start; every comparison is then exact.
 * - Domains (a supercluster, else a cluster) share no rule, so each is replayed on its own.
 * - At each instant, the steps that end are finished, and the state is checked ("after"); then
 *   the steps that start are checked against their preconditions (order, procedure, join gates)
 *   and started, and the state is checked again ("during").
 * - Failed branches: a step that fails leaves the fleet in its "during" state (started, not done),
 *   which the instant's check covers, and the engine halts there. For steps whose effect may be in
 *   place although they report failure (start, leave, join, reassign, restore), that state is
 *   built too, checked ("failed") and undone.
 * - G4: a step whose start, end or failure passes a point of no return (M4: the matrix has no
 *   old-release server left; the old supercluster has no member left) must be marked.
 * - At the end, every upgraded server and cluster is on its target, in service, and every
 *   territory has its original assignment again.
 */
export interface VerifyResult extends Verification {
  /** Lowest fraction of capacity in service in any domain at any instant. */
  minCapacity: number;
  /** Seconds during which at least one domain had nothing in service. */
  outageSeconds: number;
}

export function verifyPlan(
  fleet: Fleet,
  steps: readonly Step[],
  targets: ReadonlyMap<string, string>,
  options: { capacityFloor?: number } = {},
): VerifyResult {
  const ctx = ruleContext(fleet, targets);
  if (options.capacityFloor !== undefined)
    (ctx as { capacityFloor: number }).capacityFloor = options.capacityFloor;
  const state = initialState(fleet, targets, steps);
  const violations: Violation[] = [];
  const report = collectInto(violations);
  const { startMs, endMs, byDomain } = checkStructure(steps, ctx, report);

  let statesChecked = 0;
  let minCapacity = 1;
  const outages: Array<[number, number]> = [];
  for (const [domain, idxs] of byDomain) {
    const r = replayDomain(state, ctx, domain, steps, startMs, endMs, idxs, report);
    statesChecked += r.states;
    minCapacity = Math.min(minCapacity, r.minCapacity);
    outages.push(...r.outages);
  }
  statesChecked += finalChecks(state, ctx, report);
  return {
    ok: violations.length === 0,
    statesChecked,
    violations,
    minCapacity,
    outageSeconds: msToSeconds(unionLength(outages)),
  };
}

function unionLength(intervals: Array<[number, number]>): number {
  if (intervals.length === 0) return 0;
  const sorted = [...intervals].sort((a, b) => a[0] - b[0]);
  let total = 0;
  let [s, e] = sorted[0]!;
  for (const [a, b] of sorted.slice(1)) {
    if (a > e) {
      total += e - s;
      s = a;
      e = b;
    } else e = Math.max(e, b);
  }
  return total + e - s;
}
