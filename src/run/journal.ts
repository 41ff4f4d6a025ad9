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
  /** Alerts raised (M6), in order. */
  alerts: { rule: string; cluster?: string; message: string; at: string }[];
  lastSeq: number;
}

export function readJournal(events: RunEvent[], stepIds: string[]): JournalView {
  const steps = new Map<string, StepStanding>(
    stepIds.map((id) => [id, { status: "pending", attempts: 0, accepted: false }]),
  );
  let lastEscalation: Escalation | undefined;
  // the escalation a halt is reported by: the first since the run last ran, or the engine's final
  // word on it (with the clusters it leaves out of service)
  let episode: Escalation | undefined;
  const alerts: JournalView["alerts"] = [];
  let lastSeq = 0;
  for (const e of events) {
    lastSeq = e.seq;
    if (e.type === "run.state" && e.state === "running") episode = undefined;
    if (e.type === "escalation") {
      if (e.escalation.outOfService) lastEscalation = e.escalation;
      else if (episode === undefined) lastEscalation = episode = e.escalation;
    }
    if (e.type === "alert")
      alerts.push({
        rule: e.rule,
        ...(e.cluster ? { cluster: e.cluster } : {}),
        message: e.message,
        at: e.at,
      });
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
  return { steps, ...(lastEscalation ? { lastEscalation } : {}), alerts, lastSeq };
}
