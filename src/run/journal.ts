import type { Escalation, RunEvent } from "../events/types.ts";

/** A step's standing, derived from the journal alone: what a restarted engine knows. */
export interface StepStanding {
  status: "pending" | "done" | "failed";
  /** Intents recorded (driver calls begun). */
  attempts: number;
  /** The server accepted the last intent's action (it may still be running, e.g. an install). */
  accepted: boolean;
  backupsBefore?: number;
  startedAt?: string;
  doneAt?: string;
}

export interface JournalView {
  steps: Map<string, StepStanding>;
  lastEscalation?: Escalation;
  lastSeq: number;
}

export function readJournal(events: RunEvent[], stepIds: string[]): JournalView {
  const steps = new Map<string, StepStanding>(
    stepIds.map((id) => [id, { status: "pending", attempts: 0, accepted: false }]),
  );
  let lastEscalation: Escalation | undefined;
  let lastSeq = 0;
  for (const e of events) {
    lastSeq = e.seq;
    if (e.type === "escalation") lastEscalation = e.escalation;
    if (!("step" in e) || typeof e.step !== "string") continue;
    const s = steps.get(e.step);
    if (!s) continue;
    switch (e.type) {
      case "step.intent":
        s.attempts += 1;
        s.accepted = false;
        s.status = "pending";
        s.startedAt ??= e.at;
        if ("backupsBefore" in e && typeof e.backupsBefore === "number") s.backupsBefore = e.backupsBefore;
        break;
      case "step.accepted":
        s.accepted = true;
        break;
      case "step.done":
        s.status = "done";
        s.doneAt = e.at;
        break;
      case "step.failed":
        s.status = "failed";
        break;
    }
  }
  return { steps, ...(lastEscalation ? { lastEscalation } : {}), lastSeq };
}
