import { dirname, join, resolve } from "node:path";
import { RollgateError } from "../model/errors.ts";
import type { SqliteStore } from "../store/sqlite.ts";
import type { RunRecord } from "../store/types.ts";

/** The default state file: `.rollgate/state.db` beside the fleet file. */
export function defaultStatePath(fleetFile: string): string {
  return join(dirname(resolve(fleetFile)), ".rollgate", "state.db");
}

export function statePathFrom(options: { state?: string; fleet?: string }): string {
  if (options.state) return resolve(options.state);
  if (options.fleet) return defaultStatePath(options.fleet);
  const here = resolve(".rollgate", "state.db");
  return here;
}

/** Opens an existing state file (never creates one); the opening itself is store/open.ts's. */
export { openExistingStore } from "../store/open.ts";

/** The run a control command acts on: the one named, else the newest unfinished, else the newest. */
export function pickRun(store: SqliteStore, options: { run?: string; unfinishedOnly?: boolean }): RunRecord {
  if (options.run) {
    const r = store.getRun(options.run);
    if (!r) throw new RollgateError("ROLLGATE_E_RUN_NOT_FOUND", `no run ${options.run} in the state file`);
    return r;
  }
  const unfinished = store.findUnfinishedRun();
  if (unfinished) return unfinished;
  const newest = store.listRuns()[0];
  if (!newest) throw new RollgateError("ROLLGATE_E_RUN_NOT_FOUND", "the state file holds no run");
  if (options.unfinishedOnly)
    throw new RollgateError(
      "ROLLGATE_E_RUN_FINISHED",
      `run ${newest.id} has already ${newest.state === "completed" ? "completed" : "been aborted"}`,
    );
  return newest;
}
