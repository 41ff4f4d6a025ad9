import type { RuleId, Step } from "../model/step.ts";

/**
 * The rule check the engine makes before starting a step: allow, or deny naming the rule
 * ("blocked by M4: …"). The gate keeps its own picture of the fleet in step with the engine:
 * `started` when a step begins, `finished` when it is done.
 */
export type GateVerdict =
  | { ok: true }
  | {
      ok: false;
      rule: RuleId;
      reason: string;
      /** Every rule that holds the step back, the first (rule, reason) included, when known. */
      blockers?: ReadonlyArray<{ rule: RuleId; reason: string }>;
    };

export interface Gate {
  check(step: Step): GateVerdict;
  /**
   * After an escalation: may `step` start beside the failed steps, whichever way each failed (its
   * start effect only, or, for an action whose effect may be in place although it failed, its
   * whole effect)? Allowed only when every such branch allows it.
   */
  checkBeside?(step: Step, failed: readonly Step[]): GateVerdict;
  /**
   * What the engine observed of a server that no step of the run is acting on at the moment: a
   * server found stopped or unreachable, or disabled (a matrix server whose virtual services were
   * moved away by hand), is counted out of service (G3, G5) until it is seen serving again.
   * `asked` is `mark()` taken when the observation was asked for: an observation older than the
   * server's last step change is ignored. `disabled` is undefined when the driver does not say.
   */
  observed?(server: string, running: boolean, asked: number, disabled?: boolean): void;
  mark?(): number;
  /**
   * M3 correction: the server upgraded out of order is stopped on purpose and started last; until
   * its own start begins it is not counted as a server being upgraded (M1) nor out of service.
   */
  setAside?(server: string): void;
  started(step: Step): void;
  finished(step: Step): void;
}
