import type { Fleet } from "../model/fleet.ts";
import type { Step } from "../model/step.ts";
import type { Plan } from "../plan/types.ts";
import type { AbortLeftOut, AbortReturned, Escalation } from "./types.ts";

/** The view the fold (fold.ts) accumulates: what every reader knows about a run, and an empty one. */

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

/** A step the rule gate holds back: the first rule and its reason; `blockers`, every rule, when several. */
export interface WaitingStep {
  step: string;
  rule: string;
  reason: string;
  blockers?: Array<{ rule: string; reason: string }>;
}

/** A step as the dashboard shows it: once done, it stays done. */
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

/** A webhook notification not delivered (a `notify.failed` event). */
export interface UndeliveredNotification {
  url: string;
  kind: string;
  id: string;
  attempts: number;
  error: string;
  at: string;
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
  /** Webhook notifications not delivered (docs/notifications.md). */
  undelivered: UndeliveredNotification[];
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
    undelivered: [],
    observed: new Map(),
    capacity: [],
    mixed,
    fold: { started: new Set(), finished: new Set(), ...(gauge ? { gauge } : {}) },
  };
}
