import type { Plan } from "../plan/types.ts";
import { type Escalation, FINISHED_STATES, type RunState } from "./types.ts";
import type {
  AbortOutcome,
  CapacityPoint,
  RunAlert,
  RunView,
  StepView,
  UndeliveredNotification,
  WaitingStep,
} from "./fold-view.ts";

/** A run's summary (`rollgate status`, the API) from the fold's view. */

/** What a run summary says about the run itself: the API's and `status`'s `run`. */
export interface RunHead {
  id: string;
  fleet: string;
  state: RunState;
  target: string;
  strategy: string;
  confirmed: string[];
}

/** What `rollgate status` (and GET /api/runs/:id) tells about a run, read from the journal alone. */
export interface RunSummary<R extends RunHead = RunHead> {
  run: R;
  target: string;
  strategy: string;
  progress: { done: number; total: number };
  /** Steps begun and not finished. */
  running: string[];
  /** Steps the rules hold back, with the rule (latest reason each). */
  waiting: WaitingStep[];
  /** Points of no return waiting for a confirmation (G4). */
  awaitingConfirmation: string[];
  escalation: Escalation | null;
  /** Alerts the engine raised (M6: the mixed-release window past maxMixedWindow). */
  alerts: RunAlert[];
  /** Webhook notifications that could not be delivered (docs/notifications.md). */
  undelivered: UndeliveredNotification[];
  engine: { pid: number; host: string; since: string } | null;
  /** Plan seconds left from the earliest open step. */
  secondsLeft: number;
  estimate: Plan["estimate"];
  lastSeq: number;
  /** An abort with return to service: what came back and what stays out (rule ids), from its `abort.returned`. */
  abort?: AbortOutcome;
  /** The run's `--limit` (its plan's): only those clusters are touched. */
  limit?: string[];
}

/** GET /api/runs/:id: the summary, and what the dashboard draws (docs/dashboard.md). */
export interface RunDetail<R extends RunHead = RunHead> extends RunSummary<R> {
  startedAt: string | null;
  steps: Record<string, StepView>;
  escalations: Array<Escalation & { seq: number; at: string }>;
  capacity: {
    floor: number;
    now: number;
    domains: Record<string, number>;
    actual: CapacityPoint[];
    planned: { t: number; fraction: number }[];
  };
  mixedSeconds: Record<string, number>;
}

/** The journal's part of a run summary; the run's record says whether it finished and what was confirmed. */
export function summaryOf(
  view: RunView,
  run: Pick<RunHead, "state" | "confirmed">,
): Omit<RunSummary, "run" | "target" | "strategy" | "engine"> {
  const plan = view.plan;
  const done = new Set([...view.standing].filter(([, s]) => s.status === "done").map(([id]) => id));
  const needed = new Set(view.confirmationsAsked);
  for (const s of run.confirmed) needed.delete(s);
  for (const s of done) needed.delete(s);
  const open = plan.steps.filter((s) => !done.has(s.id));
  const finished = FINISHED_STATES.includes(run.state);
  return {
    progress: { done: done.size, total: plan.steps.length },
    running: finished ? [] : [...view.running],
    waiting: finished ? [] : [...view.waiting.values()],
    awaitingConfirmation: finished ? [] : [...needed],
    escalation: run.state === "escalated" ? (view.lastEscalation ?? null) : null,
    alerts: view.alerts,
    undelivered: view.undelivered,
    secondsLeft: open.length ? Math.max(0, plan.estimate.seconds - Math.min(...open.map((s) => s.start))) : 0,
    estimate: plan.estimate,
    lastSeq: view.lastSeq,
    ...(view.abort ? { abort: view.abort } : {}),
  };
}
