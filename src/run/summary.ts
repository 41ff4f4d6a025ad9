import type { AbortLeftOut, AbortReturned, Escalation, RunEvent } from "../events/types.ts";
import type { Plan } from "../plan/types.ts";
import type { Store } from "../store/types.ts";
import type { RunRecord } from "../store/types.ts";
import { readJournal } from "./journal.ts";

/** What `rollgate status` (and GET /api/runs/:id) tells about a run, read from the journal alone. */
export interface RunSummary {
  run: RunRecord;
  target: string;
  strategy: string;
  progress: { done: number; total: number };
  /** Steps begun and not finished. */
  running: string[];
  /** Steps the rules hold back, with the rule (latest reason each). */
  waiting: { step: string; rule: string; reason: string }[];
  /** Points of no return waiting for a confirmation (G4). */
  awaitingConfirmation: string[];
  escalation: Escalation | null;
  /** Alerts the engine raised (M6: the mixed-release window past maxMixedWindow). */
  alerts: { rule: string; cluster?: string; message: string; at: string }[];
  engine: { pid: number; host: string; since: string } | null;
  /** Plan seconds left from the earliest open step. */
  secondsLeft: number;
  estimate: Plan["estimate"];
  lastSeq: number;
  /** An abort with return to service: what came back and what stays out (rule ids), from its `abort.returned`. */
  abort?: { returned: string[]; leftOutOfService: AbortLeftOut[]; returnedWhy?: AbortReturned[] };
}

export function summarizeRun(store: Store, run: RunRecord): RunSummary {
  const plan = store.getPlan(run.id);
  const events: RunEvent[] = store.events(run.id);
  const journal = readJournal(
    events,
    plan.steps.map((s) => s.id),
  );
  const done = new Set([...journal.steps].filter(([, s]) => s.status === "done").map(([id]) => id));
  const started = new Set<string>();
  const waiting = new Map<string, { step: string; rule: string; reason: string }>();
  const needed = new Set<string>();
  let abort: RunSummary["abort"];
  for (const e of events) {
    if (e.type === "abort.returned")
      abort = {
        returned: e.returned,
        leftOutOfService: e.leftOutOfService,
        ...(e.returnedWhy ? { returnedWhy: e.returnedWhy } : {}),
      };
    if (e.type === "step.started") started.add(e.step);
    if (e.type === "step.done" || e.type === "step.failed") started.delete(e.step);
    if (e.type === "step.waiting") waiting.set(e.step, { step: e.step, rule: e.rule, reason: e.reason });
    if (e.type === "step.started" || e.type === "step.done") waiting.delete(e.step);
    if (e.type === "confirmation.needed") needed.add(e.step);
  }
  for (const s of run.confirmed) needed.delete(s);
  for (const s of done) needed.delete(s);
  const open = plan.steps.filter((s) => !done.has(s.id));
  const finished = run.state === "completed" || run.state === "aborted";
  return {
    run,
    target: run.target,
    strategy: run.strategy,
    progress: { done: done.size, total: plan.steps.length },
    running: finished ? [] : [...started],
    waiting: finished ? [] : [...waiting.values()],
    awaitingConfirmation: finished ? [] : [...needed],
    escalation: run.state === "escalated" ? (journal.lastEscalation ?? null) : null,
    alerts: journal.alerts,
    engine: store.engineHolder(run.fleet) ?? null,
    secondsLeft: open.length ? Math.max(0, plan.estimate.seconds - Math.min(...open.map((s) => s.start))) : 0,
    estimate: plan.estimate,
    lastSeq: journal.lastSeq,
    ...(abort ? { abort } : {}),
  };
}
