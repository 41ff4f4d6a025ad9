import { RollgateError } from "../model/errors.ts";
import type { Store } from "../store/types.ts";
import type { RunRecord } from "../store/types.ts";

/**
 * Steering a run through its store: what `rollgate pause|resume|abort` and the dashboard's actions
 * do. A running engine reads the run's state from the store at every tick, so these work from any
 * process.
 */
export interface ControlResult {
  run: string;
  state: RunRecord["state"];
  /** The engine driving the run, when one is alive. */
  engine: { pid: number; host: string } | null;
  message: string;
}

function unfinished(run: RunRecord): void {
  if (run.state === "completed" || run.state === "aborted") {
    throw new RollgateError(
      "ROLLGATE_E_RUN_FINISHED",
      `run ${run.id} has already ${run.state === "completed" ? "completed" : "been aborted"}`,
    );
  }
}

/** No new step starts; running steps finish; the engine waits for resume. */
export function pauseRun(store: Store, run: RunRecord, by: string): ControlResult {
  unfinished(run);
  if (run.state !== "running" && run.state !== "awaiting-confirmation" && run.state !== "pending") {
    throw new RollgateError(
      "ROLLGATE_E_USAGE",
      `run ${run.id} is ${run.state}; only a running run can be paused`,
    );
  }
  store.setState(run.id, "paused", `paused by ${by}`);
  const engine = store.engineHolder(run.fleet) ?? null;
  return {
    run: run.id,
    state: "paused",
    engine,
    message: `paused run ${run.id}: running steps finish, no new step starts (resume continues)`,
  };
}

/** Running steps finish, no new step starts, the run ends aborted. */
export function abortRun(store: Store, run: RunRecord, by: string): ControlResult {
  unfinished(run);
  const engine = store.engineHolder(run.fleet) ?? null;
  const state = engine ? "aborting" : "aborted";
  store.setState(run.id, state, `aborted by ${by}`);
  return {
    run: run.id,
    state,
    engine,
    message: engine
      ? `aborting run ${run.id}: the engine (pid ${engine.pid}) finishes its running steps and starts no more`
      : `aborted run ${run.id} (no engine was running)`,
  };
}

/** Confirms the run's points of no return (G4): the one named, or every one not yet confirmed. */
export function confirmRun(store: Store, run: RunRecord, by: string, step?: string): string[] {
  unfinished(run);
  const pnr = store.getPlan(run.id).steps.filter((s) => s.pointOfNoReturn);
  if (step !== undefined && !pnr.some((s) => s.id === step)) {
    throw new RollgateError("ROLLGATE_E_USAGE", `${step} is not a point of no return of run ${run.id}`);
  }
  const todo = pnr
    .filter((s) => (step === undefined || s.id === step) && !run.confirmed.includes(s.id))
    .map((s) => s.id);
  for (const id of todo) store.confirm(run.id, id, by);
  return todo;
}

/**
 * Resumes a run whose engine is alive (paused, or waiting for a confirmation): hands it the word.
 * Returns undefined when no engine is alive: the caller must run one (`rollgate resume` does).
 */
export function resumeLiveRun(store: Store, run: RunRecord, by: string): ControlResult | undefined {
  unfinished(run);
  const engine = store.engineHolder(run.fleet);
  if (!engine) return undefined;
  if (run.state === "paused" || run.state === "awaiting-confirmation")
    store.setState(run.id, "running", `resumed by ${by}`);
  return {
    run: run.id,
    state: "running",
    engine,
    message: `resumed run ${run.id}: the engine (pid ${engine.pid}) continues`,
  };
}
