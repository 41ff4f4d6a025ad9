import { foldJournal, type RunAlert, type StepStanding } from "../events/fold.ts";
import type { Escalation, RunEvent } from "../events/types.ts";
import type { Plan } from "../plan/types.ts";

export type { StepStanding } from "../events/fold.ts";

/** What a restarted engine knows, from the journal alone: the one fold's (events/fold.ts) standing of each step. */
export interface JournalView {
  steps: Map<string, StepStanding>;
  lastEscalation?: Escalation;
  /** Alerts raised (M6), in order. */
  alerts: RunAlert[];
  lastSeq: number;
}

export function readJournal(events: readonly RunEvent[], plan: Plan): JournalView {
  const view = foldJournal(plan, events);
  return {
    steps: view.standing,
    ...(view.lastEscalation ? { lastEscalation: view.lastEscalation } : {}),
    alerts: view.alerts,
    lastSeq: view.lastSeq,
  };
}
