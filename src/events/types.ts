import type { RuleId } from "../model/step.ts";
import type { Plan } from "../plan/types.ts";

/**
 * The one typed event stream. The engine emits; the journal stores; the terminal view, the JSON
 * lines output, SSE, metrics and the dashboard only read. `seq` is the journal's sequence number
 * (the SSE event id), `at` an ISO time.
 */
export const RUN_STATES = [
  "pending",
  "running",
  "paused",
  "awaiting-confirmation",
  "escalated",
  "aborting",
  "aborted",
  "completed",
] as const;

export type RunState = (typeof RUN_STATES)[number];

/** The states a run ends in: the one list of them (store, engine, status, API, metrics, page). */
export const FINISHED_STATES: readonly RunState[] = ["aborted", "completed"];

export interface Escalation {
  /** Catalog code, e.g. ROLLGATE_E_ESCALATED. */
  code: string;
  /**
   * The rule that called for a person: D8a, D8b, D8c, M3, …; none when no rule did (an internal
   * error: `code` then says what it was, e.g. ROLLGATE_E_INTERNAL).
   */
  rule?: RuleId;
  step?: string;
  cluster?: string;
  server?: string;
  /** What rollgate saw. */
  detail: string;
  /** The manual's own words for this case. */
  manual: string;
  /**
   * Where the run ended (the engine's final escalation): the clusters the halted work leaves out of
   * service, each with the rule that holds it there and why.
   */
  outOfService?: { cluster: string; rule?: RuleId; code?: string; reason: string }[];
}

export type RunEventBody =
  | { type: "run.created"; fleet: string; target: string; strategy: string; steps: number; plan?: Plan }
  | { type: "run.state"; state: RunState; reason?: string }
  | {
      type: "step.waiting";
      step: string;
      rule: RuleId;
      reason: string;
      /** Every rule that holds the step back (rules/checks.ts canStart), when more than one. */
      blockers?: Array<{ rule: RuleId; reason: string }>;
    }
  | {
      type: "step.intent";
      step: string;
      action: string;
      cluster: string;
      server?: string;
      attempt: number;
      backupsBefore?: number;
    }
  | { type: "step.accepted"; step: string }
  | { type: "step.started"; step: string; action: string; cluster: string; server?: string }
  | { type: "step.done"; step: string; observed: boolean; seconds: number }
  | { type: "step.failed"; step: string; code?: string; rule?: RuleId; message: string }
  | { type: "escalation"; escalation: Escalation }
  | { type: "confirmation.needed"; step: string; rule: RuleId; reason: string }
  | { type: "confirmation.given"; step: string; by: string }
  | { type: "observation"; cluster: string; server: string; state: string; release: string }
  | { type: "capacity"; fraction: number; floor: number }
  | { type: "log"; level: "info" | "warn"; message: string }
  /** A rule's figure beyond its bound, not a reason to stop (M6: a mixed-release window past maxMixedWindow). */
  | { type: "alert"; rule: RuleId; cluster?: string; message: string }
  /**
   * A webhook notification that could not be delivered (docs/notifications.md): the URL without
   * credentials or query, the notification's kind and id, the attempts and the last error. Never a secret.
   */
  | { type: "notify.failed"; url: string; kind: string; id: string; attempts: number; error: string }
  /** An operator asked to abort (`rollgate abort`); with returnToService, the engine brings back what the run took out (docs/engine.md). */
  | { type: "abort.requested"; by: string; returnToService: boolean }
  /** The end of an abort with return to service: what came back, and what stays out and why (rule ids). */
  | {
      type: "abort.returned";
      /** DMA clusters and Matrix servers returned to service. */
      returned: string[];
      leftOutOfService: AbortLeftOut[];
      /** Why each one returned (rule ids): Matrix servers (M3, M4, M5). */
      returnedWhy?: AbortReturned[];
    };

/** A cluster an abort with return to service leaves out of service, the rule that holds it and what to do. */
export interface AbortLeftOut {
  cluster: string;
  /** A Matrix server (an abort returns Matrix servers one by one: M1–M5). */
  server?: string;
  /** The rule that holds it; none when an error no rule names does (`code` then says which). */
  rule?: RuleId;
  code?: string;
  reason: string;
}

/** A cluster or Matrix server an abort with return to service brought back, with the rules that let it. */
export interface AbortReturned {
  cluster: string;
  server?: string;
  rules: RuleId[];
  reason: string;
}

export type RunEvent = RunEventBody & { seq: number; runId: string; at: string };
export type RunEventType = RunEventBody["type"];
