import type { RunEvent, RunEventBody, RunState } from "../events/types.ts";
import type { Plan } from "../plan/types.ts";

/**
 * Durable run state: the run, its plan, and an append-only journal of events (intent before each
 * driver call, outcome after). One interface, asynchronous so that a networked store (PostgreSQL)
 * fits it as well as the embedded default (SQLite, store/sqlite.ts); store/open.ts opens one from
 * a location. An append resolves once the event is durable.
 */
export interface RunRecord {
  id: string;
  /** Fleet name from the fleet file. */
  fleet: string;
  /** Absolute path of the fleet file the run was started from. */
  fleetFile: string;
  target: string;
  strategy: string;
  state: RunState;
  createdAt: string;
  updatedAt: string;
  /** The fleet's identity (run/identity.ts: a digest of its servers and addresses); absent in runs of rollgate 0.1. */
  fleetId?: string;
  /** Steps confirmed past a point of no return (G4). */
  confirmed: string[];
}

export interface StoredToken {
  id: string;
  role: "viewer" | "operator";
  hash: string;
  createdAt: string;
  /** After this instant (ISO) the token is refused; none: it does not expire. */
  expiresAt?: string;
  /** When it was revoked (ISO); a revoked token is refused. */
  revokedAt?: string;
  /** The one run it may read and steer (`apply --dashboard`'s token); none: every run of the state file. */
  run?: string;
}

/**
 * The lease of a run: who may drive it now. One engine holds it at a time; the others wait
 * (docs/ha.md). `epoch` grows at every takeover and fences the store: once a store is fenced
 * (`fence`), each of its writes for that run is refused in its own transaction, with
 * ROLLGATE_E_LEASE_LOST, when the run's lease has moved to a higher epoch.
 *
 * In PostgreSQL the lease is a row per run, with an expiry by the database's clock. In a SQLite
 * state file it is the fleet's engine lock (one host, one engine): it never expires while its
 * process lives, and its epoch is always 1.
 */
export interface Lease {
  runId: string;
  /** The engine holding it: `host:pid:random`. */
  owner: string;
  epoch: number;
  /** When it was taken, ISO. */
  since: string;
  /** When it runs out unless renewed (the database's clock, ISO); none: it is the engine lock and does not run out. */
  expiresAt?: string;
  /** Whether it had not run out when it was read (by the database's clock). */
  live: boolean;
}

/** What a store notifies a watcher of: a journal row committed, or a run's lease (or a fleet's engine lock) changed. */
export type StoreChange =
  | { kind: "journal"; run: string; seq: number }
  | { kind: "lease"; run?: string; fleet?: string };

/** A store's live notifications (PostgreSQL: LISTEN on its channel, store/pg-listen.ts). */
export interface StoreWatcher {
  /** How many times the listening connection was lost (and re-established, or being so). */
  readonly reconnects: number;
  /** Whether the listening connection is up now. */
  readonly listening: boolean;
  close(): Promise<void>;
}

/** An attempt to take a run's lease: taken (a new epoch after a takeover), or held by a live engine. */
export type LeaseAttempt = { taken: Lease } | { heldBy: Lease };

export interface Store {
  /** Where the store lives: a state file's path (a URL such as postgres://… for a networked store). */
  readonly location: string;
  createRun(input: {
    fleet: string;
    fleetFile: string;
    target: string;
    plan: Plan;
    fleetId?: string;
  }): Promise<RunRecord>;
  getRun(id: string): Promise<RunRecord | undefined>;
  /** The newest run that has not finished (for resume), optionally for one fleet (name, identity) and target. */
  findUnfinishedRun(fleet?: string, target?: string, fleetId?: string): Promise<RunRecord | undefined>;
  listRuns(): Promise<RunRecord[]>;
  getPlan(id: string): Promise<Plan>;
  setState(id: string, state: RunState, reason?: string): Promise<RunEvent>;
  /**
   * Sets the state only if the run is still in one of `from` (atomically): an operator's pause or
   * abort never overwrites a state the engine wrote meanwhile. Undefined when the state had moved.
   */
  setStateIf(
    id: string,
    from: readonly RunState[],
    state: RunState,
    reason?: string,
  ): Promise<RunEvent | undefined>;
  /**
   * Confirms several points of no return in one transaction (`--confirm-finalize` confirms every
   * one of a plan before the run starts: 500 of them for 500 matrices). Optional: without it,
   * `confirm` is called for each.
   */
  confirmMany?(id: string, steps: readonly string[], by: string): Promise<RunEvent[]>;
  confirm(id: string, step: string, by: string): Promise<RunEvent>;
  /** Appends one event to the journal (durably, before it resolves) and returns it with its seq. */
  append(runId: string, body: RunEventBody): Promise<RunEvent>;
  /**
   * Appends several events in order, in one transaction (all or none, durable before it
   * resolves). Optional: without it, the engine appends them one by one.
   */
  appendMany?(runId: string, bodies: readonly RunEventBody[]): Promise<RunEvent[]>;
  events(runId: string, afterSeq?: number, limit?: number): Promise<RunEvent[]>;
  /** Highest seq of any event (any run), for change detection. */
  lastSeq(): Promise<number>;
  /** One engine per fleet: takes the lock or throws ROLLGATE_E_RUN_LOCKED naming the holder. */
  acquireEngineLock(fleet: string, owner: { pid: number; host: string }): Promise<void>;
  releaseEngineLock(fleet: string, pid: number): Promise<void>;
  /**
   * The engine driving a fleet now, if its process is alive (or its lease live). `expiresAt`: when
   * that lease runs out unless renewed (PostgreSQL), so that a reader can look again then; it is
   * not shown (use `shownEngine`).
   */
  engineHolder(fleet: string): Promise<EngineHolder | undefined>;
  /**
   * Takes the run's lease for `owner` for `seconds`: free or run out, it is taken (a takeover
   * raises the epoch by one); held live by another owner, it is not. Held by `owner` already, it
   * is renewed. A SQLite store takes the fleet's engine lock instead (throwing
   * ROLLGATE_E_RUN_LOCKED as acquireEngineLock does) and never answers heldBy.
   */
  acquireLease(runId: string, owner: string, seconds: number): Promise<LeaseAttempt>;
  /** Extends the lease by `seconds` from now; throws ROLLGATE_E_LEASE_LOST if its epoch has moved on. */
  renewLease(lease: Lease, seconds: number): Promise<Lease>;
  /** Lets the lease run out now (a standby takes it at once); a lease already taken over is left alone. */
  releaseLease(lease: Lease): Promise<void>;
  /** The run's lease as the store has it now, if any. */
  readLease(runId: string): Promise<Lease | undefined>;
  /**
   * From now on every write this store makes for `lease.runId` (append, appendMany, setState,
   * setStateIf, confirm) is made under `lease.epoch`: refused in its own transaction, with
   * ROLLGATE_E_LEASE_LOST, once the run's lease has a higher epoch.
   */
  fence(lease: Lease): void;
  /**
   * Live notifications of the store's changes, from any process (PostgreSQL: LISTEN/NOTIFY).
   * `connected(again)` is called each time the listening connection is up; `again` after it was
   * lost, when changes may have been missed. Absent for a SQLite state file: readers poll.
   */
  watch?(onChange: (c: StoreChange) => void, connected: (again: boolean) => void): StoreWatcher;
  addToken(token: StoredToken): Promise<void>;
  tokens(): Promise<StoredToken[]>;
  /** Marks a token revoked (once; the first instant stays) and returns it; undefined if unknown. */
  revokeToken(id: string): Promise<StoredToken | undefined>;
  close(): Promise<void>;
}

/** The engine that holds a fleet's lease or engine lock. */
export interface EngineHolder {
  pid: number;
  host: string;
  since: string;
  expiresAt?: string;
}

/** The holder as the API, the CLI and the page show it: pid, host and since when. */
export function shownEngine(
  h: EngineHolder | undefined,
): { pid: number; host: string; since: string } | null {
  return h ? { pid: h.pid, host: h.host, since: h.since } : null;
}
