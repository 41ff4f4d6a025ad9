import type { Fleet } from "../model/fleet.ts";
import type { Step } from "../model/step.ts";
import type { Plan } from "../plan/types.ts";
import {
  type AbortLeftOut,
  type AbortReturned,
  type Escalation,
  FINISHED_STATES,
  type RunEvent,
  type RunState,
} from "./types.ts";

/**
 * The one fold of a run's journal: events → what every reader knows about the run. The engine's
 * restart (run/journal.ts), `rollgate status` (run/summary.ts), the API, SSE, /metrics
 * (server/run-model.ts) and the page (web/) all read this view.
 *
 * Pure: no node built-in, no clock (a time is passed in where one is needed), no I/O. The view is
 * an accumulator owned by whoever made it (`runView`): `foldEvents(view, events)` brings it up to
 * date with the events it has not seen (a sequence number at or below the last one folded is
 * skipped), so folding a journal in one pass or in chunks gives the same view (test/events/).
 *
 * Capacity per domain (G3) needs the rule packs' FleetState, which events/ may not import (the
 * allowed edges: events/ → model/, plan/); the caller that has them passes a `CapacityGauge`,
 * which the fold tells when each step starts and finishes (once each) and asks for the lowest
 * capacity after it did.
 */

/** A step's standing as a restarted engine knows it: a new intent reopens a step. */
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

/** A step as the dashboard shows it: once done, it stays done. */
/** A step the rule gate holds back: the first rule and its reason; `blockers`, every rule, when several. */
export interface WaitingStep {
  step: string;
  rule: string;
  reason: string;
  blockers?: Array<{ rule: string; reason: string }>;
}

export type StepStatus = "pending" | "running" | "done" | "failed" | "waiting" | "confirm";

export interface StepView {
  status: StepStatus;
  rule?: string;
  reason?: string;
}

export interface CapacityPoint {
  /** ISO time (actual) or plan seconds (planned). */
  at: string;
  seq: number;
  fraction: number;
}

export interface RunAlert {
  rule: string;
  cluster?: string;
  message: string;
  at: string;
}

export interface AbortOutcome {
  returned: string[];
  leftOutOfService: AbortLeftOut[];
  returnedWhy?: AbortReturned[];
}

/** Capacity in service, replayed by the caller from the steps the journal says started and finished. */
export interface CapacityGauge {
  start(step: Step): void;
  finish(step: Step): void;
  /** The lowest capacity of any domain the plan touches (1 when none). */
  lowest(): number;
}

export interface RunView {
  readonly plan: Plan;
  readonly stepById: ReadonlyMap<string, Step>;
  lastSeq: number;
  /** When the run first ran (its first `run.state` running). */
  startedAt?: string;
  /** The engine's picture of each plan step (restart). */
  standing: Map<string, StepStanding>;
  /** The dashboard's picture of each plan step. */
  status: Map<string, StepView>;
  /** Steps that became done (a step counts once). */
  stepsDone: number;
  /** Step failures (each escalates the run). */
  stepsFailed: number;
  /** Steps begun (`step.started`) and not finished. */
  running: Set<string>;
  /** Steps the rules hold back, with the rule (latest reason each), until they start. */
  waiting: Map<string, WaitingStep>;
  /** Points of no return a confirmation was asked for (G4). */
  confirmationsAsked: Set<string>;
  /** The escalation a halt is reported by: the first since the run last ran, or the engine's final word on it. */
  lastEscalation?: Escalation;
  /** Every escalation, the engine's final word on one replacing it. */
  escalations: Array<Escalation & { seq: number; at: string }>;
  /** Alerts raised (M6), in order. */
  alerts: RunAlert[];
  /** The last abort with return to service: what came back, what stays out. */
  abort?: AbortOutcome;
  /** The latest observation of each server (`cluster/server`). */
  observed: Map<string, { release: string; state: string; at: string }>;
  /** The capacity curve as it was (a point when it changed). */
  capacity: CapacityPoint[];
  /** Mixed-release windows (M6, D6) per group: `cluster:NAME`, `supercluster:NAME`. */
  mixed: MixedWindows;
  /** Internal: the escalation episode, the steps the gauge was told of. */
  readonly fold: {
    episode?: Escalation;
    started: Set<string>;
    finished: Set<string>;
    gauge?: CapacityGauge;
  };
}

export interface MixedWindows {
  /** Members (`cluster/server`) of each group. */
  groups: Map<string, string[]>;
  /** The release each server last ran (the fleet file's, then observations). */
  release: Map<string, string>;
  /** ms since the epoch a group's open window began. */
  since: Map<string, number>;
  /** ms of closed windows per group. */
  total: Map<string, number>;
}

/** An empty view of a run of `plan` (with the fleet: mixed-release windows; with a gauge: capacity). */
export function runView(plan: Plan, fleet?: Fleet, gauge?: CapacityGauge): RunView {
  const mixed: MixedWindows = { groups: new Map(), release: new Map(), since: new Map(), total: new Map() };
  for (const c of fleet?.clusters ?? []) {
    const members = c.servers.map((s) => `${c.name}/${s.name}`);
    mixed.groups.set(`cluster:${c.name}`, members);
    if (c.supercluster) {
      const key = `supercluster:${c.supercluster}`;
      mixed.groups.set(key, [...(mixed.groups.get(key) ?? []), ...members]);
    }
    for (const s of c.servers) mixed.release.set(`${c.name}/${s.name}`, s.version);
  }
  return {
    plan,
    stepById: new Map(plan.steps.map((s) => [s.id, s])),
    lastSeq: 0,
    standing: new Map(plan.steps.map((s) => [s.id, { status: "pending", attempts: 0, accepted: false }])),
    status: new Map(plan.steps.map((s) => [s.id, { status: "pending" }])),
    stepsDone: 0,
    stepsFailed: 0,
    running: new Set(),
    waiting: new Map(),
    confirmationsAsked: new Set(),
    escalations: [],
    alerts: [],
    observed: new Map(),
    capacity: [],
    mixed,
    fold: { started: new Set(), finished: new Set(), ...(gauge ? { gauge } : {}) },
  };
}

/** Folds a whole journal into a new view. */
export function foldJournal(
  plan: Plan,
  events: readonly RunEvent[],
  fleet?: Fleet,
  gauge?: CapacityGauge,
): RunView {
  return foldEvents(runView(plan, fleet, gauge), events);
}

/** Brings `view` up to date with `events` (those it has already seen are skipped); returns it. */
export function foldEvents(view: RunView, events: readonly RunEvent[]): RunView {
  for (const e of events) foldEvent(view, e);
  return view;
}

/**
 * A plan step's dashboard status after `e` (undefined: `e` is not about that step, or changes
 * nothing). The page applies it to the events it streams between two summaries.
 */
export function nextStepView(prev: StepView | undefined, e: RunEvent): StepView | undefined {
  if (prev === undefined) return undefined;
  switch (e.type) {
    case "step.waiting":
      return prev.status !== "done" && prev.status !== "running"
        ? { status: "waiting", rule: e.rule, reason: e.reason }
        : undefined;
    case "confirmation.needed":
      return prev.status !== "done" ? { status: "confirm", rule: e.rule, reason: e.reason } : undefined;
    case "confirmation.given":
      return prev.status === "confirm" ? { status: "pending" } : undefined;
    case "step.intent":
    case "step.started":
      return prev.status !== "done" ? { status: "running" } : undefined;
    case "step.done":
      return prev.status !== "done" ? { status: "done" } : undefined;
    case "step.failed":
      return { status: "failed", ...(e.rule ? { rule: e.rule } : {}), reason: e.message };
    default:
      return undefined;
  }
}

function lowest(view: RunView): number {
  return view.fold.gauge?.lowest() ?? 1;
}

function pointCapacity(view: RunView, e: RunEvent): void {
  const fraction = lowest(view);
  const last = view.capacity.at(-1);
  if (last && Math.abs(last.fraction - fraction) < 1e-9) return;
  view.capacity.push({ at: e.at, seq: e.seq, fraction });
}

function startOnce(view: RunView, step: Step): void {
  if (view.fold.started.has(step.id)) return;
  view.fold.started.add(step.id);
  view.fold.gauge?.start(step);
}

function finishOnce(view: RunView, step: Step): void {
  startOnce(view, step);
  if (view.fold.finished.has(step.id)) return;
  view.fold.finished.add(step.id);
  view.fold.gauge?.finish(step);
}

function foldEvent(view: RunView, e: RunEvent): void {
  if (e.seq <= view.lastSeq && view.lastSeq > 0) return;
  view.lastSeq = e.seq;
  if (view.capacity.length === 0) view.capacity.push({ at: e.at, seq: e.seq, fraction: lowest(view) });
  const stepId = "step" in e && typeof e.step === "string" ? e.step : undefined;
  if (stepId !== undefined) {
    foldStanding(view, stepId, e);
    foldSummary(view, stepId, e);
    foldStatus(view, stepId, e);
  }
  switch (e.type) {
    case "run.state":
      if (e.state === "running") {
        view.startedAt ??= e.at;
        delete view.fold.episode;
      }
      break;
    case "escalation": {
      const x = e.escalation;
      if (x.outOfService) view.lastEscalation = x;
      else if (view.fold.episode === undefined) view.lastEscalation = view.fold.episode = x;
      // the engine's final word on an escalation (the clusters it leaves out of service) replaces it
      const prev = view.escalations.at(-1);
      if (x.outOfService && prev && prev.step === x.step && prev.detail === x.detail) view.escalations.pop();
      view.escalations.push({ ...x, seq: e.seq, at: e.at });
      break;
    }
    case "alert":
      view.alerts.push({
        rule: e.rule,
        ...(e.cluster ? { cluster: e.cluster } : {}),
        message: e.message,
        at: e.at,
      });
      break;
    case "abort.returned":
      view.abort = {
        returned: e.returned,
        leftOutOfService: e.leftOutOfService,
        ...(e.returnedWhy ? { returnedWhy: e.returnedWhy } : {}),
      };
      break;
    case "observation":
      observe(view, e);
      break;
    default:
      break;
  }
}

/** The engine's standing of a plan step. */
function foldStanding(view: RunView, stepId: string, e: RunEvent): void {
  const s = view.standing.get(stepId);
  if (!s) return;
  switch (e.type) {
    case "step.intent":
      s.attempts += 1;
      s.accepted = false;
      s.status = "pending";
      s.startedAt ??= e.at;
      if (typeof e.backupsBefore === "number") s.backupsBefore = e.backupsBefore;
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
    default:
      break;
  }
}

/** What `status` reports: steps running, waiting, asking for a confirmation (any step id the journal names). */
function foldSummary(view: RunView, stepId: string, e: RunEvent): void {
  switch (e.type) {
    case "step.started":
      view.running.add(stepId);
      view.waiting.delete(stepId);
      break;
    case "step.done":
      view.running.delete(stepId);
      view.waiting.delete(stepId);
      break;
    case "step.failed":
      view.running.delete(stepId);
      break;
    case "step.waiting":
      view.waiting.set(stepId, {
        step: stepId,
        rule: e.rule,
        reason: e.reason,
        ...(e.blockers && e.blockers.length > 1 ? { blockers: e.blockers.map((b) => ({ ...b })) } : {}),
      });
      break;
    case "confirmation.needed":
      view.confirmationsAsked.add(stepId);
      break;
    default:
      break;
  }
}

/** The dashboard's status of a plan step, its counters and the capacity it leaves. */
function foldStatus(view: RunView, stepId: string, e: RunEvent): void {
  if (e.type === "step.failed") view.stepsFailed += 1;
  const next = nextStepView(view.status.get(stepId), e);
  if (next === undefined) return;
  view.status.set(stepId, next);
  const step = view.stepById.get(stepId);
  if (!step) return;
  if (e.type === "step.intent" || e.type === "step.started") {
    startOnce(view, step);
    pointCapacity(view, e);
  } else if (e.type === "step.done") {
    view.stepsDone += 1;
    finishOnce(view, step);
    pointCapacity(view, e);
  }
}

function observe(view: RunView, e: Extract<RunEvent, { type: "observation" }>): void {
  const key = `${e.cluster}/${e.server}`;
  view.observed.set(key, { release: e.release, state: e.state, at: e.at });
  if (e.state === "unreachable") return;
  const m = view.mixed;
  m.release.set(key, e.release);
  const now = Date.parse(e.at);
  for (const [group, members] of m.groups) {
    if (!members.includes(key)) continue;
    const mixed = new Set(members.map((x) => m.release.get(x))).size > 1;
    const since = m.since.get(group);
    if (mixed && since === undefined) m.since.set(group, now);
    if (!mixed && since !== undefined) {
      m.total.set(group, (m.total.get(group) ?? 0) + (now - since));
      m.since.delete(group);
    }
  }
}

/**
 * Seconds each cluster (`cluster:NAME`) and supercluster (`supercluster:NAME`) has run mixed
 * releases (M6, D6), a window still open counted up to `now` (ms) when `open` (the run is unfinished).
 */
export function mixedSeconds(view: RunView, now: number, open: boolean): Record<string, number> {
  const out: Record<string, number> = {};
  for (const group of view.mixed.groups.keys()) {
    const since = view.mixed.since.get(group);
    const ms =
      (view.mixed.total.get(group) ?? 0) + (since !== undefined && open ? Math.max(0, now - since) : 0);
    out[group] = Math.round(ms / 100) / 10;
  }
  return out;
}

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
  engine: { pid: number; host: string; since: string } | null;
  /** Plan seconds left from the earliest open step. */
  secondsLeft: number;
  estimate: Plan["estimate"];
  lastSeq: number;
  /** An abort with return to service: what came back and what stays out (rule ids), from its `abort.returned`. */
  abort?: AbortOutcome;
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
    secondsLeft: open.length ? Math.max(0, plan.estimate.seconds - Math.min(...open.map((s) => s.start))) : 0,
    estimate: plan.estimate,
    lastSeq: view.lastSeq,
    ...(view.abort ? { abort: view.abort } : {}),
  };
}
