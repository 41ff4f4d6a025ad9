import type { RuleId, Step } from "../plan/types.ts";

/**
 * The rule check the engine makes before starting a step: allow, or deny naming the rule
 * ("blocked by M4: …"). The gate keeps its own picture of the fleet in step with the engine:
 * `started` when a step begins, `finished` when it is done.
 */
export type GateVerdict = { ok: true } | { ok: false; rule: RuleId; reason: string };

export interface Gate {
  check(step: Step): GateVerdict;
  started(step: Step): void;
  finished(step: Step): void;
}
