import { realpathSync } from "node:fs";
import { driverFor as defaultDriverFor } from "../drivers/index.ts";
import type { Driver } from "../drivers/driver.ts";
import { type Escalation, FINISHED_STATES } from "../events/types.ts";
import { loadFleetFile } from "../io/fleet-loader.ts";
import { RollgateError } from "../model/errors.ts";
import type { Cluster, Fleet } from "../model/fleet.ts";
import { compareVersions } from "../model/version.ts";
import type { Step } from "../model/step.ts";
import type { Plan } from "../plan/types.ts";
import { acquireHostLock, type HostLock } from "../store/host-lock.ts";
import { isStoreUrl, redactStoreUrl } from "../store/location.ts";
import { openStore } from "../store/open.ts";
import type { RunRecord, Store } from "../store/types.ts";
import { drive } from "./apply-drive.ts";
import { observeAll } from "./apply-preflight.ts";
import { EarlySignals } from "./apply-signals.ts";
import { type DriveResult, limitKey, type ResumeInput } from "./apply-types.ts";
import { returnToServiceRequested } from "./control.ts";
import { fleetClaims, fleetIdentity } from "./identity.ts";
import { type JournalView, readJournal } from "./journal.ts";
import { holdLease, type LeaseKeeper, leaseTiming } from "./lease.ts";
import { pickRun } from "./locate.ts";
import { manualFor } from "./manual.ts";

/** A run keeps the `--limit` it was started with: resuming it with another is refused, nothing done. */
export function refuseOtherLimit(runId: string, plan: Plan, limit: readonly string[] | undefined): void {
  if (limit === undefined || limitKey(limit) === limitKey(plan.limit)) return;
  const was = plan.limit?.length ? `--limit ${plan.limit.join(" --limit ")}` : "no --limit";
  const now = limit.length ? `--limit ${limit.join(" --limit ")}` : "no --limit";
  throw new RollgateError(
    "ROLLGATE_E_RUN_LIMIT_MISMATCH",
    `run ${runId} was started with ${was}; it cannot go on with ${now}: resume it as it was started (\`rollgate resume\` keeps its limit), or abort it and apply again; nothing was done`,
    { details: { run: runId, limit: plan.limit ?? [], given: [...limit] } },
  );
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
export async function resumeHolding(
  input: ResumeInput,
  early: EarlySignals,
  held?: { fleet: Fleet; lock: HostLock },
): Promise<DriveResult> {
  leaseTiming(); // a bad ROLLGATE_LEASE_SECONDS is refused before anything is read or written
  const store = openStore(input.statePath);
  try {
    // Without a run id, the one unfinished run (several are refused: locate.ts never guesses).
    const run = input.runId
      ? await store.getRun(input.runId)
      : await pickRun(store, { unfinishedOnly: true });
    if (!run)
      throw new RollgateError(
        "ROLLGATE_E_RUN_NOT_FOUND",
        `no unfinished run in ${redactStoreUrl(input.statePath)}`,
      );
    if (FINISHED_STATES.includes(run.state))
      throw new RollgateError("ROLLGATE_E_RUN_FINISHED", `run ${run.id} has already ${run.state}`);
    const fleetFile = input.fleetFile ?? run.fleetFile;
    let fleet = held?.fleet;
    if (!fleet) {
      fleet = loadFleetFile(fleetFile);
      input.onFleet?.(fleet, fleetFile);
    }
    if (run.fleetId !== undefined && fleetIdentity(fleet) !== run.fleetId)
      throw new RollgateError(
        "ROLLGATE_E_PREFLIGHT_MISMATCH",
        `${fleetFile} describes other servers (or other addresses) than the fleet run ${run.id} was started on (${run.fleetFile}); a run is resumed only on its own fleet; nothing was done`,
      );
    const plan = await store.getPlan(run.id);
    refuseOtherLimit(run.id, plan, input.limit);
    const hostLock = () =>
      (async () => acquireHostLock(realpathSync(fleetFile), await fleetClaims(fleet, fleetFile)))();
    // A state file: the host lock, then the run's lease (its engine lock, refused when held). A
    // PostgreSQL store: the lease first, waiting as a standby while a live engine holds it, then
    // the host lock (docs/ha.md): the journal is read only once this engine leads.
    const networked = isStoreUrl(input.statePath);
    let lock = held || networked ? undefined : await early.raced(hostLock());
    let keeper: LeaseKeeper | undefined;
    try {
      const got = await early.raced(
        holdLease(store, run.id, {
          ...(input.onStandby ? { onStandby: input.onStandby } : {}),
          signal: early.questions,
        }),
      );
      if ("finished" in got) {
        return {
          state: got.finished.state,
          runId: run.id,
          plan,
          statePath: input.statePath,
          leftAlone: `run ${run.id} has ${got.finished.state} under another engine; this one did nothing`,
        };
      }
      keeper = got.keeper;
      const left = STANDBY_LEAVES.find((s) => s === got.run.state);
      if ((input.standby || got.waited) && left)
        return {
          state: left,
          runId: run.id,
          plan,
          statePath: input.statePath,
          leftAlone: `run ${run.id} is ${left}: a standby leaves a run a person paused or must look at as it is, and acted on nothing; continue it with rollgate resume`,
        };
      if (networked && !held) lock = await early.raced(waitForHostLock(hostLock, input, early.questions));
      return await driveLeased(store, got.run, fleet, plan, input, early, keeper);
    } finally {
      await keeper?.release();
      lock?.release();
    }
  } finally {
    await store.close();
  }
}

/** What a standby that takes the lease does not continue: a person paused the run, or must look at it. */
const STANDBY_LEAVES = ["paused", "escalated", "awaiting-confirmation"] as const;

/** The run once this engine holds its lease: the journal read, the fleet observed (G5), then driven. */
async function driveLeased(
  store: Store,
  run: RunRecord,
  fleet: Fleet,
  plan: Plan,
  input: ResumeInput,
  early: EarlySignals,
  keeper: LeaseKeeper,
): Promise<DriveResult> {
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
  if (aborting) return await drive(store, run, fleet, plan, input.statePath, input, early, keeper);
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
  return await drive(
    store,
    (await store.getRun(run.id))!,
    fleet,
    plan,
    input.statePath,
    input,
    early,
    keeper,
  );
}

/**
 * The host lock, for an engine that already leads its run (a PostgreSQL store): on this host a
 * former leader that was stopped (SIGSTOP) still holds it until it is continued, finds its lease
 * lost and exits, so this engine waits for it, saying so once, its lease renewed meanwhile.
 */
async function waitForHostLock(
  take: () => Promise<HostLock>,
  input: ResumeInput,
  signal: AbortSignal,
): Promise<HostLock> {
  let said = false;
  for (;;) {
    try {
      return await take();
    } catch (e) {
      if (!(e instanceof RollgateError) || e.code !== "ROLLGATE_E_RUN_LOCKED" || signal.aborted) throw e;
      if (!said) input.onStandby?.(`this engine leads the run now; waiting for the host lock: ${e.message}`);
      said = true;
      await new Promise((r) => setTimeout(r, 250));
    }
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
  const installsOf = new Map<string, Step[]>();
  for (const s of plan.steps) {
    if (s.action !== "install") continue;
    const key = `${s.cluster}/${s.server ?? ""}`;
    const list = installsOf.get(key);
    if (list) list.push(s);
    else installsOf.set(key, [s]);
  }
  for (const { cluster, server, obs } of observed) {
    // the install the journal last saw done (a chained path has one per pass, M8), else the first
    const installs =
      installsOf.get(`${cluster.name}/${cluster.pack === "polycom-dma" ? "" : server.name}`) ?? [];
    const doneInstalls = installs.filter((s) => standing(s)?.status === "done");
    const next = installs.find((s) => standing(s)?.status !== "done");
    const install = doneInstalls.at(-1) ?? installs[0];
    const st = standing(install);
    const target = install?.release ?? plan.targets[cluster.name] ?? plan.target;
    // the next pass's install may have begun as well (either release is then what it may run)
    const onTarget =
      compareVersions(obs.release, target) === 0 ||
      (doneInstalls.length > 0 &&
        next?.release !== undefined &&
        (standing(next)?.attempts ?? 0) > 0 &&
        compareVersions(obs.release, next.release) === 0);
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
