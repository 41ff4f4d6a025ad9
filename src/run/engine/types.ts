import type { Driver } from "../../drivers/driver.ts";
import type { Escalation, RunEvent, RunState } from "../../events/types.ts";
import type { RollgateError } from "../../model/errors.ts";
import type { Cluster, Fleet } from "../../model/fleet.ts";
import type { Step } from "../../model/step.ts";
import type { Plan } from "../../plan/types.ts";
import type { Store } from "../../store/types.ts";
import type { Gate } from "../gate.ts";

/**
 * The engine: reconciles the plan against the observed fleet, one durable journal entry at a time.
 *
 * - Observe before acting (G5): a step whose effect is already there is recorded as done.
 * - Intent is journaled (synchronously, to disk) before the driver is called, outcome after, so a
 *   restarted engine knows where it was: a step with an intent and no outcome is observed again,
 *   and an install still under way is waited for, never started twice.
 * - A step starts when its dependencies are done and the rules allow it (the gate); the rule that
 *   makes it wait is recorded.
 * - An escalation starts no new step, lets running steps end, records the reason with its rule id
 *   and the manual's words, and ends the engine with state "escalated" (exit 1).
 * - Pause, resume and abort arrive through the store (from another process or the API).
 */
export interface EngineOptions {
  store: Store;
  runId: string;
  fleet: Fleet;
  plan: Plan;
  driverFor: (cluster: Cluster) => Driver;
  gate?: Gate;
  /** Escalate past k × a step's estimate (D8a); default 2. */
  escalateFactor?: number;
  /**
   * Called at a point of no return (G4) that is not yet confirmed. "yes" confirms it; "wait" keeps
   * the run waiting for a confirmation through the store (dashboard); "halt" (no way to confirm)
   * halts before it once everything else that can run has ended; "no" (an operator declined) halts
   * the run now: no new step starts and nothing more is asked, running steps end, and the run
   * ends awaiting confirmation of that step.
   */
  confirm?: (step: Step) => Promise<"yes" | "wait" | "halt" | "no">;
  /** Called for every event the engine writes (the terminal view, the JSON lines output). */
  onEvent?: (event: RunEvent) => void;
  /** How often the run's state is re-read from the store, ms. */
  tickMs?: number;
  /** Apply the manual's correction to an out-of-order matrix upgrade (M3) instead of escalating. */
  correctOutOfOrder?: boolean;
  /** Time source; tests and the lab may compress it. */
  now?: () => number;
  /**
   * The run's lease (run/lease.ts): asked before every driver action. Once it is lost the engine
   * starts no action, writes nothing more, and run() throws ROLLGATE_E_LEASE_LOST.
   */
  lease?: LeaseGuard;
}

/** What the engine asks of the lease its shell holds (docs/ha.md). */
export interface LeaseGuard {
  /** Resolves if this engine may start a driver action now; throws ROLLGATE_E_LEASE_LOST if not. */
  assure(): Promise<void>;
  /** The error the lease was lost with, once it is. */
  lost(): RollgateError | undefined;
  /** A fenced write was refused: the lease is lost. */
  markLost(e: RollgateError): void;
}

export interface EngineResult {
  state: RunState;
  escalation?: Escalation;
  /** The step waiting for a G4 confirmation, when the engine halted for one. */
  needsConfirmation?: string;
}
