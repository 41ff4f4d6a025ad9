import { FINISHED_STATES } from "../events/types.ts";
import { RollgateError } from "../model/errors.ts";
import { type RunRecord, type Store, shownEngine } from "../store/types.ts";
import { readJournal } from "./journal.ts";

/**
 * Steering a run through its store: what `rollgate pause|resume|abort` and the dashboard's actions
 * do, in one place. A running engine reads the run's state from the store at every tick, so these
 * work from any process. Repeating an action that is already in effect is not an error.
 */
export interface ControlResult {
  run: string;
  state: RunRecord["state"];
  /** The engine driving the run, when one is alive. */
  engine: { pid: number; host: string } | null;
  message: string;
}

/** Moves the run from one of `from` to `to`, or refuses: another process changed it meanwhile. */
async function setStateOrRefuse(
  store: Store,
  run: RunRecord,
  what: string,
  from: Parameters<Store["setStateIf"]>[1],
  to: RunRecord["state"],
  why: string,
): Promise<void> {
  if (!(await store.setStateIf(run.id, from, to, why)))
    throw new RollgateError(
      "ROLLGATE_E_RUN_STATE",
      `run ${run.id} changed state meanwhile (${(await store.getRun(run.id))!.state}); nothing was ${what}`,
    );
}

function unfinished(run: RunRecord, verb: string): void {
  if (FINISHED_STATES.includes(run.state)) {
    throw new RollgateError(
      "ROLLGATE_E_RUN_FINISHED",
      `run ${run.id} has already ${run.state === "completed" ? "completed" : "been aborted"}: nothing to ${verb}`,
    );
  }
}

const engineOf = async (store: Store, run: RunRecord) => shownEngine(await store.engineHolder(run.fleet));

/** No new step starts; running steps finish; the engine waits for resume. */
export async function pauseRun(store: Store, run: RunRecord, by: string): Promise<ControlResult> {
  unfinished(run, "pause");
  const engine = await engineOf(store, run);
  const result = (message: string): ControlResult => ({ run: run.id, state: "paused", engine, message });
  if (run.state === "paused") return result(`run ${run.id} is already paused`);
  if (run.state !== "running" && run.state !== "awaiting-confirmation" && run.state !== "pending") {
    throw new RollgateError(
      "ROLLGATE_E_RUN_STATE",
      `run ${run.id} is ${run.state}; only a running run can be paused`,
    );
  }
  await setStateOrRefuse(
    store,
    run,
    "paused",
    ["running", "awaiting-confirmation", "pending"],
    "paused",
    `paused by ${by}`,
  );
  return result(`paused run ${run.id}: running steps finish, no new step starts (resume continues)`);
}

/**
 * An aborted run's return is asked again only while it is the fleet's latest run: once another run
 * of the same fleet (by its servers) has started, the servers are that run's, and the old run's
 * return would undo what the new one did (enable a server it disabled, start one it stopped).
 */
async function refuseIfSuperseded(store: Store, run: RunRecord): Promise<void> {
  const same = (r: RunRecord) =>
    r.fleetId !== undefined && run.fleetId !== undefined ? r.fleetId === run.fleetId : r.fleet === run.fleet;
  const later = (await store.listRuns())
    .filter((r) => r.id !== run.id && same(r) && r.createdAt > run.createdAt)
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt))
    .at(-1);
  if (!later) return;
  const open = !FINISHED_STATES.includes(later.state);
  throw new RollgateError(
    open ? "ROLLGATE_E_RUN_UNFINISHED" : "ROLLGATE_E_RUN_STATE",
    `run ${later.id} of this fleet (${later.target}, ${later.state}) started after run ${run.id}: the servers are its own now, and run ${run.id}'s return to service is not asked again (it would undo what run ${later.id} did); nothing was done. ${open ? `Abort run ${later.id} instead: rollgate abort FLEET --return-to-service --run ${later.id}` : "Bring the fleet file up to date (rollgate fleet sync FLEET --write) and plan from where the fleet stands"}`,
    { details: { run: run.id, later: later.id, state: later.state } },
  );
}

/** Does the run's abort ask the engine to return to service what the run took out? (its last `abort.requested`) */
export async function returnToServiceRequested(store: Store, runId: string): Promise<boolean> {
  let asked = false;
  for (const e of await store.events(runId)) if (e.type === "abort.requested") asked = e.returnToService;
  return asked;
}

export interface AbortOptions {
  /**
   * Once running steps finish, the engine returns to service every DMA cluster the run took out of
   * service that the rules let return (D6, D3), restoring its territories, and starts again every
   * Matrix server it stopped that may rejoin (M4, M3, M5; not mid-install, M9); it names the
   * others. Also of an escalated run (engine/loop.ts: the abort comes before the escalation's end).
   */
  returnToService?: boolean;
  /**
   * With returnToService and no engine alive, what drives the return (the message ends with it);
   * default: the commands that do.
   */
  noEngine?: string;
}

/**
 * Running steps finish, no new step starts, the run ends aborted. With returnToService, the engine
 * then brings back what the run took out of service (engine/abort-return.ts). Without an engine alive, the run
 * is left "aborting" for `rollgate resume` to do that return (a plain abort ends it at once).
 */
export async function abortRun(
  store: Store,
  run: RunRecord,
  by: string,
  options: AbortOptions = {},
): Promise<ControlResult> {
  const engine = await engineOf(store, run);
  const rts = options.returnToService === true;
  // An aborted run can still return to service what it took out (say an abort that left a
  // maintenance window's clusters busied out in their new supercluster, D5): it is reopened for
  // that return only; the engine starts no step of the plan (engine/loop.ts), and the run ends aborted.
  if (run.state === "aborted" && rts && !engine) {
    await refuseIfSuperseded(store, run);
    await store.append(run.id, { type: "abort.requested", by, returnToService: true });
    await setStateOrRefuse(
      store,
      run,
      "done",
      ["aborted"],
      "aborting",
      `return to service after the abort, by ${by}`,
    );
    return {
      run: run.id,
      state: "aborting",
      engine,
      message: `run ${run.id} was aborted: returning to service what it took out that may return`,
    };
  }
  unfinished(run, "abort");
  if (run.state === "aborting") {
    if (rts && !(await returnToServiceRequested(store, run.id))) {
      await store.append(run.id, { type: "abort.requested", by, returnToService: true });
      return {
        run: run.id,
        state: "aborting",
        engine,
        message: `run ${run.id} is already being aborted; it will also return to service what it took out`,
      };
    }
    return { run: run.id, state: "aborting", engine, message: `run ${run.id} is already being aborted` };
  }
  const state = engine || rts ? "aborting" : "aborted";
  const from = ["running", "awaiting-confirmation", "pending", "paused", "escalated"] as const;
  // the choice is journaled before the state changes: an engine that sees "aborting" reads it
  await store.append(run.id, { type: "abort.requested", by, returnToService: rts });
  await setStateOrRefuse(
    store,
    run,
    "aborted",
    from,
    state,
    `aborted by ${by}${rts ? ", returning to service what the run took out" : ""}`,
  );
  return {
    run: run.id,
    state,
    engine,
    message: engine
      ? `aborting run ${run.id}: the engine (pid ${engine.pid}) finishes its running steps and starts no more${rts ? ", then returns to service what the run took out (rollgate status says what came back)" : ""}`
      : rts
        ? `aborting run ${run.id}: no engine is running; an engine returns to service what the run took out and ends it aborted: ${options.noEngine ?? "`rollgate abort --return-to-service` or `rollgate resume` on the run's fleet file drives one"}`
        : `aborted run ${run.id} (no engine was running)`,
  };
}

/**
 * Confirms points of no return (G4): the one named, or every one not yet confirmed and not done.
 * Returns the steps newly confirmed.
 */
export async function confirmRun(store: Store, run: RunRecord, by: string, step?: string): Promise<string[]> {
  unfinished(run, "confirm");
  const plan = await store.getPlan(run.id);
  const journal = readJournal(await store.events(run.id), plan);
  const done = (id: string) => journal.steps.get(id)?.status === "done";
  if (step !== undefined) {
    const s = plan.steps.find((x) => x.id === step);
    if (!s) throw new RollgateError("ROLLGATE_E_USAGE", `run ${run.id}'s plan has no step ${step}`);
    if (!s.pointOfNoReturn)
      throw new RollgateError(
        "ROLLGATE_E_USAGE",
        `${step} is not a point of no return (G4); only those need a confirmation`,
      );
    if (done(step)) throw new RollgateError("ROLLGATE_E_RUN_STATE", `${step} is already done`);
  }
  const todo = plan.steps
    .filter(
      (s) =>
        s.pointOfNoReturn &&
        (step === undefined || s.id === step) &&
        !run.confirmed.includes(s.id) &&
        !done(s.id),
    )
    .map((s) => s.id);
  for (const id of todo) await store.confirm(run.id, id, by);
  return todo;
}

/**
 * Resumes a run whose engine is alive (paused, or waiting for a confirmation): hands it the word.
 * Returns undefined when no engine is alive: the caller must run one (`rollgate resume` does).
 */
export async function resumeLiveRun(
  store: Store,
  run: RunRecord,
  by: string,
): Promise<ControlResult | undefined> {
  unfinished(run, "resume");
  if (run.state === "aborting")
    throw new RollgateError("ROLLGATE_E_RUN_STATE", `run ${run.id} is being aborted; it cannot be resumed`);
  const holder = await store.engineHolder(run.fleet);
  const engine = shownEngine(holder);
  if (!engine) return undefined;
  if (run.state === "running")
    return {
      run: run.id,
      state: "running",
      engine,
      message: `run ${run.id} is already running (engine pid ${engine.pid} on ${engine.host})${
        holder?.expiresAt
          ? `; its lease runs to ${holder.expiresAt}, renewed while that engine lives: if it is gone, a standby (rollgate engine) takes the run over then`
          : ""
      }`,
    };
  await setStateOrRefuse(
    store,
    run,
    "resumed",
    ["paused", "awaiting-confirmation", "escalated"],
    "running",
    `resumed by ${by}`,
  );
  return {
    run: run.id,
    state: "running",
    engine,
    message: `resumed run ${run.id}: the engine (pid ${engine.pid}) continues`,
  };
}

const DMA_STEP = new Set([
  "reassign-territories",
  "busy-out",
  "leave-supercluster",
  "join-supercluster",
  "restore-territories",
  "return-to-service",
]);

/**
 * `rollgate abort --rollback`, asked before the run is touched: why its matrices cannot go back
 * to their old release, or undefined when they may. A matrix whose point of no return (M4, G4)
 * has begun cannot; a run of DMA clusters only has no matrix to take back (a DMA cluster's last
 * upgrade is rolled back on its own, D9: rollgate rollback --cluster C); a rollback is not rolled
 * back in turn; a matrix server the run only disabled, where the driver cannot enable it again, would
 * hold the rollback (M1, G3).
 */
export async function rollbackRefusal(
  store: Store,
  run: RunRecord,
  /** Whether the cluster's driver can enable a server (an ssh or exec driver may have no enable command). */
  canEnable: (cluster: string) => boolean = () => false,
): Promise<
  | {
      code:
        | "ROLLGATE_E_ROLLBACK_PAST_NO_RETURN"
        | "ROLLGATE_E_ROLLBACK_UNSUPPORTED"
        | "ROLLGATE_E_RUN_FINISHED";
      message: string;
    }
  | undefined
> {
  if (run.state === "completed")
    return {
      code: "ROLLGATE_E_RUN_FINISHED",
      message: `run ${run.id} has already completed: there is nothing to abort. A matrix it upgraded is past its point of no return (M4); a DMA cluster's last upgrade is rolled back with rollgate rollback FLEET --cluster C (D9)`,
    };
  const plan = await store.getPlan(run.id);
  if (plan.rollback)
    return {
      code: "ROLLGATE_E_ROLLBACK_UNSUPPORTED",
      message: `run ${run.id} is itself a rollback: abort it (with --return-to-service), then plan what you need from where the fleet stands`,
    };
  const dma = new Set(plan.steps.filter((s) => DMA_STEP.has(s.action)).map((s) => s.cluster));
  const matrixSteps = plan.steps.filter((s) => !dma.has(s.cluster));
  if (matrixSteps.length === 0)
    return {
      code: "ROLLGATE_E_ROLLBACK_UNSUPPORTED",
      message: `run ${run.id} upgrades DMA clusters only (${[...dma].join(", ")}): abort --rollback takes matrices back; nothing was done. A DMA cluster's last upgrade is rolled back on its own (D9): rollgate abort FLEET --return-to-service, rollgate fleet sync FLEET --write, then rollgate rollback FLEET --cluster C --yes`,
    };
  const journal = readJournal(await store.events(run.id), plan);
  // a chain (M8) has a point of no return per pass: only the pass under way counts, since a rollback
  // returns the matrix to the release that pass started from (an earlier pass's is behind it)
  const begun = (s: (typeof matrixSteps)[number]) => (journal.steps.get(s.id)?.attempts ?? 0) > 0;
  const pass = (s: (typeof matrixSteps)[number]) => s.pass?.n ?? 0;
  const passNow = new Map<string, number>();
  for (const s of matrixSteps)
    if (begun(s)) passNow.set(s.cluster, Math.max(passNow.get(s.cluster) ?? 0, pass(s)));
  const past = matrixSteps.filter((s) => s.pointOfNoReturn && begun(s) && pass(s) === passNow.get(s.cluster));
  // M11: a mode pass under way goes forward; taking servers back to the old mode is not built
  const modePass = matrixSteps.find(
    (s) => s.pass?.mode !== undefined && begun(s) && pass(s) === passNow.get(s.cluster),
  );
  if (modePass)
    return {
      code: "ROLLGATE_E_ROLLBACK_UNSUPPORTED",
      message: `run ${run.id} is in the mode pass of ${modePass.cluster} (pass ${modePass.pass!.n} of ${modePass.pass!.of}, to mode ${modePass.pass!.mode}, M11): rollgate does not take servers back to their old mode; nothing was done. Abort with --return-to-service, or let the run finish the pass (rollgate resume FLEET)`,
    };
  if (past.length === 0) {
    // a server the run disabled and has not stopped (a halt at the point of no return, say) is
    // enabled again by the abort's return to service (M9's disable undone); where the driver cannot
    // enable (no enable command) it stays disabled, and the rollback would count it out of service
    // (M1, G3) and hold at its first step. Refused before anything is done.
    const onlyDisabled = matrixSteps.filter(
      (s) =>
        s.action === "disable" &&
        !canEnable(s.cluster) &&
        begun(s) &&
        pass(s) === passNow.get(s.cluster) &&
        !matrixSteps.some(
          (x) => x.server === s.server && x.action === "stop" && pass(x) === pass(s) && begun(x),
        ),
    );
    if (onlyDisabled.length > 0)
      return {
        code: "ROLLGATE_E_ROLLBACK_UNSUPPORTED",
        message: `${onlyDisabled.map((s) => s.server).join(", ")} ${onlyDisabled.length === 1 ? "was" : "were"} disabled by the run (virtual services moved away) and not stopped: the fleet file's driver has no enable command (driver.ssh.commands.enable or driver.exec.commands.enable), so the abort leaves ${onlyDisabled.length === 1 ? "it" : "them"} disabled, and the rollback would count ${onlyDisabled.length === 1 ? "it" : "them"} out of service (M1, G3); nothing was done. Abort with --return-to-service, enable ${onlyDisabled.map((s) => s.server).join(", ")} by hand, then rollgate rollback FLEET --yes`,
      };
  }
  if (past.length > 0)
    return {
      code: "ROLLGATE_E_ROLLBACK_PAST_NO_RETURN",
      message: `${past.map((s) => `${s.cluster}'s point of no return (${s.id})`).join(", ")} has begun: the last old-release server has left, the matrix admits only the new release (M4, G4), and the old release cannot come back; nothing was done. Let the run finish (rollgate resume), or abort it and restore by hand`,
    };
  return undefined;
}
