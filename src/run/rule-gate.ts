import type { Fleet } from "../model/fleet.ts";
import type { Plan } from "../plan/types.ts";
import { canStart, finishStep, initialState, ruleContext, startStep } from "../rules/index.ts";
import type { Gate } from "./gate.ts";

/** Target release per cluster (a plan may upgrade packs to different releases). */
export function targetsOf(plan: Plan): Map<string, string> {
  return new Map(Object.entries(plan.targets));
}

/**
 * The engine's gate, built on the rule packs (rules/): the same predicates the planner built the
 * plan with and the verifier checked it with, asked again at run time.
 */
export function ruleGate(fleet: Fleet, plan: Plan): Gate {
  const targets = targetsOf(plan);
  const ctx = ruleContext(fleet, targets);
  const state = initialState(fleet, targets);
  const started = new Set<string>();
  return {
    check: (step) => canStart(state, step, ctx),
    started(step) {
      if (started.has(step.id)) return;
      started.add(step.id);
      startStep(state, step);
    },
    finished(step) {
      this.started(step);
      finishStep(state, step);
    },
  };
}
