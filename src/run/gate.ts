import type { RuleId, Step } from "../plan/types.ts";

/**
 * The rule check the engine makes before starting a step: allow, or deny naming the rule
 * ("blocked by M4: …"). Built from the rule packs in rules/ (see run/rule-gate.ts).
 */
export type GateVerdict = { ok: true } | { ok: false; rule: RuleId; reason: string };

export interface Gate {
  check(step: Step, isDone: (stepId: string) => boolean): GateVerdict;
}
