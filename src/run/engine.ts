import type { ActionArgs, Driver, ServerObservation } from "../drivers/driver.ts";
import type {
  AbortLeftOut,
  AbortReturned,
  Escalation,
  RunEvent,
  RunEventBody,
  RunState,
} from "../events/types.ts";
import { compareAddresses } from "../model/address.ts";
import { RollgateError } from "../model/errors.ts";
import type { Cluster, Fleet, Server } from "../model/fleet.ts";
import type { Step } from "../model/step.ts";
import type { Plan } from "../plan/types.ts";
import { formatDuration } from "../model/duration.ts";
import { compareVersions } from "../model/version.ts";
import type { Store } from "../store/types.ts";
import {
  effectPresent,
  inProgress,
  isolatedServers,
  joinProblems,
  outOfOrder,
  type Problem,
  stoppedOutOfOrder,
  verifyProblems,
} from "./effects.ts";
import type { Gate } from "./gate.ts";
import { readJournal, type StepStanding } from "./journal.ts";
import { manualFor } from "./manual.ts";
import { endStateProblems } from "./end-state.ts";
import { preconditionProblems } from "./preconditions.ts";
import { returnToServiceRequested } from "./control.ts";
import {
  matrixServerReturn,
  matrixStartStep,
  finishCommands,
  mayNotReturn,
  outOfServiceNow,
  restoreStep,
  returnStep,
  territoriesToRestore,
} from "./return-to-service.ts";
import { targetsOf } from "./rule-gate.ts";

/**
 * The engine: reconciles the plan against the observed fleet, one durable journal entry at a time.
 *
 * - Observe before acting (G5): a step whose effect is already there is recorded as done.
 * - Intent is journaled (synchronously, to disk) before the driver is called, outcome after, so a
 *   restarted engine knows where it was: a step with an intent and no outcome is observed again,
 *   and an install still under way is waited for, never started twice.
 * - A step starts when its dependencies are done and the rules allow it (the gate); the rule that
 *   makes it wait is recorded.
 * - An escalation starts no new step, lets running steps end, records the reason with its rule id
 *   and the manual's words, and ends the engine with state "escalated" (exit 1).
 * - Pause, resume and abort arrive through the store (from another process or the API).
 */
export interface EngineOptions {
  store: Store;
  runId: string;
  fleet: Fleet;
  plan: Plan;
  driverFor: (cluster: Cluster) => Driver;
  gate?: Gate;
  /** Escalate past k × a step's estimate (D8a); default 2. */
  escalateFactor?: number;
  /**
   * Called at a point of no return (G4) that is not yet confirmed. "yes" confirms it; "wait" keeps
   * the run waiting for a confirmation through the store (dashboard); "halt" (no way to confirm)
   * halts before it once everything else that can run has ended; "no" (an operator declined) halts
   * the run now: no new step starts and nothing more is asked, running steps end, and the run
   * ends awaiting confirmation of that step.
   */
  confirm?: (step: Step) => Promise<"yes" | "wait" | "halt" | "no">;
  /** Called for every event the engine writes (the terminal view, the JSON lines output). */
  onEvent?: (event: RunEvent) => void;
  /** How often the run's state is re-read from the store, ms. */
  tickMs?: number;
  /** Apply the manual's correction to an out-of-order matrix upgrade (M3) instead of escalating. */
  correctOutOfOrder?: boolean;
  /** Time source; tests and the lab may compress it. */
  now?: () => number;
}

export interface EngineResult {
  state: RunState;
  escalation?: Escalation;
  /** The step waiting for a G4 confirmation, when the engine halted for one. */
  needsConfirmation?: string;
}

/**
 * However short a step's estimate (a lab at high speed), the engine allows at least this much past
 * it before escalating: observation and scheduling jitter must not read as D8a.
 */
const MIN_GRACE_MS = 3000;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The rule an action's refusal falls under when the server names none. */
function ruleOfAction(step: Step, cluster: Cluster): string {
  if (cluster.pack !== "polycom-dma") return "M9";
  switch (step.action) {
    case "install":
      return "D7";
    case "verify":
      return "D8";
    case "join-supercluster":
      return "D10";
    case "reassign-territories":
    case "restore-territories":
      // the strategy's own territory rule: D5's window, D3's patch, else D6
      return step.rules.includes("D5") ? "D5" : step.rules.includes("D3") ? "D3" : "D6";
    case "busy-out":
    case "leave-supercluster":
      // D4: before leaving, the cluster is busied out; then it leaves
      return "D4";
    case "return-to-service":
      // D6: a cluster serves again as a member of its (new) supercluster
      return "D6";
    default:
      // a server-level action sent to a DMA server (stop, start, backup): the basic procedure
      return "D7";
  }
}

/** What holds a cluster out of service after an escalation: its rule, else its catalog code. */
function heldBy(e: Escalation): { rule: string } | { code: string } {
  return e.rule ? { rule: e.rule } : { code: e.code };
}

class Halt extends Error {
  constructor(readonly escalation: Escalation) {
    super(escalation.detail);
  }
}

export class Engine {
  private readonly o: Required<Pick<EngineOptions, "escalateFactor" | "tickMs" | "now">> & EngineOptions;
  private readonly steps: Map<string, Step>;
  private readonly targets: Map<string, string>;
  private readonly standing: Map<string, StepStanding>;
  private readonly running = new Map<string, Promise<void>>();
  private readonly lastSeen = new Map<string, string>();
  /** The release each server was last seen running (`cluster/server`). */
  private readonly lastRelease = new Map<string, string>();
  private readonly waitingLogged = new Map<string, string>();
  /** The run's first escalation: what `run()` reports. */
  private escalation: Escalation | undefined;
  /** Every escalation raised (independent work may escalate too). */
  private readonly escalations: Escalation[] = [];
  /** Steps that escalated: their failure branch stays in the gate's picture (they may be partly in place). */
  private readonly failedSteps: Step[] = [];
  /** Clusters an escalation names: a person looks at them; nothing more starts through them. */
  private readonly haltedClusters = new Set<string>();
  /** An escalation that names no step (nothing can move, the end state): nothing more starts anywhere. */
  private globalHalt = false;
  private stopRequested: string | undefined;
  /** The point of no return an operator answered no to: nothing more starts nor is asked. */
  private declined: string | undefined;
  /** Matrix clusters where the M3 correction was applied (isolation is then expected to clear as servers are upgraded). */
  private readonly corrected = new Set<string>();
  /** Per matrix, the servers the M3 correction stopped: started last. */
  private readonly offenders = new Map<string, Set<string>>();
  /** Per DMA cluster, the tail of the cluster-wide steps acting through it. */
  private readonly clusterQueue = new Map<string, Promise<unknown>>();
  private wake: (() => void) | undefined;
  /** M6: per matrix (or generic cluster), since when (engine clock) its servers run different releases. */
  private readonly mixedSince = new Map<string, number>();
  private readonly mixedAlerted = new Set<string>();

  constructor(options: EngineOptions) {
    this.o = { escalateFactor: 2, tickMs: 100, now: () => Date.now(), ...options };
    this.steps = new Map(options.plan.steps.map((s) => [s.id, s]));
    this.targets = targetsOf(options.plan);
    const journal = readJournal(options.store.events(options.runId), options.plan);
    this.standing = journal.steps;
    // The gate's picture of the fleet starts with what the journal says: steps done, and steps
    // begun (an intent journaled, no outcome, or a failure) whose effect may be under way or
    // partly in place, so that no step the rules forbid beside them starts before they are
    // observed again (a restart must not, say, stop a second matrix server: M1).
    for (const s of options.plan.steps) {
      const st = this.standing.get(s.id);
      if (st?.status === "done") options.gate?.finished(s);
      else if (st && st.attempts > 0) options.gate?.started(s);
    }
  }

  private emit(body: RunEventBody): RunEvent {
    const e = this.o.store.append(this.o.runId, body);
    this.o.onEvent?.(e);
    return e;
  }

  private setState(state: RunState, reason?: string): void {
    const e = this.o.store.setState(this.o.runId, state, reason);
    this.o.onEvent?.(e);
  }

  private cluster(step: Step): Cluster {
    const c = this.o.fleet.clusters.find((x) => x.name === step.cluster);
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
  private actingCluster(step: Step): Cluster {
    if (
      (step.action === "reassign-territories" || step.action === "restore-territories") &&
      step.territories?.length
    ) {
      const named = this.o.fleet.clusters.find((c) => c.name === step.territories![0]!.primary);
      if (named) return named;
    }
    return this.cluster(step);
  }

  private serversOf(step: Step): Server[] {
    const c = this.actingCluster(step);
    return step.server ? c.servers.filter((s) => s.name === step.server) : c.servers;
  }

  private async observe(cluster: Cluster, servers: Server[]): Promise<ServerObservation[]> {
    const driver = this.o.driverFor(cluster);
    const asked = this.o.gate?.mark?.() ?? 0;
    const obs = await Promise.all(servers.map((server) => driver.observe({ cluster, server })));
    if (
      this.o.correctOutOfOrder &&
      cluster.pack === "polyserve-matrix" &&
      servers.length === cluster.servers.length
    ) {
      // a correction applied before a restart shows as a stopped new-release server below old ones
      for (const name of stoppedOutOfOrder(
        cluster,
        obs,
        this.targets.get(cluster.name) ?? this.o.plan.target,
      ))
        this.setAside(cluster, name);
    }
    for (const ob of obs) {
      // what the servers say corrects the gate's picture of servers no step acts on (G3, G5)
      if (!this.offenders.get(cluster.name)?.has(ob.server))
        this.o.gate?.observed?.(ob.server, ob.state === "running" || ob.state === "isolated", asked);
      const key = `${ob.cluster}/${ob.server}`;
      const sig = `${ob.state}|${ob.release}`;
      if (ob.state !== "unreachable") this.lastRelease.set(key, ob.release);
      if (this.lastSeen.get(key) !== sig) {
        this.lastSeen.set(key, sig);
        this.emit({
          type: "observation",
          cluster: ob.cluster,
          server: ob.server,
          state: ob.state,
          release: ob.release,
        });
      }
    }
    this.watchMixed(cluster);
    return obs;
  }

  /**
   * M6: a mixed-release matrix is transient, "a figure to minimize and to alert on". The window
   * opens when the servers of a matrix (or generic cluster) are seen on different releases and
   * closes when they are seen on one; measured on the engine's clock, as every step's duration is
   * (a lab's derived fleet file divides maxMixedWindow by its speed, as it does the estimates).
   * Past the fleet's maxMixedWindow the engine raises an alert (journal, status) once per window:
   * a warning, not an escalation: the fastest way out of a mixed matrix is to go on.
   */
  private watchMixed(cluster: Cluster): void {
    if (cluster.pack === "polycom-dma") return;
    const releases = new Set(
      cluster.servers
        .map((s) => this.lastRelease.get(`${cluster.name}/${s.name}`))
        .filter((r): r is string => r !== undefined),
    );
    const now = this.o.now();
    if (releases.size <= 1) {
      this.mixedSince.delete(cluster.name);
      this.mixedAlerted.delete(cluster.name);
      return;
    }
    if (!this.mixedSince.has(cluster.name)) this.mixedSince.set(cluster.name, now);
    this.alertMixed(cluster.name, now);
  }

  private alertMixed(cluster: string, now: number): void {
    const since = this.mixedSince.get(cluster);
    const bound = this.o.fleet.defaults.maxMixedWindow;
    if (since === undefined || !(bound > 0) || this.mixedAlerted.has(cluster)) return;
    const seconds = (now - since) / 1000;
    if (seconds <= bound) return;
    this.mixedAlerted.add(cluster);
    this.emit({
      type: "alert",
      rule: "M6",
      cluster,
      message: `${cluster} has run mixed releases for ${formatDuration(seconds)}, beyond the fleet's maxMixedWindow of ${formatDuration(bound)}: mixed operation is supported only during the upgrade; upgrade the remaining servers as quickly as possible (M6)`,
    });
  }

  /** The release this step's cluster is upgraded to. */
  private target(step: Step): string {
    return step.release ?? this.targets.get(step.cluster) ?? this.o.plan.target;
  }

  private done(id: string): boolean {
    return this.standing.get(id)?.status === "done";
  }

  private ready(): Step[] {
    return this.o.plan.steps.filter((s) => {
      const st = this.standing.get(s.id)!;
      return st.status !== "done" && !this.running.has(s.id) && this.depsDone(s);
    });
  }

  /**
   * A step's dependencies are done. In a matrix under the M3 correction, the manual starts the
   * offending server last ("continue upgrading the other nodes before starting Matrix Server on
   * that node"): its start and verify wait for every other server of the matrix, and a step that
   * depended on them depends on its install instead.
   */
  private depsDone(s: Step): boolean {
    const aside = this.offenders.get(s.cluster);
    if (!aside?.size) return s.after.every((d) => this.done(d));
    if (s.server && aside.has(s.server) && (s.action === "start" || s.action === "verify")) {
      const others = this.o.plan.steps.filter(
        (o) => o.cluster === s.cluster && o.server && !aside.has(o.server),
      );
      return others.every((o) => this.done(o.id)) && s.after.every((d) => this.done(d));
    }
    return s.after.every((d) => {
      if (this.done(d)) return true;
      if (!this.isOffenderRestart(d, aside)) return false;
      const dep = this.steps.get(d)!;
      const install = this.o.plan.steps.find(
        (o) => o.server === dep.server && o.cluster === dep.cluster && o.action === "install",
      );
      return install !== undefined && this.done(install.id);
    });
  }

  private isOffenderRestart(id: string, aside: Set<string>): boolean {
    const d = this.steps.get(id);
    return !!d?.server && aside.has(d.server) && (d.action === "start" || d.action === "verify");
  }

  /**
   * M3 correction: `name` was upgraded out of order and is stopped; it is started last. The gate
   * sets it aside (the manual's correction takes it out of the matrix on purpose; the cluster then
   * runs one server short of what the plan counted on, G3, and the engine says so).
   */
  private setAside(cluster: Cluster, name: string): void {
    const set = this.offenders.get(cluster.name) ?? new Set<string>();
    this.offenders.set(cluster.name, set);
    if (set.has(name)) return;
    set.add(name);
    this.corrected.add(cluster.name);
    this.o.gate?.setAside?.(name);
    const message = `M3 correction on ${cluster.name}: ${name} stays stopped until every other server is upgraded, then starts last; meanwhile ${cluster.name} runs one server short of what the plan counted on`;
    const n = cluster.servers.length;
    const floor = this.o.fleet.defaults.capacityFloor;
    // the manual's correction takes a second server out while each other one is upgraded: said
    // aloud when that goes below the floor (G3), never silently
    if (n > 0 && (n - 2) / n + 1e-9 < floor)
      this.emit({
        type: "alert",
        rule: "G3",
        cluster: cluster.name,
        message: `${message}: ${Math.max(0, n - 2)} of ${n} servers serve while each is upgraded, below the capacity floor ${Math.round(floor * 100)}% (G3)`,
      });
    else this.emit({ type: "log", level: "warn", message: `${message} (G3)` });
  }

  /** Start no new step; once running steps end, the run is paused and run() returns (Ctrl-C). */
  requestStop(reason: string): void {
    this.stopRequested = reason;
    this.wake?.();
  }

  /** Runs until the plan is done, or the run is escalated, aborted, or halted for a confirmation. */
  async run(): Promise<EngineResult> {
    try {
      return await this.loop();
    } finally {
      // Never hand the store back while a step still runs: its outcome must reach the journal.
      await Promise.allSettled([...this.running.values()]);
    }
  }

  /**
   * False once nothing new may start: a stop request, a run no longer active (paused, aborting),
   * or an escalation that names no step. After an escalation of a step, the run stays escalated,
   * yet independent work may still start (`mayStartStep`).
   */
  private mayStart(): boolean {
    if (this.stopRequested !== undefined || this.globalHalt) return false;
    const state = this.o.store.getRun(this.o.runId)!.state;
    if (state === "escalated") return this.escalation !== undefined;
    return state === "running" || state === "awaiting-confirmation";
  }

  /**
   * May this step start now? After an escalation only independent work goes on: a step that acts
   * through no escalated cluster and is no point of no return (a person is being called; G4 waits
   * for them). Its dependencies are done, so it depends on no failed step; the gate then checks it
   * beside every failed step's failure branch (`checkBeside`).
   */
  private mayStartStep(step: Step): boolean {
    if (!this.mayStart() || this.declined !== undefined) return false;
    if (this.escalation === undefined) return true;
    if (step.pointOfNoReturn) return false;
    if (this.haltedClusters.has(step.cluster) || this.haltedClusters.has(this.actingCluster(step).name))
      return false;
    const barrier = this.unreachableBarrier(step);
    if (barrier) {
      const reason = `${step.id} begins a chain it cannot complete: ${barrier.id} (before ${barrier.cluster} returns to service) is a point of no return, not started after an escalation; ${step.id} is not started, so that no serving cluster is taken out of service for it`;
      if (this.waitingLogged.get(step.id) !== `G4:${reason}`) {
        this.waitingLogged.set(step.id, `G4:${reason}`);
        this.emit({ type: "step.waiting", step: step.id, rule: "G4", reason });
      }
      return false;
    }
    return true;
  }

  /** Per step, the steps that wait on it (its direct successors). */
  private successorsOf: Map<string, Step[]> | undefined;

  /**
   * After an escalation, the point of no return (G4) the chain `step` begins would have to pass,
   * if any: walked through the step's successors up to each cluster's return to service (a
   * return-to-service ends a chain), a point of no return not yet begun, which no step passes
   * after an escalation. Starting `step` would then take a cluster out of service (or move
   * territories for it) for a chain that stops halfway. A point of no return already begun or done
   * (its cluster committed past it) is no barrier.
   */
  private unreachableBarrier(step: Step): Step | undefined {
    if (!this.successorsOf) {
      this.successorsOf = new Map();
      for (const s of this.o.plan.steps)
        for (const d of s.after) {
          const list = this.successorsOf.get(d) ?? [];
          list.push(s);
          this.successorsOf.set(d, list);
        }
    }
    const seen = new Set<string>([step.id]);
    const queue: Step[] = step.action === "return-to-service" ? [] : [step];
    while (queue.length) {
      const s = queue.shift()!;
      for (const next of this.successorsOf.get(s.id) ?? []) {
        if (seen.has(next.id)) continue;
        seen.add(next.id);
        const st = this.standing.get(next.id);
        if (next.pointOfNoReturn && st?.status !== "done" && !((st?.attempts ?? 0) > 0)) return next;
        if (next.action !== "return-to-service") queue.push(next);
      }
    }
    return undefined;
  }

  /** The gate's verdict; after an escalation, beside the failure branch of every failed step. */
  private check(step: Step) {
    const gate = this.o.gate;
    if (!gate) return undefined;
    return this.failedSteps.length && gate.checkBeside
      ? gate.checkBeside(step, this.failedSteps)
      : gate.check(step);
  }

  private async loop(): Promise<EngineResult> {
    const { store, runId } = this.o;
    const initial = store.getRun(runId)!.state;
    if (initial === "pending" || initial === "escalated" || initial === "awaiting-confirmation")
      this.setState("running");
    // G5: every server of the plan is read once before the first step, so that the gate counts a
    // server already down (stopped by an operator, crashed) out of service (G3) from the start
    await this.observeEverything();
    for (;;) {
      const run = store.getRun(runId)!;
      if (this.o.plan.steps.every((s) => this.done(s.id)) && this.running.size === 0 && !this.escalation) {
        // Every step done is not yet success: the fleet must look upgraded to its servers too.
        const problems = await this.endStateProblems();
        if (problems.length === 0) {
          this.setState("completed");
          return { state: "completed" };
        }
        this.raise({
          code: "ROLLGATE_E_ESCALATED",
          rule: problems[0]!.rule,
          detail: `every step is done, yet the fleet does not look upgraded: ${problems.map((p) => `${p.rule}: ${p.detail}`).join("; ")}`,
          manual: manualFor(problems[0]!.rule),
        });
        continue;
      }
      for (const c of this.mixedSince.keys()) this.alertMixed(c, this.o.now());
      let blocked: { rule: string; reason: string } | undefined;
      let started = false;
      if (this.mayStart()) {
        const ready = this.ready();
        // Points of no return (G4) wait for their confirmation; independent steps go on meanwhile.
        const unconfirmed = ready.filter((s) => s.pointOfNoReturn && !run.confirmed.includes(s.id));
        if (!this.escalation && this.declined === undefined) {
          for (const step of unconfirmed) this.requestConfirmation(step);
          if (run.state === "awaiting-confirmation" && unconfirmed.length === 0) this.setState("running");
        }
        for (const step of ready) {
          if (unconfirmed.includes(step)) continue;
          if (!this.mayStartStep(step)) continue;
          const verdict = this.check(step);
          if (verdict && !verdict.ok) {
            blocked ??= verdict;
            const sig = `${verdict.rule}:${verdict.reason}`;
            if (this.waitingLogged.get(step.id) !== sig) {
              this.waitingLogged.set(step.id, sig);
              this.emit({
                type: "step.waiting",
                step: step.id,
                rule: verdict.rule,
                reason: verdict.reason,
                ...(verdict.blockers && verdict.blockers.length > 1
                  ? { blockers: [...verdict.blockers] }
                  : {}),
              });
            }
            continue;
          }
          this.start(step);
          started = true;
        }
      }
      if (this.running.size === 0 && !started) {
        const now = store.getRun(runId)!;
        // An abort comes first, also of an escalated run (a person was called and chose to abort):
        // the escalation is on record; the run ends aborted, returning what the rules let return.
        if (now.state === "aborting") {
          if (returnToServiceRequested(store, runId)) {
            const { returned, leftOutOfService, returnedWhy } = await this.returnToService();
            this.emit({
              type: "abort.returned",
              returned,
              leftOutOfService,
              ...(returnedWhy.length ? { returnedWhy } : {}),
            });
            const said = `aborted by an operator; running steps finished, no new step started; returned to service: ${returned.length ? returned.join(", ") : "none"}${leftOutOfService.length ? `; left out of service: ${leftOutOfService.map((o) => `${o.server ?? o.cluster} (${o.rule ?? o.code}: ${o.reason})`).join("; ")}` : ""}`;
            this.setState("aborted", said);
            return { state: "aborted" };
          }
          this.setState("aborted", "aborted by an operator; running steps finished, no new step started");
          return { state: "aborted" };
        }
        if (this.escalation) {
          const outOfService = await this.outOfService();
          const escalation: Escalation = outOfService.length
            ? { ...this.escalation, outOfService }
            : this.escalation;
          const said = `${this.escalation.rule ?? this.escalation.code}: ${this.escalation.detail}${outOfService.length ? `; left out of service: ${outOfService.map((o) => `${o.cluster} (${o.rule ?? o.code}: ${o.reason})`).join("; ")}` : ""}`;
          if (outOfService.length) this.emit({ type: "escalation", escalation });
          if (now.state !== "escalated" || outOfService.length) this.setState("escalated", said);
          return { state: "escalated", escalation };
        }
        if (this.stopRequested) {
          // Ctrl-C has usually paused the run in the store already (src/run/apply.ts)
          if (now.state !== "paused") this.setState("paused", this.stopRequested);
          return { state: "paused" };
        }
        const halted =
          this.declined !== undefined && !now.confirmed.includes(this.declined)
            ? this.declined
            : [...this.halted].find((id) => !now.confirmed.includes(id));
        if (halted && this.mayStart()) {
          this.setState("awaiting-confirmation", `G4: ${halted} is a point of no return`);
          return { state: "awaiting-confirmation", needsConfirmation: halted };
        }
        if (blocked && this.mayStart() && this.awaitingAnswer.size === 0) {
          // Nothing runs and the rules hold every ready step back: nothing will change by waiting.
          this.raise({
            code: "ROLLGATE_E_ESCALATED",
            rule: blocked.rule,
            detail: `no step can start: blocked by ${blocked.rule}: ${blocked.reason}`,
            manual: manualFor(blocked.rule),
          });
          continue;
        }
      }
      await Promise.race([sleep(this.o.tickMs), new Promise<void>((r) => (this.wake = r))]);
    }
  }

  private async observeEverything(): Promise<{ cluster: Cluster; observations: ServerObservation[] }[]> {
    const clusters = this.o.fleet.clusters.filter((c) => this.o.plan.steps.some((s) => s.cluster === c.name));
    return Promise.all(
      clusters.map(async (c) => ({ cluster: c, observations: await this.observe(c, c.servers) })),
    );
  }

  /** Observes every server of the plan once more and asks end-state.ts what is not as the plan leaves it. */
  private async endStateProblems(): Promise<Problem[]> {
    const clusters = this.o.fleet.clusters.filter((c) => this.o.plan.steps.some((s) => s.cluster === c.name));
    const observed = await Promise.all(
      clusters.map(async (c) => ({ cluster: c, observations: await this.observe(c, c.servers) })),
    );
    return endStateProblems(this.o.plan, observed, this.o.fleet);
  }

  /** Points of no return whose confirmation was refused or cannot be asked for: the run halts before them. */
  private readonly halted = new Set<string>();
  /** Points of no return whose question is open (terminal or dashboard). */
  private readonly awaitingAnswer = new Set<string>();
  private readonly confirmationAsked = new Set<string>();

  /**
   * Asks once for a point of no return, in a side task: the loop never waits for a person. "yes"
   * confirms it in the store; "wait" leaves it to a confirmation through the store (dashboard);
   * "halt", or no way to ask, halts the run before it once nothing else can run.
   */
  private requestConfirmation(step: Step): void {
    if (this.confirmationAsked.has(step.id)) return;
    this.confirmationAsked.add(step.id);
    const rules = step.rules.filter((r) => r !== "G4").join(", ");
    this.emit({
      type: "confirmation.needed",
      step: step.id,
      rule: "G4",
      reason: `${step.id} is a point of no return${rules ? ` (${rules})` : ""}: after it the old release cannot come back`,
    });
    if (this.o.store.getRun(this.o.runId)!.state === "running")
      this.setState("awaiting-confirmation", `G4: ${step.id}`);
    if (!this.o.confirm) {
      this.halted.add(step.id);
      return;
    }
    this.awaitingAnswer.add(step.id);
    this.o
      .confirm(step)
      .then((answer) => {
        if (answer === "yes" && this.mayStart() && !this.escalation)
          this.o.onEvent?.(this.o.store.confirm(this.o.runId, step.id, "operator"));
        else if (answer === "halt") this.halted.add(step.id);
        else if (answer === "no") {
          this.halted.add(step.id);
          this.declined ??= step.id;
        }
      })
      .catch((e: unknown) => {
        // a question withdrawn unasked after an operator's "no" to another: it halts with that one
        if (this.declined !== undefined) this.halted.add(step.id);
        // Ctrl-C at the prompt: stop as on SIGINT (running steps finish, the run pauses).
        else if ((e as Error)?.name === "AbortError")
          this.requestStop("interrupted at the confirmation prompt");
        else this.halted.add(step.id);
      })
      .finally(() => {
        this.awaitingAnswer.delete(step.id);
        this.wake?.();
      });
  }

  /** Records an escalation at once (state and event), so status shows it while running steps end. */
  private raise(escalation: Escalation, step?: Step): void {
    if (step) {
      this.failedSteps.push(step);
      this.haltedClusters.add(step.cluster);
      this.haltedClusters.add(this.actingCluster(step).name);
    } else this.globalHalt = true;
    if (escalation.cluster) this.haltedClusters.add(escalation.cluster);
    this.escalations.push(escalation);
    this.wake?.();
    if (this.escalation) {
      // a second escalation (independent work went on after the first): recorded, the run stays escalated
      this.emit({ type: "escalation", escalation });
      return;
    }
    this.escalation = escalation;
    this.emit({ type: "escalation", escalation });
    // an operator's abort already under way stays the run's state: the engine ends it aborted
    if (this.o.store.getRun(this.o.runId)!.state !== "aborting")
      this.setState("escalated", `${escalation.rule ?? escalation.code}: ${escalation.detail}`);
  }

  /**
   * Once the engine ends escalated: the clusters of the plan it leaves out of service (observed
   * now), each with the rule that holds it there: its own escalation, the failed step its remaining
   * work waits on, or the gate's rule.
   */
  private async outOfService(): Promise<NonNullable<Escalation["outOfService"]>[number][]> {
    const out: NonNullable<Escalation["outOfService"]>[number][] = [];
    const clusters = this.o.fleet.clusters.filter((c) => this.o.plan.steps.some((s) => s.cluster === c.name));
    const failedIds = new Set(this.failedSteps.map((s) => s.id));
    const waitsOn = (step: Step, seen = new Set<string>()): Step | undefined => {
      for (const d of step.after) {
        if (failedIds.has(d)) return this.steps.get(d);
        if (seen.has(d) || this.done(d)) continue;
        seen.add(d);
        const f = waitsOn(this.steps.get(d)!, seen);
        if (f) return f;
      }
      return undefined;
    };
    const escalationOf = (step: Step) => this.escalations.find((e) => e.step === step.id) ?? this.escalation!;
    for (const c of clusters) {
      let obs: ServerObservation[];
      try {
        obs = await this.observe(c, c.servers);
      } catch {
        // a driver answers "unreachable" rather than throw: a cluster that cannot be observed at
        // all only adds nothing to the escalation's picture of what is down
        continue;
      }
      const down =
        c.pack === "polycom-dma"
          ? obs.every((o) => o.state === "unreachable" || o.inService === false || o.busiedOut === true)
            ? obs.map((o) => o.server)
            : []
          : obs.filter((o) => o.state !== "running" || o.disabled === true).map((o) => o.server);
      if (!down.length) continue;
      const what = c.pack === "polycom-dma" ? c.name : `${c.name} (${down.join(", ")})`;
      const own = this.escalations.find((e) => e.cluster === c.name);
      const pending = this.o.plan.steps.find((s) => s.cluster === c.name && !this.done(s.id));
      if (own) {
        out.push({
          cluster: c.name,
          ...heldBy(own),
          reason: `${what} escalated at ${own.step ?? "the end"}: a person looks first`,
        });
        continue;
      }
      if (!pending) {
        out.push({
          cluster: c.name,
          rule: "G5",
          reason: `${what} is out of service although its steps are done`,
        });
        continue;
      }
      const failed = waitsOn(pending);
      if (failed) {
        const e = escalationOf(failed);
        out.push({
          cluster: c.name,
          ...heldBy(e),
          reason: `${what}: ${pending.id} waits on ${failed.id}, which escalated`,
        });
        continue;
      }
      if (pending.pointOfNoReturn) {
        out.push({
          cluster: c.name,
          rule: "G4",
          reason: `${what}: ${pending.id} is a point of no return, not started after an escalation`,
        });
        continue;
      }
      const verdict = pending.after.every((d) => this.done(d)) ? this.check(pending) : undefined;
      if (verdict && !verdict.ok) {
        out.push({
          cluster: c.name,
          rule: verdict.rule,
          reason: `${what}: ${pending.id} is held by ${verdict.rule}: ${verdict.reason}`,
        });
        continue;
      }
      const first = this.escalation!;
      out.push({
        cluster: c.name,
        ...heldBy(first),
        reason: `${what}: ${pending.id} was not started (the run halted)`,
      });
    }
    return out;
  }

  /** What to run to finish the upgrade after the abort: with this run's fleet file and target. */
  private finishHint(): string {
    return finishCommands(this.o.store.getRun(this.o.runId)?.fleetFile, this.o.plan.target);
  }

  /**
   * An abort with return to service, once running steps have finished: every DMA cluster this run
   * busied out (its busy-out begun or done) and that its servers report out of service is returned
   * to service if the rules let it (return-to-service.ts: a member of a supercluster, on one
   * release, D6/D3; one installed but not verified is verified first, D8; then the rule gate),
   * through the plan's own return-to-service step and the
   * normal executor (intent journaled before acting, the effect observed), then its territories
   * are restored as the fleet file had them (the manual's order: restore after the return). The
   * others are named with the rule that keeps them out and what to do. Then the Matrix servers
   * the run stopped (returnMatrixServers: M9, M4, M3, M5).
   */
  private async returnToService(): Promise<{
    returned: string[];
    leftOutOfService: AbortLeftOut[];
    returnedWhy: AbortReturned[];
  }> {
    const returned: string[] = [];
    const leftOutOfService: AbortLeftOut[] = [];
    const returnedWhy: AbortReturned[] = [];
    const take = (step: Step) => {
      if (!this.standing.has(step.id))
        this.standing.set(step.id, { status: "pending", attempts: 0, accepted: false });
    };
    const attempt = async (step: Step): Promise<Escalation | undefined> => {
      take(step);
      try {
        await this.executeNow(step);
        return undefined;
      } catch (e) {
        const escalation = this.failed(step, e);
        return escalation;
      }
    };
    const serving = new Map<string, { inService: boolean; supercluster: string | null }>();
    const look = async (c: Cluster): Promise<ServerObservation[] | undefined> => {
      try {
        const obs = await this.observe(c, c.servers);
        serving.set(c.name, {
          inService: !outOfServiceNow(obs) && obs.every((o) => o.state !== "unreachable"),
          supercluster: obs[0]?.supercluster ?? null,
        });
        return obs;
      } catch {
        // a driver answers "unreachable" rather than throw: a cluster that cannot be observed at all
        // is undefined, "not known", to the caller
        return undefined;
      }
    };
    const dma = this.o.fleet.clusters.filter((c) => c.pack === "polycom-dma");
    const tookOut = dma.filter((c) => {
      const busy = this.o.plan.steps.find((s) => s.cluster === c.name && s.action === "busy-out");
      const st = busy && this.standing.get(busy.id);
      return st !== undefined && (st.status === "done" || st.attempts > 0);
    });
    for (const c of dma) await look(c);
    for (const c of tookOut) {
      const obs = await look(c);
      if (!obs) {
        leftOutOfService.push({
          cluster: c.name,
          rule: "G5",
          reason: `${c.name} could not be observed: it is not returned to service unseen`,
        });
        continue;
      }
      if (!outOfServiceNow(obs)) continue;
      const no = mayNotReturn(c, obs, this.finishHint());
      if (no) {
        leftOutOfService.push(no);
        continue;
      }
      // installed, not verified yet (an abort during a patch install, D7): the plan's own verify
      // first (D8), so that the cluster returns checked rather than staying out for want of it
      const verify = this.o.plan.steps.find((s) => s.cluster === c.name && s.action === "verify");
      const install = this.o.plan.steps.find((s) => s.cluster === c.name && s.action === "install");
      if (
        verify &&
        install &&
        this.standing.get(install.id)?.status === "done" &&
        this.standing.get(verify.id)?.status !== "done"
      ) {
        const failedVerify = await attempt(verify);
        if (failedVerify) {
          leftOutOfService.push({
            cluster: c.name,
            ...heldBy(failedVerify),
            reason: `${c.name} did not pass its checks after the install (${failedVerify.detail}): it stays out of service; ${this.finishHint()}`,
          });
          continue;
        }
      }
      const back =
        this.o.plan.steps.find((s) => s.cluster === c.name && s.action === "return-to-service") ??
        returnStep(c);
      const verdict = this.o.gate?.check(back);
      if (verdict && !verdict.ok) {
        leftOutOfService.push({
          cluster: c.name,
          rule: verdict.rule,
          reason: `${c.name} stays out of service: ${verdict.reason}; finish its upgrade: ${this.finishHint()}`,
        });
        continue;
      }
      const failed = await attempt(back);
      if (failed) {
        leftOutOfService.push({
          cluster: c.name,
          ...heldBy(failed),
          reason: `returning ${c.name} to service failed: ${failed.detail}`,
        });
        continue;
      }
      returned.push(c.name);
      serving.set(c.name, { inService: true, supercluster: obs[0]!.supercluster ?? null });
    }
    // territories back where the fleet file had them, in the supercluster each returned cluster serves in
    for (const name of returned) {
      const c = dma.find((x) => x.name === name)!;
      const sc = serving.get(name)?.supercluster;
      if (!sc) continue;
      const territories = territoriesToRestore(this.o.fleet, c, sc, (n) => {
        const s = serving.get(n);
        return s?.inService === true && s.supercluster === sc;
      });
      if (!territories.length) continue;
      const restore = restoreStep(c, sc, territories);
      const verdict = this.o.gate?.check(restore);
      if (verdict && !verdict.ok) {
        this.emit({
          type: "log",
          level: "warn",
          message: `${name} is back in service; its territories are not restored (${verdict.rule}: ${verdict.reason})`,
        });
        continue;
      }
      const failed = await attempt(restore);
      if (failed)
        this.emit({
          type: "log",
          level: "warn",
          message: `${name} is back in service; restoring its territories failed (${failed.rule ?? failed.code}: ${failed.detail})`,
        });
    }
    await this.returnMatrixServers(attempt, returned, leftOutOfService, returnedWhy);
    return { returned, leftOutOfService, returnedWhy };
  }

  /**
   * The Matrix part of an abort with return to service: every server the run stopped (its stop
   * begun or done) and did not start again is started if the rules let it, judged on what every
   * server of its matrix says just now (return-to-service.ts: G5, M9, M4, M3, M5), highest address
   * first (M2's order), one at a time (M1), each start observed to its effect and verified (M9:
   * it rejoined). A server the run only disabled is named: rollgate does not enable servers.
   */
  private async returnMatrixServers(
    attempt: (step: Step) => Promise<Escalation | undefined>,
    returned: string[],
    leftOutOfService: AbortLeftOut[],
    returnedWhy: AbortReturned[],
  ): Promise<void> {
    for (const c of this.o.fleet.clusters.filter((x) => x.pack === "polyserve-matrix")) {
      const stepOf = (server: string, action: Step["action"]) =>
        this.o.plan.steps.find((x) => x.cluster === c.name && x.server === server && x.action === action);
      const begun = (step: Step | undefined) => {
        const st = step && this.standing.get(step.id);
        return st !== undefined && (st.status === "done" || st.attempts > 0);
      };
      const started = (server: string) => this.done(stepOf(server, "start")?.id ?? "");
      const tookDown = c.servers
        .filter(
          (s) => !started(s.name) && (begun(stepOf(s.name, "stop")) || begun(stepOf(s.name, "disable"))),
        )
        .sort((a, b) => compareAddresses(b.address, a.address));
      for (const s of tookDown) {
        let obs: ServerObservation[];
        try {
          obs = await this.observe(c, c.servers);
        } catch {
          // not observable: reported as left out of service (G5), which is what the operator must check
          leftOutOfService.push({
            cluster: c.name,
            server: s.name,
            rule: "G5",
            reason: `${c.name} could not be observed: ${s.name} is not started unseen`,
          });
          continue;
        }
        const me = obs.find((o) => o.server === s.name);
        if (!begun(stepOf(s.name, "stop")) && me?.state === "running") {
          if (me.disabled === true)
            leftOutOfService.push({
              cluster: c.name,
              server: s.name,
              rule: "M9",
              reason: `${s.name} was disabled by the run (its virtual services moved away) and still runs ${me.release}: rollgate does not enable servers; enable it by hand, or finish the upgrade: ${this.finishHint()}`,
            });
          continue;
        }
        const verdict = matrixServerReturn(c, s, obs, this.finishHint());
        if (!verdict) continue;
        if (!verdict.ok) {
          leftOutOfService.push(verdict.left);
          continue;
        }
        // Judged on what the servers say now (G5), not by the gate: its picture is the plan replayed,
        // which after a failed or cut-short step is not the servers' (a failed install left srv3 on
        // its old release, stopped). A start takes no server down (M1, G3 hold); M10 (a server out
        // when mixed operation began) never holds for a server the run itself stopped one at a time.
        const back = matrixStartStep(c, s.name, me!.release);
        const failed =
          (await attempt(back)) ??
          (await attempt({ ...back, id: `${c.name}/${s.name}/verify-on-abort`, action: "verify" }));
        if (failed) {
          leftOutOfService.push({
            cluster: c.name,
            server: s.name,
            ...heldBy(failed),
            reason: `starting ${s.name} again failed: ${failed.detail}`,
          });
          continue;
        }
        returned.push(s.name);
        returnedWhy.push(verdict.returned);
      }
    }
  }

  /** A step that threw: marked failed and journaled; its escalation (a Halt's, else G5 for the unexpected). */
  private failed(step: Step, e: unknown): Escalation {
    const escalation: Escalation =
      e instanceof Halt
        ? e.escalation
        : {
            // no rule called for this: a catalog error (a plan foreign to the fleet, a driver
            // missing) keeps its code, anything else is an internal error (a bug in rollgate)
            code: e instanceof RollgateError ? e.code : "ROLLGATE_E_INTERNAL",
            step: step.id,
            cluster: step.cluster,
            detail: `${e instanceof RollgateError ? "" : "internal error "}while running ${step.id}: ${(e as Error).message}`,
            manual: "",
          };
    this.standing.get(step.id)!.status = "failed";
    this.emit({
      type: "step.failed",
      step: step.id,
      code: escalation.code,
      ...(escalation.rule ? { rule: escalation.rule } : {}),
      message: escalation.detail,
    });
    return escalation;
  }

  private start(step: Step): void {
    const p = this.execute(step)
      .catch((e: unknown) => {
        const escalation = this.failed(step, e);
        this.raise(escalation, step);
      })
      .finally(() => {
        this.running.delete(step.id);
        this.wake?.();
      });
    this.running.set(step.id, p);
  }

  private halt(step: Step, rule: string, detail: string, server?: string): Halt {
    return new Halt({
      code: "ROLLGATE_E_ESCALATED",
      rule,
      step: step.id,
      cluster: step.cluster,
      ...((server ?? step.server) ? { server: server ?? step.server } : {}),
      detail,
      manual: manualFor(rule),
    });
  }

  /** Seconds the plan allows the step. */
  private estimate(step: Step): number {
    return Math.max(0, step.end - step.start);
  }

  /**
   * A DMA cluster runs one cluster-wide job at a time (an appliance answers "busy" otherwise), so
   * cluster-wide steps acting through the same cluster are run one after the other.
   */
  private execute(step: Step): Promise<void> {
    const cluster = this.actingCluster(step);
    if (step.server || cluster.pack !== "polycom-dma") return this.executeNow(step);
    const previous = this.clusterQueue.get(cluster.name) ?? Promise.resolve();
    // A step queued behind another starts only if nothing has stopped the run meanwhile.
    const mine = previous
      .catch(() => undefined)
      .then(() => (this.mayStartStep(step) ? this.executeNow(step) : undefined));
    this.clusterQueue.set(
      cluster.name,
      mine.catch(() => undefined),
    );
    return mine;
  }

  private async executeNow(step: Step): Promise<void> {
    const cluster = this.actingCluster(step);
    const servers = this.serversOf(step);
    const standing = this.standing.get(step.id)!;
    const startedAt = this.o.now();
    this.o.gate?.started(step);
    this.emit({
      type: "step.started",
      step: step.id,
      action: step.action,
      cluster: step.cluster,
      ...(step.server ? { server: step.server } : {}),
    });

    let obs = await this.observe(cluster, servers);
    // a join is judged against the cluster it joins as well (D10): its member list is read too
    const joinedCluster =
      step.action === "join-supercluster" && step.joins
        ? this.o.fleet.clusters.find((c) => c.name === step.joins)
        : undefined;
    const observeJoined = async () =>
      joinedCluster ? await this.observe(joinedCluster, joinedCluster.servers) : undefined;
    let joined = await observeJoined();
    const ctx = () => ({
      step,
      cluster,
      observations: obs,
      ...(joined ? { joined } : {}),
      ...(standing.backupsBefore !== undefined ? { backupsBefore: standing.backupsBefore } : {}),
    });
    const unreachable = obs.filter((o) => o.state === "unreachable");
    if (unreachable.length) {
      // G5: a step is never acted on without reading the state of every server it touches.
      throw this.halt(
        step,
        "G5",
        `cannot observe ${unreachable.map((o) => `${o.server}${o.error ? ` (${o.error})` : ""}`).join(", ")} before ${step.action}: unreachable`,
        unreachable[0]?.server,
      );
    }

    const matrix = await this.watchMatrix(step, cluster);
    if (effectPresent(ctx(), this.target(step))) {
      this.finish(step, true, startedAt);
      return;
    }
    if (step.action === "install" && standing.accepted && standing.status === "pending") {
      // The engine died after the server accepted this install (the journal says so, with no
      // outcome). If that install failed or was cut short meanwhile, a person looks first.
      const failed = obs.filter(
        (o) =>
          o.lastInstall &&
          compareVersions(o.lastInstall.release, this.target(step)) === 0 &&
          (o.lastInstall.result === "failed" || o.lastInstall.result === "interrupted"),
      );
      if (failed.length) {
        throw this.halt(
          step,
          ruleOfAction(step, cluster),
          `the install of ${this.target(step)} accepted before the engine stopped ${failed[0]!.lastInstall!.result === "failed" ? "failed" : "was interrupted"} on ${failed.map((o) => o.server).join(", ")}`,
          failed[0]!.server,
        );
      }
    }
    if (!inProgress(ctx(), this.target(step))) {
      // The rules this step relies on, judged on what the servers said just now, not on the
      // journal's picture: a fleet changed under the run escalates, nothing is sent.
      const problems = preconditionProblems(
        { step, cluster, observations: obs, ...(matrix ? { matrix } : {}) },
        this.target(step),
      );
      if (problems.length)
        throw this.halt(
          step,
          problems[0]!.rule,
          `the fleet is not as the run expects before ${step.action}: ${problems.map((p) => `${p.rule}: ${p.detail}`).join("; ")}; nothing was sent`,
        );
      const backupsBefore =
        step.action === "backup" ? Math.max(...obs.map((o) => o.backups ?? 0)) : undefined;
      standing.attempts += 1;
      if (backupsBefore !== undefined) standing.backupsBefore = backupsBefore;
      this.emit({
        type: "step.intent",
        step: step.id,
        action: step.action,
        cluster: step.cluster,
        ...(step.server ? { server: step.server } : {}),
        attempt: standing.attempts,
        ...(backupsBefore !== undefined ? { backupsBefore } : {}),
      });
      const target = { cluster, server: await this.receiver(step, cluster, servers, obs) };
      const args: ActionArgs = {
        ...(step.action === "install" ? { release: this.target(step) } : {}),
        ...(step.joins ? { joins: step.joins } : {}),
        ...(step.supercluster ? { supercluster: step.supercluster } : {}),
        ...(step.territories ? { territories: step.territories } : {}),
        ...(step.unassigned?.length ? { unassigned: step.unassigned } : {}),
        ...(step.server && target.server.name !== step.server ? { server: step.server } : {}),
      };
      let outcome: Awaited<ReturnType<Driver["perform"]>>;
      try {
        outcome = await this.o.driverFor(cluster).perform(target, step.action, args);
      } catch (e) {
        throw this.halt(
          step,
          "G5",
          `${target.server.name} did not answer ${step.action}: ${(e as Error).message}`,
          target.server.name,
        );
      }
      if (!outcome.ok) {
        const rule = outcome.rule ?? ruleOfAction(step, cluster);
        throw this.halt(
          step,
          rule,
          `${target.server.name} refused ${step.action}: ${outcome.message ?? outcome.code ?? "no reason given"}`,
          target.server.name,
        );
      }
      standing.accepted = true;
      this.emit({ type: "step.accepted", step: step.id });
    }

    // Wait for the effect, within k × the estimate.
    const estimateMs = this.estimate(step) * 1000;
    // The allowance counts from the moment the server has the action (accepted, or found under
    // way), not from the engine's own observations before it.
    const waitingSince = this.o.now();
    const deadline = waitingSince + Math.max(this.o.escalateFactor * estimateMs, estimateMs + MIN_GRACE_MS);
    const pollMs = Math.min(1000, Math.max(20, estimateMs / 40));
    for (;;) {
      obs = await this.observe(cluster, servers);
      joined = await observeJoined();
      if (effectPresent(ctx(), this.target(step))) break;
      await this.watchMatrix(step, cluster);
      if (step.action === "install") {
        const failed = obs.filter(
          (o) =>
            o.lastInstall &&
            compareVersions(o.lastInstall.release, this.target(step)) === 0 &&
            (o.lastInstall.result === "failed" || o.lastInstall.result === "interrupted") &&
            o.state !== "installing",
        );
        if (failed.length) {
          throw this.halt(
            step,
            cluster.pack === "polycom-dma" ? "D7" : "M9",
            `the install of ${this.target(step)} ${failed[0]!.lastInstall!.result === "failed" ? "failed" : "was interrupted"} on ${failed.map((o) => `${o.server} (still ${o.release}, ${o.state})`).join(", ")}`,
            failed[0]!.server,
          );
        }
      }
      if (this.o.now() > deadline) {
        const lost = joinProblems(ctx());
        if (lost.length)
          throw this.halt(
            step,
            lost[0]!.rule,
            `${lost.map((p) => p.detail).join("; ")}, ${Math.round((this.o.now() - waitingSince) / 100) / 10}s after the join was sent`,
          );
        throw this.timeoutHalt(step, cluster, obs, waitingSince);
      }
      await sleep(pollMs);
    }
    await this.watchMatrix(step, cluster);
    this.finish(step, false, startedAt);
  }

  /**
   * Which server receives the request. A cluster-wide DMA step goes to a reachable server of the
   * cluster. A matrix management operation (disable) goes, while the matrix is mixed, to a running
   * server on the oldest release (M7), naming the server it acts on.
   */
  private async receiver(
    step: Step,
    cluster: Cluster,
    servers: Server[],
    obs: ServerObservation[],
  ): Promise<Server> {
    if (step.server && step.action === "disable" && cluster.pack === "polyserve-matrix") {
      const everyone = await this.observe(cluster, cluster.servers);
      const unreachable = everyone.filter((o) => o.state === "unreachable");
      if (unreachable.length) {
        throw this.halt(
          step,
          "G5",
          `cannot choose where to send ${step.action} (M7: to a server on the old release while the matrix is mixed): ${unreachable.map((o) => o.server).join(", ")} unreachable`,
          unreachable[0]!.server,
        );
      }
      const running = everyone.filter((o) => o.state === "running" || o.state === "isolated");
      const oldest = running.map((o) => o.release).sort(compareVersions)[0];
      if (oldest !== undefined) {
        const pick =
          running.find((o) => o.server === step.server && compareVersions(o.release, oldest) === 0) ??
          running.find((o) => compareVersions(o.release, oldest) === 0);
        const server = cluster.servers.find((sv) => sv.name === pick?.server);
        if (server) return server;
      }
    }
    const reachable = obs.find((o) => o.state !== "unreachable");
    return servers.find((sv) => sv.name === reachable?.server) ?? servers[0]!;
  }

  /**
   * M3: the matrix must not report old-release servers isolated. Checked before every matrix step
   * and after each start and verify. Without `correctOutOfOrder` an isolated server escalates.
   * With it, the manual's correction is applied: the server upgraded out of order is stopped, and
   * the plan goes on in order; its own steps then find their effect present (G5) up to its start,
   * which comes last. Old-release servers stay isolated until each is upgraded in turn (the
   * manual: "continue upgrading the other nodes"), so isolation is tolerated while a correction
   * holds in that cluster.
   */
  private async watchMatrix(step: Step, cluster: Cluster): Promise<ServerObservation[] | undefined> {
    if (cluster.pack !== "polyserve-matrix") return undefined;
    const all = await this.observe(cluster, cluster.servers);
    const isolated = isolatedServers(all);
    if (!isolated.length) return all;
    const target = this.target(step);
    const offenders = outOfOrder(cluster, all, target);
    // A correction already applied (perhaps by an engine before a restart) shows as a stopped
    // server on the new release below servers still on the old one.
    const correcting = this.corrected.has(cluster.name) || stoppedOutOfOrder(cluster, all, target).length > 0;
    if (this.o.correctOutOfOrder && (offenders.length > 0 || correcting)) {
      for (const name of offenders) {
        const server = cluster.servers.find((s) => s.name === name)!;
        this.emit({
          type: "log",
          level: "warn",
          message: `M3 correction on ${cluster.name}: ${name} runs ${target} while higher-addressed servers still run the old release; stopping it, upgrading the others in order, starting it last`,
        });
        const outcome = await this.o.driverFor(cluster).perform({ cluster, server }, "stop", {});
        if (!outcome.ok)
          throw this.halt(
            step,
            "M3",
            `the M3 correction could not stop ${name}: ${outcome.message ?? outcome.code}`,
            name,
          );
        this.setAside(cluster, name);
      }
      return all;
    }
    throw this.halt(
      step,
      "M3",
      `the matrix reports ${isolated.join(", ")} isolated: ${offenders.length ? `${offenders.join(", ")} runs ${target} out of order` : "a server was upgraded out of order"} (old-release servers stopped sending configuration and status updates)${this.o.correctOutOfOrder ? "" : "; rerun with --correct-out-of-order to apply the manual's correction"}`,
      isolated[0],
    );
  }

  private timeoutHalt(step: Step, cluster: Cluster, obs: ServerObservation[], startedAt: number): Halt {
    const waited = Math.round((this.o.now() - startedAt) / 100) / 10;
    const problems: Problem[] = verifyProblems({ step, cluster, observations: obs }, this.target(step));
    const unreachable = obs.filter((o) => o.state === "unreachable");
    if (unreachable.length) {
      return this.halt(
        step,
        "G5",
        `${unreachable.map((o) => o.server).join(", ")} unreachable for ${waited}s (more than ${this.o.escalateFactor} × the ${step.action} estimate of ${this.estimate(step)}s)`,
        unreachable[0]!.server,
      );
    }
    const installing = obs.filter((o) => o.state === "installing");
    if (installing.length) {
      return this.halt(
        step,
        cluster.pack === "polycom-dma" ? "D8a" : "M9",
        `the install is still running on ${installing.map((o) => o.server).join(", ")} after ${waited}s (more than ${this.o.escalateFactor} × its estimate of ${this.estimate(step)}s)`,
        installing[0]!.server,
      );
    }
    // D8 diagnoses what an upgrade left behind; other steps time out under their own rule.
    const diagnosed = step.action === "install" || step.action === "verify" || step.action === "start";
    const order = ["D8a", "D8b", "D8c", "D8", "M3", "M9"];
    const first = [...problems].sort((a, b) => order.indexOf(a.rule) - order.indexOf(b.rule))[0];
    if (first && diagnosed) {
      return this.halt(
        step,
        first.rule,
        `${first.detail}, ${waited}s after ${step.action} began (more than ${this.o.escalateFactor} × its estimate of ${this.estimate(step)}s)`,
      );
    }
    return this.halt(
      step,
      ruleOfAction(step, cluster),
      `${step.action} showed no effect after ${waited}s (more than ${this.o.escalateFactor} × its estimate of ${this.estimate(step)}s)`,
    );
  }

  private finish(step: Step, observed: boolean, startedAt: number): void {
    const st = this.standing.get(step.id)!;
    st.status = "done";
    this.o.gate?.finished(step);
    this.emit({
      type: "step.done",
      step: step.id,
      observed,
      seconds: Math.round((this.o.now() - startedAt) / 100) / 10,
    });
  }
}

export type { Plan };
