import { existsSync, realpathSync } from "node:fs";
import { hostname } from "node:os";
import { basename, dirname, resolve } from "node:path";
import { driverFor as defaultDriverFor } from "../drivers/index.ts";
import type { Driver, ServerObservation } from "../drivers/driver.ts";
import { type Escalation, FINISHED_STATES, type RunEvent, type RunState } from "../events/types.ts";
import { loadFleetFile } from "../io/fleet-loader.ts";
import { readRecord } from "../lab/record.ts";
import { RollgateError } from "../model/errors.ts";
import type { Cluster, Fleet } from "../model/fleet.ts";
import { compareVersions } from "../model/version.ts";
import type { Step, StrategyChoice } from "../model/step.ts";
import type { Plan } from "../plan/types.ts";
import { acquireHostLock, type HostLock } from "../store/host-lock.ts";
import { openStore } from "../store/open.ts";
import type { Store } from "../store/types.ts";
import type { RunRecord } from "../store/types.ts";
import { Engine, type EngineResult } from "./engine.ts";
import { fleetFileUpdate } from "./fleet-sync.ts";
import type { FleetChange } from "../model/fleet-sync.ts";
import { fleetClaims, fleetIdentity } from "./identity.ts";
import { pauseRun, returnToServiceRequested } from "./control.ts";
import { type JournalView, readJournal } from "./journal.ts";
import { pickRun, statePathFrom } from "./locate.ts";
import { manualFor } from "./manual.ts";
import { shellWord } from "./return-to-service.ts";
import { ruleGate } from "./rule-gate.ts";

/**
 * `rollgate apply` and `rollgate resume` as functions: the shell around the engine. Bad input is
 * found before anything is written: the state file is created only once the fleet is valid, the
 * plan verified, every server observed and the operator has said yes.
 */
/** Plans a fleet for `--to` specs ("3.5.1", or "NAME=RELEASE" per cluster, supercluster or pack). */
export type Planner = (fleet: Fleet, targets: string[], strategy: StrategyChoice) => Plan;

export interface DriveHooks {
  /** Asks a yes/no question on the terminal; undefined when there is no terminal. */
  ask?: (question: string, signal?: AbortSignal) => Promise<boolean>;
  onPlan?: (plan: Plan, info: { resumed: boolean; runId?: string; done?: string[] }) => void;
  onEvent?: (event: RunEvent) => void;
  /** Points of no return wait for a confirmation through the store (the dashboard) instead of halting. */
  waitForConfirmation?: boolean;
  driverFor?: (cluster: Cluster) => Driver;
  /** Apply the manual's M3 correction instead of escalating (docs/engine.md). */
  correctOutOfOrder?: boolean;
  /** Called once the store is open and the run known (the dashboard attaches here). */
  onStore?: (store: Store, run: RunRecord) => void | Promise<void>;
  /**
   * Called on every SIGINT or SIGTERM (or Ctrl-C at the point-of-no-return question) while the
   * engine drives the run, after the first one has paused it (see drive()). The shell says what
   * happens; on the second one it may exit at once: the run stays resumable.
   */
  onInterrupt?: (interrupt: Interrupt) => void;
}

export interface Interrupt {
  signal: "SIGINT" | "SIGTERM";
  /** 1 for the first signal of this engine, 2 for the second, … */
  count: number;
  runId: string;
  /** The run's state in the store just after the signal: "paused", unless it was escalated or being aborted. */
  state: RunState;
}

export interface ApplyInput extends DriveHooks {
  fleetFile: string;
  /** The `--to` values. */
  targets: string[];
  strategy: StrategyChoice;
  statePath?: string;
  yes: boolean;
  confirmFinalize: boolean;
  escalateFactor?: number;
  planner: Planner;
}

export interface DriveResult extends EngineResult {
  runId: string;
  plan: Plan;
  statePath: string;
  /** The operator answered no at the point of no return the run halted before (G4). */
  declined?: boolean;
}

interface Observed {
  cluster: Cluster;
  server: Fleet["clusters"][number]["servers"][number];
  obs: ServerObservation;
}

/** Observes every server of `clusters` at once; refuses (nothing written) when one cannot be reached (G5). */
async function observeAll(
  clusters: Cluster[],
  driverFor: (c: Cluster) => Driver,
  when: "starting" | "resuming",
): Promise<Observed[]> {
  const observed = await Promise.all(
    clusters.flatMap((cluster) =>
      cluster.servers.map(async (server) => ({
        cluster,
        server,
        // the driver's own timeout (driver.exec.timeout, …), not one for every driver
        obs: await driverFor(cluster).observe({ cluster, server }),
      })),
    ),
  );
  const unreachable = observed.filter((o) => o.obs.state === "unreachable");
  if (unreachable.length) {
    throw new RollgateError(
      "ROLLGATE_E_PREFLIGHT_UNREACHABLE",
      // each with the driver's reason: a timeout (after the driver's own timeout), a program that
      // could not be started, a refused connection (a lab that is down), an answer that is no status
      `cannot observe ${unreachable.length} server(s) before ${when} (G5): ${unreachable.map((o) => `${o.server.name} (${o.cluster.name}): ${o.obs.error ?? "it reports itself unreachable"}`).join("; ")}; nothing was done`,
    );
  }
  return observed;
}

/** Observe every server of the clusters the plan touches; refuse to start on an unreachable or surprising fleet. */
async function preflight(
  fleet: Fleet,
  plan: Plan,
  driverFor: (c: Cluster) => Driver,
  /** The last completed run of this fleet and target in the state file, if any. */
  lastCompleted?: string,
  /** The fleet file: a mismatch shows the lines to change in it (fleet sync). */
  fleetFile?: string,
): Promise<void> {
  const clusters = fleet.clusters.filter((c) => plan.steps.some((s) => s.cluster === c.name));
  const noDriver = clusters.filter((c) => !c.driver?.http && !c.driver?.ssh && !c.driver?.exec);
  if (noDriver.length) {
    throw new RollgateError(
      "ROLLGATE_E_NO_DRIVER",
      `no driver for cluster(s) ${noDriver.map((c) => c.name).join(", ")}: add driver.http, driver.ssh or driver.exec to the fleet file (or use \`rollgate lab up\`)`,
    );
  }
  const observed = await observeAll(clusters, driverFor, "starting");
  refuseBusy(observed, fleetFile);
  const targetOf = (c: Cluster) => plan.targets[c.name] ?? plan.target;
  // Everything already on its target: a new run would only replay a finished upgrade (a DMA
  // cluster would be busied out and taken out of its new supercluster again). Nothing to do.
  // Unless the file already says so (every release on the target): the plan is then what remains
  // of a supercluster part way (clusters that left it and joined none yet, G5/D5/D6).
  if (
    observed.every((o) => compareVersions(o.obs.release, targetOf(o.cluster)) === 0) &&
    observed.some((o) => compareVersions(o.server.version, o.obs.release) !== 0)
  ) {
    throw lastCompleted
      ? new RollgateError(
          "ROLLGATE_E_RUN_FINISHED",
          `run ${lastCompleted} has already completed: every server runs its target; nothing to do (describe the fleet as it now is in the fleet file before planning another upgrade)`,
        )
      : behindError(fleet, plan, observed, fleetFile);
  }
  // A release the file does not say, or (DMA) any release but the file's: a matrix or generic
  // server may be ahead on the target (the per-server procedure finds that, G5; M3 decides the
  // rest), but a DMA cluster's procedure (reassign, busy-out, leave, …, join) is planned from its
  // release and its supercluster as the file says, and is wrong for any other.
  const surprising = observed.filter((o) => {
    if (compareVersions(o.obs.release, o.server.version) === 0) return false;
    return o.cluster.pack === "polycom-dma" || compareVersions(o.obs.release, targetOf(o.cluster)) !== 0;
  });
  const moved = observed.filter(
    (o) =>
      o.cluster.pack === "polycom-dma" &&
      o.obs.supercluster !== undefined &&
      (o.obs.supercluster ?? undefined) !== o.cluster.supercluster,
  );
  if (surprising.length || moved.length) {
    const update = fleetFile === undefined ? undefined : mismatchUpdate(fleetFile, fleet, observed);
    throw new RollgateError(
      "ROLLGATE_E_PREFLIGHT_MISMATCH",
      `the fleet is not as the fleet file says: ${[
        ...surprising.map((o) => `${o.server.name} runs ${o.obs.release}, the file says ${o.server.version}`),
        ...moved.map(
          (o) =>
            `${o.server.name} sees ${o.cluster.name} in ${o.obs.supercluster ? `supercluster ${o.obs.supercluster}` : "no supercluster"}, the file says ${o.cluster.supercluster ?? "none"}`,
        ),
      ].join("; ")}; nothing was done.${update?.message ?? ""}`,
      update ? { details: { changes: update.changes, diff: update.diff } } : undefined,
    );
  }
}

/**
 * Every server already on its target while the fleet file says otherwise: the file is behind the
 * fleet (an aborted run, a maintenance window aborted part way, an upgrade by hand), which may be
 * far from done (clusters out of service, in no supercluster). Not "nothing to do": bring the file
 * up to date, then plan again from it (G5), with the commands to paste.
 */
function behindError(fleet: Fleet, plan: Plan, observed: Observed[], fleetFile?: string): RollgateError {
  const f = fleetFile ? shellWord(fleetFile) : "FLEET";
  const to = plan.target
    .split(",")
    .map((t) => `--to ${shellWord(t)}`)
    .join(" ");
  const update = fleetFile === undefined ? undefined : mismatchUpdate(fleetFile, fleet, observed);
  return new RollgateError(
    "ROLLGATE_E_PREFLIGHT_MISMATCH",
    `every server already runs its target, but the fleet file says otherwise: the fleet file is behind the fleet (what is left to do, if anything, is planned from what it says); nothing was done. Bring it up to date with \`rollgate fleet sync ${f} --write\`, then plan again: \`rollgate plan ${f} ${to}\`.${update?.message ?? ""}`,
    update ? { details: { changes: update.changes, diff: update.diff } } : undefined,
  );
}

/**
 * A server busy with an action before a run starts (an install of an aborted run still under way,
 * or one that hangs; an action at its console): a new run would act on a server that is not where
 * the file or the plan has it, and would only find out when the server refuses it (G5, M9: one
 * action at a time on a server). Refused before anything is written, naming each server, its
 * action and how to end it.
 */
function refuseBusy(observed: Observed[], fleetFile: string | undefined): void {
  const busy = observed.filter((o) => o.obs.activity || o.obs.state === "installing");
  if (busy.length === 0) return;
  const what = (o: Observed) => {
    const a = o.obs.activity;
    const action = a ? `${a.action}${a.release ? ` ${a.release}` : ""}` : "an install";
    const ends =
      a?.endsAt === null ? ", which will not end by itself" : a?.endsAt ? `, until ${a.endsAt}` : "";
    return `${o.server.name} (${o.cluster.name}) is busy: ${action} in progress${ends}`;
  };
  const lab = fleetFile === undefined ? undefined : labFleetOf(fleetFile);
  const end = lab
    ? `end it with \`${busy.map((o) => `rollgate lab fault ${lab} ${o.server.name} crash`).join("` and `")}\` (a crash interrupts the action under way)`
    : "end it at the server as its manual says";
  throw new RollgateError(
    "ROLLGATE_E_PREFLIGHT_MISMATCH",
    `${busy.map(what).join("; ")} (G5, M9: one action at a time on a server): wait for it to end, or ${end}, then plan again; nothing was done`,
    {
      details: {
        busy: busy.map((o) => ({
          server: o.server.name,
          cluster: o.cluster.name,
          activity: o.obs.activity ?? { action: "install" },
        })),
      },
    },
  );
}

/** The original fleet file of a lab's derived fleet file (its lab record says), else undefined. */
function labFleetOf(fleetFile: string): string | undefined {
  const abs = resolve(fleetFile);
  const m = /^(.*)\.lab\.yaml$/.exec(abs);
  if (!m || basename(dirname(abs)) !== "lab") return undefined;
  return readRecord(`${m[1]}.lab.json`)?.fleet;
}

/**
 * What to write in the fleet file so that it describes the fleet as observed (G5): the lines to
 * change, as `rollgate fleet sync FILE --write` would write them (run/fleet-sync.ts). Only the
 * clusters observed are brought up to date; undefined when nothing can be said.
 */
function mismatchUpdate(
  fleetFile: string,
  fleet: Fleet,
  observed: Observed[],
): { message: string; changes: FleetChange[]; diff: string[] } | undefined {
  try {
    const u = fleetFileUpdate(fleetFile, fleet, observed);
    if (u.diff.length === 0) return undefined;
    const shown = u.diff.slice(0, 60);
    return {
      message: ` Describe the fleet as it now is: \`rollgate fleet sync ${fleetFile} --write\` writes it, or change these lines of ${fleetFile} (- as it reads, + as it should read):\n${shown.join("\n")}${u.diff.length > shown.length ? `\n… and ${u.diff.length - shown.length} more line(s): rollgate fleet sync ${fleetFile} prints the whole file` : ""}`,
      changes: u.changes,
      diff: u.diff,
    };
  } catch (e) {
    // the file cannot be read or rewritten (a catalog error): the message above still names every
    // difference; anything else is a bug
    if (!(e instanceof RollgateError)) throw e;
    return undefined;
  }
}

/**
 * Planning refuses the fleet as the file describes it (a target not newer, an unsupported path,
 * a fleet that breaks a rule). When the file is stale (the fleet was upgraded since: a previous
 * run, an abort, a cluster upgraded by hand), that refusal answers the wrong question: the servers
 * are observed (G5) and, if they disagree with the file, the answer is the mismatch with the lines
 * to write (`rollgate fleet sync`). Otherwise the planner's own refusal stands.
 */
async function staleFileInstead(
  e: unknown,
  fleetFile: string,
  fleet: Fleet,
  driverFor: (c: Cluster) => Driver,
): Promise<unknown> {
  const codes = [
    "ROLLGATE_E_PLAN_TARGET_NOT_NEWER",
    "ROLLGATE_E_PLAN_UNSUPPORTED_PATH",
    "ROLLGATE_E_PLAN_FLEET_BREAKS_RULES",
    "ROLLGATE_E_PLAN_BAD_TARGET",
  ];
  if (!(e instanceof RollgateError) || !codes.includes(e.code)) return e;
  const clusters = fleet.clusters.filter((c) => c.driver?.http || c.driver?.ssh || c.driver?.exec);
  if (clusters.length === 0) return e;
  try {
    const observed = (
      await Promise.all(
        clusters.flatMap((cluster) =>
          cluster.servers.map(async (server) => ({
            cluster,
            server,
            obs: await driverFor(cluster).observe({ cluster, server }),
          })),
        ),
      )
    ).filter((o) => o.obs.state !== "unreachable");
    const update = mismatchUpdate(fleetFile, fleet, observed);
    if (!update) return e;
    return new RollgateError(
      "ROLLGATE_E_PREFLIGHT_MISMATCH",
      `the fleet is not as the fleet file says, so the plan made from the file is wrong (it says: ${e.message}); nothing was done.${update.message}`,
      { details: { changes: update.changes, diff: update.diff, planError: e.code } },
    );
  } catch {
    // best effort: the planner's refusal stands on its own; this only adds the servers' view to it
    return e;
  }
}

/**
 * SIGINT (Ctrl-C) and SIGTERM before the engine drives the run: while the servers are observed
 * (preflight, which waits for a server that does not answer up to the driver's timeout), the
 * plan asked about, the fleet locked. Nothing of the run is written yet, so the operation stops:
 * the pending step (raced()) ends with ROLLGATE_E_INTERRUPTED (exit 1, docs/errors.md), and what
 * comes after it never runs. Without this the process died by the signal (130/143), silently.
 * drive() takes the signals over (engineStarts) before the engine starts.
 */
class EarlySignals {
  private stopped: RollgateError | undefined;
  private readonly waiting = new Set<(e: Error) => void>();
  private readonly withdraw = new AbortController();
  /** Aborted at the first signal: a question asked before the engine starts is withdrawn. */
  readonly questions = this.withdraw.signal;
  private readonly onSigint = () => this.stop("SIGINT");
  private readonly onSigterm = () => this.stop("SIGTERM");
  private on = true;
  constructor() {
    process.on("SIGINT", this.onSigint);
    process.on("SIGTERM", this.onSigterm);
  }
  private stop(signal: "SIGINT" | "SIGTERM"): void {
    this.signal ??= signal;
    this.stopped ??= new RollgateError(
      "ROLLGATE_E_INTERRUPTED",
      `${signal === "SIGINT" ? "Ctrl-C" : signal}: stopped before the run started; nothing was written`,
    );
    for (const reject of this.waiting) reject(this.stopped);
    this.waiting.clear();
    this.withdraw.abort(this.stopped);
  }
  /** Throws if a signal came. */
  check(): void {
    if (this.stopped) throw this.stopped;
  }
  /** p, or ROLLGATE_E_INTERRUPTED as soon as a signal comes (p's own end is then ignored). */
  raced<T>(p: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.stopped) {
        p.catch(() => undefined);
        return reject(this.stopped);
      }
      this.waiting.add(reject);
      p.then(resolve, reject).finally(() => this.waiting.delete(reject));
    });
  }
  private signal: "SIGINT" | "SIGTERM" | undefined;
  /**
   * The engine's own handling takes over (drive()), the run being in the store: returns the
   * signal that came since the last raced() step (drive() then treats it as its own).
   */
  engineStarts(): "SIGINT" | "SIGTERM" | undefined {
    this.dispose();
    return this.signal;
  }
  dispose(): void {
    if (!this.on) return;
    this.on = false;
    process.off("SIGINT", this.onSigint);
    process.off("SIGTERM", this.onSigterm);
  }
}

export async function apply(input: ApplyInput): Promise<DriveResult> {
  const early = new EarlySignals();
  try {
    return await applyWith(input, early);
  } finally {
    early.dispose();
  }
}

async function applyWith(input: ApplyInput, early: EarlySignals): Promise<DriveResult> {
  const fleet = loadFleetFile(input.fleetFile);
  // Planning is pure and cheap: bad targets, downgrades and unsupported paths fail here (exit 2).
  let plan: Plan;
  try {
    plan = input.planner(fleet, input.targets, input.strategy);
  } catch (e) {
    throw await early.raced(staleFileInstead(e, input.fleetFile, fleet, input.driverFor ?? defaultDriverFor));
  }
  const statePath = statePathFrom({
    ...(input.statePath ? { state: input.statePath } : {}),
    fleet: input.fleetFile,
  });
  const driverFor = input.driverFor ?? defaultDriverFor;
  const fleetId = fleetIdentity(fleet);

  // One engine per server on this host (whatever the fleet file, a copy of it, or the state
  // file), taken before the journal is read, the servers observed or a person asked, so that a
  // second engine is refused before any of these; released on every way out.
  const lock = await early.raced(
    (async () => acquireHostLock(realpathSync(input.fleetFile), await fleetClaims(fleet, input.fleetFile)))(),
  );
  try {
    // An unfinished run of this fleet (by its servers, not its name) and target is resumed.
    let lastCompleted: string | undefined;
    if (existsSync(statePath)) {
      const peek = openStore(statePath, { readonly: true });
      const existing = await peek.findUnfinishedRun(fleet.name, plan.target, fleetId);
      lastCompleted = (await peek.listRuns()).find(
        (r) => r.fleetId === fleetId && r.target === plan.target && r.state === "completed",
      )?.id;
      await peek.close();
      if (existing)
        return await resumeHolding({ ...input, statePath, runId: existing.id }, early, { fleet, lock });
    }
    return await startRun(input, fleet, plan, statePath, driverFor, lastCompleted, early);
  } finally {
    lock.release();
  }
}

async function startRun(
  input: ApplyInput,
  fleet: Fleet,
  plan: Plan,
  statePath: string,
  driverFor: (c: Cluster) => Driver,
  lastCompleted: string | undefined,
  early: EarlySignals,
): Promise<DriveResult> {
  await early.raced(preflight(fleet, plan, driverFor, lastCompleted, input.fleetFile));
  input.onPlan?.(plan, { resumed: false });
  if (!input.yes) {
    if (!input.ask) {
      // Not a usage error: the command line is valid, and nobody said yes (docs/errors.md).
      throw new RollgateError(
        "ROLLGATE_E_DECLINED",
        "no terminal to ask for confirmation and no --yes: the plan was not applied; pass --yes to apply the plan shown",
      );
    }
    // A SIGINT or SIGTERM while the question is open ends the operation at once (nothing is
    // written yet): the question is withdrawn, its answer never waited for.
    const yes = await early
      .raced(input.ask(`Apply this plan to ${fleet.name} (${plan.steps.length} steps)?`, early.questions))
      .catch((e: unknown) => {
        // Ctrl-C typed at the question (the terminal is in raw mode, so no SIGINT): a no
        if ((e as Error)?.name === "AbortError") return false;
        throw e;
      });
    if (!yes) {
      throw new RollgateError("ROLLGATE_E_DECLINED", "the plan was not applied");
    }
  }
  early.check();
  const store = openStore(statePath);
  try {
    await store.acquireEngineLock(fleet.name, { pid: process.pid, host: hostname() });
    const run = await store.createRun({
      fleet: fleet.name,
      fleetFile: resolve(input.fleetFile),
      target: plan.target,
      plan,
      fleetId: fleetIdentity(fleet),
    });
    for (const e of await store.events(run.id)) input.onEvent?.(e);
    return await drive(store, run, fleet, plan, statePath, input, early);
  } finally {
    await store.releaseEngineLock(fleet.name, process.pid);
    await store.close();
  }
}

export interface ResumeInput extends DriveHooks {
  statePath: string;
  runId?: string;
  /** A fleet file to use instead of the one the run was started from. */
  fleetFile?: string;
  confirmFinalize: boolean;
  escalateFactor?: number;
}

/** Continues an unfinished run in this process (after an escalation, a crash, or a halt for confirmation). */
export async function resume(input: ResumeInput): Promise<DriveResult> {
  const early = new EarlySignals();
  try {
    return await resumeHolding(input, early);
  } finally {
    early.dispose();
  }
}

/** `held`: the fleet and host lock `apply` already holds when it resumes a run it found. */
async function resumeHolding(
  input: ResumeInput,
  early: EarlySignals,
  held?: { fleet: Fleet; lock: HostLock },
): Promise<DriveResult> {
  const store = openStore(input.statePath);
  try {
    // Without a run id, the one unfinished run (several are refused: locate.ts never guesses).
    const run = input.runId
      ? await store.getRun(input.runId)
      : await pickRun(store, { unfinishedOnly: true });
    if (!run) throw new RollgateError("ROLLGATE_E_RUN_NOT_FOUND", `no unfinished run in ${input.statePath}`);
    if (FINISHED_STATES.includes(run.state))
      throw new RollgateError("ROLLGATE_E_RUN_FINISHED", `run ${run.id} has already ${run.state}`);
    const fleetFile = input.fleetFile ?? run.fleetFile;
    const fleet = held?.fleet ?? loadFleetFile(fleetFile);
    if (run.fleetId !== undefined && fleetIdentity(fleet) !== run.fleetId)
      throw new RollgateError(
        "ROLLGATE_E_PREFLIGHT_MISMATCH",
        `${fleetFile} describes other servers (or other addresses) than the fleet run ${run.id} was started on (${run.fleetFile}); a run is resumed only on its own fleet; nothing was done`,
      );
    const plan = await store.getPlan(run.id);
    const lock = held
      ? undefined
      : await early.raced(
          (async () => acquireHostLock(realpathSync(fleetFile), await fleetClaims(fleet, fleetFile)))(),
        );
    try {
      await store.acquireEngineLock(run.fleet, { pid: process.pid, host: hostname() });
      try {
        const journal = readJournal(await store.events(run.id), plan);
        const done = [...journal.steps].filter(([, st]) => st.status === "done").map(([id]) => id);
        input.onPlan?.(plan, { resumed: true, runId: run.id, done });
        const aborting = run.state === "aborting";
        if (aborting && !(await returnToServiceRequested(store, run.id))) {
          await store.setState(run.id, "aborted", "aborted while no engine was running");
          return { state: "aborted", runId: run.id, plan, statePath: input.statePath };
        }
        // an abort with return to service: the engine starts no step of the plan, observes every
        // cluster and returns to service what the run took out (engine/abort-return.ts), then ends aborted
        if (aborting) return await drive(store, run, fleet, plan, input.statePath, input, early);
        // G5: the fleet is observed before the engine acts on its journal's picture of it.
        const disagreement = await early.raced(
          resumePreflight(fleet, plan, journal, input.driverFor ?? defaultDriverFor),
        );
        if (disagreement) {
          input.onEvent?.(await store.append(run.id, { type: "escalation", escalation: disagreement }));
          input.onEvent?.(await store.setState(run.id, "escalated", `G5: ${disagreement.detail}`));
          return {
            state: "escalated",
            escalation: disagreement,
            runId: run.id,
            plan,
            statePath: input.statePath,
          };
        }
        if (run.state === "escalated" || run.state === "awaiting-confirmation" || run.state === "paused")
          await store.setState(run.id, "running", "resumed by an operator");
        return await drive(store, (await store.getRun(run.id))!, fleet, plan, input.statePath, input, early);
      } finally {
        await store.releaseEngineLock(run.fleet, process.pid);
      }
    } finally {
      lock?.release();
    }
  } finally {
    await store.close();
  }
}

/**
 * Before a run goes on, every server is observed and compared with what the journal says was
 * done: a release installed that is gone, a DMA cluster in another supercluster than its steps
 * put it in. Where the world disagrees with the journal the run escalates (G5) instead of acting
 * on a picture that is no longer true. Steps begun but not finished may have left either state.
 */
async function resumePreflight(
  fleet: Fleet,
  plan: Plan,
  journal: JournalView,
  driverFor: (c: Cluster) => Driver,
): Promise<Escalation | undefined> {
  const clusters = fleet.clusters.filter((c) => plan.steps.some((s) => s.cluster === c.name));
  const observed = await observeAll(clusters, driverFor, "resuming");
  const stepOf = (cluster: string, action: Step["action"], server?: string) =>
    plan.steps.find(
      (s) => s.cluster === cluster && s.action === action && (server === undefined || s.server === server),
    );
  const standing = (s: Step | undefined) => (s ? journal.steps.get(s.id) : undefined);
  const differences: string[] = [];
  for (const { cluster, server, obs } of observed) {
    const target = plan.targets[cluster.name] ?? plan.target;
    const install = stepOf(cluster.name, "install", cluster.pack === "polycom-dma" ? undefined : server.name);
    const st = standing(install);
    const onTarget = compareVersions(obs.release, target) === 0;
    if (st?.status === "done" && !onTarget)
      differences.push(
        `${server.name} runs ${obs.release}, though the journal has ${target} installed on it`,
      );
    else if (st && st.attempts === 0 && !onTarget && compareVersions(obs.release, server.version) !== 0)
      differences.push(
        `${server.name} runs ${obs.release}, though nothing was installed on it and the file says ${server.version}`,
      );
    if (cluster.pack !== "polycom-dma" || obs.supercluster === undefined) continue;
    const join = standing(stepOf(cluster.name, "join-supercluster"));
    const leaveStep = stepOf(cluster.name, "leave-supercluster");
    const leave = standing(leaveStep);
    const joinStep = stepOf(cluster.name, "join-supercluster");
    const seen = obs.supercluster ?? null;
    const say = (sc: string | null) => (sc ? `supercluster ${sc}` : "no supercluster");
    if (join?.status === "done" && seen !== joinStep!.supercluster)
      differences.push(
        `${server.name} sees ${cluster.name} in ${say(seen)}, though the journal has it joined to ${joinStep!.supercluster}`,
      );
    else if (
      leave?.status === "done" &&
      !join?.attempts &&
      seen !== null &&
      seen === (cluster.supercluster ?? null)
    )
      differences.push(
        `${server.name} sees ${cluster.name} in ${say(seen)}, though the journal has it gone from it`,
      );
    else if (leaveStep && leave?.attempts === 0 && seen !== (cluster.supercluster ?? null))
      differences.push(
        `${server.name} sees ${cluster.name} in ${say(seen)}, though it has not left ${say(cluster.supercluster ?? null)} yet`,
      );
  }
  if (differences.length === 0) return undefined;
  return {
    code: "ROLLGATE_E_ESCALATED",
    rule: "G5",
    detail: `the fleet changed since the run's journal was written, so its next steps would act on a wrong picture: ${differences.join("; ")}. Put the fleet back as the journal says, or abort the run and plan again from where the fleet stands`,
    manual: manualFor("G5"),
  };
}

async function drive(
  store: Store,
  run: RunRecord,
  fleet: Fleet,
  plan: Plan,
  statePath: string,
  input: DriveHooks & { confirmFinalize: boolean; escalateFactor?: number },
  early: EarlySignals,
): Promise<DriveResult> {
  if (input.confirmFinalize) {
    for (const s of plan.steps)
      if (s.pointOfNoReturn && !run.confirmed.includes(s.id))
        input.onEvent?.(await store.confirm(run.id, s.id, "--confirm-finalize"));
  }
  await input.onStore?.(store, run);
  // A question still open (or waiting its turn) is withdrawn when the engine ends, at the first
  // signal, and after an operator's "no": the run halts there, nothing more is asked.
  const questions = new AbortController();
  const declined = new Set<string>();
  const confirm = async (step: Step): Promise<"yes" | "wait" | "halt" | "no"> => {
    if (input.ask) {
      let yes: boolean;
      try {
        yes = await input.ask(
          `${step.id} is a point of no return (${step.rules.join(", ")}): the old release cannot come back after it. Go on?`,
          questions.signal,
        );
      } catch (e) {
        // Ctrl-C at the question (the terminal is in raw mode, so no SIGINT): a Ctrl-C as any other
        if ((e as Error)?.name === "AbortError" && !questions.signal.aborted) void interrupt("SIGINT");
        throw e;
      }
      if (yes) return "yes";
      declined.add(step.id);
      questions.abort();
      return "no";
    }
    return input.waitForConfirmation ? "wait" : "halt";
  };
  const engine = new Engine({
    store,
    runId: run.id,
    fleet,
    plan,
    driverFor: input.driverFor ?? defaultDriverFor,
    gate: ruleGate(fleet, plan),
    confirm,
    ...(input.onEvent ? { onEvent: input.onEvent } : {}),
    ...(input.escalateFactor ? { escalateFactor: input.escalateFactor } : {}),
    ...(input.correctOutOfOrder ? { correctOutOfOrder: true } : {}),
  });
  // SIGINT (Ctrl-C) and SIGTERM pause the run as `rollgate pause` does, durably in the store, at
  // once: no new step starts, running steps finish and reach the journal, then the engine returns
  // "paused" (exit 1). A signal never lands inside a journal write: better-sqlite3 writes
  // synchronously, and a handler runs between two of them. Every further signal is only told
  // to the shell (onInterrupt), which may exit at once; the run is then left as after a crash,
  // paused, and resume observes the steps that were under way again.
  let interrupts = 0;
  const interrupt = async (signal: "SIGINT" | "SIGTERM") => {
    interrupts += 1;
    if (interrupts === 1) {
      const before = await store.lastSeq();
      try {
        await pauseRun(
          store,
          (await store.getRun(run.id))!,
          `an operator (${signal === "SIGINT" ? "Ctrl-C" : signal})`,
        );
      } catch {
        // escalated, being aborted, or the store unusable: the engine still stops starting steps
      }
      for (const e of await store.events(run.id, before)) input.onEvent?.(e);
      engine.requestStop(`${signal}: running steps finished, no new step started`);
      // an open question is withdrawn at once: its answer could no longer confirm anything
      questions.abort();
    }
    if (input.onInterrupt)
      input.onInterrupt({
        signal,
        count: interrupts,
        runId: run.id,
        state: (await store.getRun(run.id))!.state,
      });
    else if (interrupts > 1) {
      // no shell to decide: the second signal does what it does to any program that does not catch it
      process.off("SIGINT", onSigint);
      process.off("SIGTERM", onSigterm);
      process.kill(process.pid, signal);
    }
  };
  const onSigint = () => void interrupt("SIGINT");
  const onSigterm = () => void interrupt("SIGTERM");
  // from here a signal pauses the run; one that came while the run was being created does too
  const came = early.engineStarts();
  process.on("SIGINT", onSigint);
  process.on("SIGTERM", onSigterm);
  if (came) void interrupt(came);
  try {
    const result = await engine.run().finally(() => questions.abort());
    return {
      ...result,
      runId: run.id,
      plan,
      statePath,
      ...(result.needsConfirmation && declined.has(result.needsConfirmation) ? { declined: true } : {}),
    };
  } finally {
    process.off("SIGINT", onSigint);
    process.off("SIGTERM", onSigterm);
  }
}
