import type { ServerObservation } from "../../drivers/driver.ts";
import type { Escalation, RunEvent, RunEventBody, RunState } from "../../events/types.ts";
import { RollgateError } from "../../model/errors.ts";
import type { Cluster, Server } from "../../model/fleet.ts";
import type { Step } from "../../model/step.ts";
import type { RunRecord } from "../../store/types.ts";
import { withRunDefaults } from "../options.ts";
import { returnToServiceRequested } from "../control.ts";
import type { StepStanding } from "../journal.ts";
import { targetsOf } from "../rule-gate.ts";
import { replayJournal } from "./replay.ts";
import type { EngineOptions } from "./types.ts";

export type ResolvedOptions = Required<Pick<EngineOptions, "escalateFactor" | "tickMs" | "now">> &
  EngineOptions;

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * What one engine knows while it runs: its options, the plan's steps and their standing, and what
 * it has seen and decided so far. Every module of the engine takes it. Every use of the store goes
 * through the few methods below (emit, setState, runState, …), so that the store is reached in
 * one place.
 */
export class EngineContext {
  readonly o: ResolvedOptions;
  readonly steps: Map<string, Step>;
  readonly targets: Map<string, string>;
  standing: Map<string, StepStanding> = new Map();
  readonly running = new Map<string, Promise<void>>();
  readonly lastSeen = new Map<string, string>();
  /** The release each server was last seen running (`cluster/server`). */
  readonly lastRelease = new Map<string, string>();
  readonly waitingLogged = new Map<string, string>();
  /** The run's first escalation: what `run()` reports. */
  escalation: Escalation | undefined;
  /** Every escalation raised (independent work may escalate too). */
  readonly escalations: Escalation[] = [];
  /** Steps that escalated: their failure branch stays in the gate's picture (they may be partly in place). */
  readonly failedSteps: Step[] = [];
  /** Clusters an escalation names: a person looks at them; nothing more starts through them. */
  readonly haltedClusters = new Set<string>();
  /** An escalation that names no step (nothing can move, the end state): nothing more starts anywhere. */
  globalHalt = false;
  stopRequested: string | undefined;
  /** The point of no return an operator answered no to: nothing more starts nor is asked. */
  declined: string | undefined;
  /** Matrix clusters where the M3 correction was applied (isolation is then expected to clear as servers are upgraded). */
  readonly corrected = new Set<string>();
  /** Per matrix, the servers the M3 correction stopped: started last. */
  readonly offenders = new Map<string, Set<string>>();
  /** Per DMA cluster, the tail of the cluster-wide steps acting through it. */
  readonly clusterQueue = new Map<string, Promise<unknown>>();
  wake: (() => void) | undefined;
  /** M6: per matrix (or generic cluster), since when (engine clock) its servers run different releases. */
  readonly mixedSince = new Map<string, number>();
  readonly mixedAlerted = new Set<string>();
  /** Per server ("cluster/server"), its last observation and when (engine clock): the M3 watch's view of a matrix. */
  readonly seen = new Map<string, { at: number; ob: ServerObservation }>();
  /** Per step, the steps that wait on it (its direct successors). */
  successorsOf: Map<string, Step[]> | undefined;
  /** Points of no return whose confirmation was refused or cannot be asked for: the run halts before them. */
  readonly halted = new Set<string>();
  /** Points of no return whose question is open (terminal or dashboard). */
  readonly awaitingAnswer = new Set<string>();
  readonly confirmationAsked = new Set<string>();

  /** The run's lease was lost (another engine leads): nothing more is started nor written. */
  leaseLost: RollgateError | undefined;
  /** A step's failure could not be recorded (the store refused it): the loop ends the run with it. */
  stepError: unknown;

  /** The fleet's clusters by name (found once, not searched per step). */
  private readonly clustersByName: Map<string, Cluster>;
  /** The plan's index of each step: ready steps are taken in the plan's order. */
  readonly order: Map<string, number>;
  /**
   * The ready set kept as steps finish (schedule.ts `ready`): per step not done, how many of its
   * dependencies are not done; the steps at zero are the candidates. Built on first use.
   */
  readyIndex: { remaining: Map<string, number>; candidates: Set<string> } | undefined;

  constructor(options: EngineOptions) {
    this.o = withRunDefaults(options);
    this.steps = new Map(options.plan.steps.map((s) => [s.id, s]));
    this.order = new Map(options.plan.steps.map((s, i) => [s.id, i]));
    this.clustersByName = new Map(options.fleet.clusters.map((c) => [c.name, c]));
    this.targets = targetsOf(options.plan);
  }

  /** How many of the plan's steps are done: counted once, then kept by `markDone`. */
  private doneInPlan: number | undefined;

  /** Every step of the plan done: without a scan of the plan at each loop turn. */
  allDone(): boolean {
    this.doneInPlan ??= this.o.plan.steps.filter((s) => this.done(s.id)).length;
    return this.doneInPlan === this.o.plan.steps.length;
  }

  /** A step is done: its standing says so, and the steps waiting on it count one dependency less. */
  markDone(id: string): void {
    const st = this.standing.get(id);
    if (!st || st.status === "done") return;
    st.status = "done";
    if (this.doneInPlan !== undefined && this.steps.has(id)) this.doneInPlan += 1;
    const index = this.readyIndex;
    if (!index) return;
    index.candidates.delete(id);
    index.remaining.delete(id);
    for (const next of successorsOf(this).get(id) ?? []) {
      const left = (index.remaining.get(next.id) ?? 0) - 1;
      if (left < 0) continue;
      index.remaining.set(next.id, left);
      if (left === 0) index.candidates.add(next.id);
    }
  }

  /** Reads the journal once, before the loop starts: where each step stands (replay.ts). */
  async load(): Promise<void> {
    this.standing = replayJournal(await this.journal(), this.o.plan, this.o.gate);
    this.doneInPlan = undefined;
  }

  // --- the lease ---

  /** Throws ROLLGATE_E_LEASE_LOST once the lease is lost (checked where the engine goes on). */
  checkLease(): void {
    const lost = this.leaseLost ?? this.o.lease?.lost();
    if (lost) {
      this.leaseLost = lost;
      throw lost;
    }
  }

  /** Before every driver action: the lease must still be this engine's, by its own deadline too. */
  async assureLease(): Promise<void> {
    this.checkLease();
    await this.guarded(this.o.lease?.assure());
  }

  /** Notes a lease lost by a refused write (or a failed assurance) and passes the error on. */
  private async guarded<T>(p: Promise<T> | undefined): Promise<T> {
    try {
      return (await p) as T;
    } catch (e) {
      if (isLeaseLost(e)) {
        this.leaseLost ??= e as RollgateError;
        this.o.lease?.markLost(e as RollgateError);
      }
      throw e;
    }
  }

  // --- the store, reached only here ---

  /**
   * Journals one event; it is durable when the promise resolves (before any driver call that
   * follows). The events held by `note` are written before it, in the same transaction, and so
   * are the other durable events asked for in the same turn of the event loop (a group commit:
   * a hundred clusters starting steps at once share one transaction and one sync to the disk,
   * not a hundred), each promise resolving once the transaction that holds it is committed.
   */
  emit(body: RunEventBody): Promise<RunEvent> {
    return new Promise<RunEvent>((resolve, reject) => {
      this.queue.push({ body, resolve, reject });
      if (!this.commitScheduled) {
        this.commitScheduled = true;
        setImmediate(() => {
          this.commitScheduled = false;
          this.commit().catch(() => {
            // each waiting emit was rejected with the error (its caller fails the run)
          });
        });
      }
    });
  }

  /**
   * Journals an event that no action waits on (an observation, a step started or done, a rule
   * holding a step back): held, and written in order with the next durable write or within
   * HOLD_MS, whichever comes first. An engine that dies meanwhile loses at most these, which a
   * restart reads again from the servers (G5); an intent (`emit`) is never held.
   */
  note(body: RunEventBody): void {
    this.queue.push({ body });
    this.holdTimer ??= setTimeout(() => {
      this.holdTimer = undefined;
      this.commit().catch((e: unknown) => {
        this.flushError ??= e;
      });
    }, HOLD_MS);
  }

  /** Writes the held events now (before the run's state changes, and at the end). */
  async flush(): Promise<void> {
    if (this.leaseLost) return; // refused anyway: another engine writes the journal now
    await this.commit();
  }

  /** Events not yet written, in the order they were asked for: held (`note`) and durable (`emit`). */
  private queue: Array<{
    body: RunEventBody;
    resolve?: (e: RunEvent) => void;
    reject?: (e: unknown) => void;
  }> = [];
  private commitScheduled = false;
  private holdTimer: ReturnType<typeof setTimeout> | undefined;
  private flushError: unknown;
  /** The write in progress: writes are made one after the other, in order. */
  private writing: Promise<void> = Promise.resolve();

  /** Writes everything queued so far in one transaction, after the write in progress. */
  private commit(): Promise<void> {
    const next = this.writing.then(async () => {
      if (this.flushError !== undefined) {
        const e = this.flushError;
        this.flushError = undefined;
        for (const q of this.queue.splice(0)) q.reject?.(e);
        throw e;
      }
      if (this.holdTimer) clearTimeout(this.holdTimer);
      this.holdTimer = undefined;
      const batch = this.queue.splice(0);
      if (batch.length === 0) return;
      let events: RunEvent[];
      try {
        events = await this.write(batch.map((q) => q.body));
      } catch (e) {
        for (const q of batch) q.reject?.(e);
        throw e;
      }
      for (const [i, q] of batch.entries()) q.resolve?.(events[i]!);
    });
    this.writing = next.catch(() => {});
    return next;
  }

  private async write(bodies: RunEventBody[]): Promise<RunEvent[]> {
    const { store, runId } = this.o;
    this.checkLease();
    let events: RunEvent[];
    if (bodies.length > 1 && store.appendMany) events = await this.guarded(store.appendMany(runId, bodies));
    else {
      events = [];
      for (const b of bodies) events.push(await this.guarded(store.append(runId, b)));
    }
    for (const e of events) this.o.onEvent?.(e);
    return events;
  }

  async setState(state: RunState, reason?: string): Promise<void> {
    await this.flush();
    this.lastRun = undefined;
    this.checkLease();
    const e = await this.guarded(this.o.store.setState(this.o.runId, state, reason));
    this.o.onEvent?.(e);
  }

  /** The run as last read (runState), or none since the engine's own last write of it. */
  private lastRun: RunRecord | undefined;

  /** The run as the store has it now (pause, resume, abort, confirmations arrive through it). */
  async runState(): Promise<RunRecord> {
    this.lastRun = (await this.o.store.getRun(this.o.runId))!;
    return this.lastRun;
  }

  /**
   * The run as read at the top of this loop turn (`runState`), read again only after the
   * engine's own writes of it: what decides each step of a turn (`mayStart`), without a read of
   * the store per step. An operator's pause or abort from another process is seen at the next
   * turn, before any step of that turn starts.
   */
  async knownRun(): Promise<RunRecord> {
    return this.lastRun ?? this.runState();
  }

  /** The run's fleet file, as recorded with the run. */
  async fleetFile(): Promise<string | undefined> {
    return (await this.o.store.getRun(this.o.runId))?.fleetFile;
  }

  /**
   * Records an operator's confirmation of a point of no return (G4), with or without an `onEvent`
   * listener (before, `onEvent?.(store.confirm(…))` skipped the record when there was none).
   */
  async confirm(step: string): Promise<void> {
    await this.flush();
    this.lastRun = undefined;
    this.checkLease();
    const e = await this.guarded(this.o.store.confirm(this.o.runId, step, "operator"));
    this.o.onEvent?.(e);
  }

  async journal(): Promise<RunEvent[]> {
    return this.o.store.events(this.o.runId);
  }

  /** Whether the abort under way asked for a return to service. */
  async returnToServiceRequested(): Promise<boolean> {
    return returnToServiceRequested(this.o.store, this.o.runId);
  }

  // --- the plan and the fleet ---

  cluster(step: Step): Cluster {
    const c = this.clustersByName.get(step.cluster);
    // an invariant: the plan was made from this fleet (a resume with a fleet file of other servers
    // is refused before the engine starts, ROLLGATE_E_PREFLIGHT_MISMATCH)
    if (!c) throw new Error(`plan names unknown cluster ${step.cluster}`);
    return c;
  }

  /**
   * The cluster a step acts through. A territory step is performed in the supercluster that will
   * serve the territories, so it goes to the first cluster its assignment names (during an
   * incremental upgrade that may be a cluster of the new supercluster, D6); every other step acts
   * on its own cluster.
   */
  actingCluster(step: Step): Cluster {
    if (
      (step.action === "reassign-territories" || step.action === "restore-territories") &&
      step.territories?.length
    ) {
      const named = this.clustersByName.get(step.territories![0]!.primary);
      if (named) return named;
    }
    return this.cluster(step);
  }

  serversOf(step: Step): Server[] {
    const c = this.actingCluster(step);
    return step.server ? c.servers.filter((s) => s.name === step.server) : c.servers;
  }

  /** The clusters the plan has steps in. */
  planClusters(): Cluster[] {
    const named = new Set(this.o.plan.steps.map((s) => s.cluster));
    return this.o.fleet.clusters.filter((c) => named.has(c.name));
  }

  /** The release this step's cluster is upgraded to. */
  target(step: Step): string {
    // a pass of a chained path (M8) upgrades to its own release, not the cluster's final target
    return step.release ?? step.pass?.to ?? this.targets.get(step.cluster) ?? this.o.plan.target;
  }

  done(id: string): boolean {
    return this.standing.get(id)?.status === "done";
  }

  /** Seconds the plan allows the step. */
  estimate(step: Step): number {
    return Math.max(0, step.end - step.start);
  }
}

export const isLeaseLost = (e: unknown): boolean =>
  e instanceof RollgateError && e.code === "ROLLGATE_E_LEASE_LOST";

/** How long `note` holds an event at most before it is written. */
export const HOLD_MS = 50;

/** Per step, the steps that wait on it (its direct successors), computed once. */
export function successorsOf(ctx: EngineContext): Map<string, Step[]> {
  if (!ctx.successorsOf) {
    ctx.successorsOf = new Map();
    for (const s of ctx.o.plan.steps)
      for (const d of s.after) {
        const list = ctx.successorsOf.get(d) ?? [];
        list.push(s);
        ctx.successorsOf.set(d, list);
      }
  }
  return ctx.successorsOf;
}
