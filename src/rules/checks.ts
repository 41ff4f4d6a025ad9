import type { Step } from "../model/step.ts";
import type { RuleContext } from "./context.ts";
import { type Blocker, type Decision, preconditionBlockers, preconditions } from "./preconditions.ts";
import { checkDomain } from "./predicates.ts";
import { type FleetState, startStep } from "./state.ts";

/**
 * The rule checks the planner, the verifier and the engine ask: the step preconditions
 * (rules/preconditions.ts) and the state predicates (rules/predicates.ts), one named function
 * per rule, and `canStart`, which asks both for one step.
 */
export {
  type Blocker,
  type ClusterPrecondition,
  CLUSTER_PRECONDITIONS,
  type Decision,
  preconditionBlockers,
  preconditions,
  SERVER_PRECONDITIONS,
  type ServerPrecondition,
} from "./preconditions.ts";
export {
  checkDomain,
  checkDomainInto,
  checkState,
  clusterServes,
  domainCapacity,
  formatFraction,
  type RuleViolation,
  serverServes,
} from "./predicates.ts";

/**
 * May `step` start now? Checks its preconditions, then whether the state while it runs keeps every
 * rule of its capacity domain. The state is left as it was. When it may not, `rule` and `reason`
 * are the first rule that holds it back and `blockers` every one: each precondition that fails,
 * then each state predicate its start would break (M1 and G3 often both).
 */
export function canStart(state: FleetState, step: Step, ctx: RuleContext): Decision {
  const pre = preconditions(state, ctx, step);
  const blockers: Blocker[] = pre.ok ? [] : preconditionBlockers(state, ctx, step);
  const undo = startStep(state, step);
  try {
    for (const v of checkDomain(state, ctx, ctx.domainOf.get(step.cluster) ?? step.cluster))
      if (!blockers.some((b) => b.rule === v.rule && b.reason === v.detail))
        blockers.push({ rule: v.rule, reason: v.detail });
  } finally {
    undo();
  }
  const [first] = blockers;
  return first ? { ok: false, rule: first.rule, reason: first.reason, blockers } : { ok: true };
}
