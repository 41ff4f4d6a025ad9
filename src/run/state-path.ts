import { basename, dirname, join, resolve } from "node:path";
import { readRecord } from "../lab/record.ts";
import { isPostgresUrl, refuseStoreUrl } from "../store/location.ts";

// Where a command's state file is: apart from locate.ts so that the CLI resolves it without loading
// the store.

/** The default state file: `.rollgate/state.db` beside the fleet file. */
export function defaultStatePath(fleetFile: string): string {
  return join(dirname(resolve(fleetFile)), ".rollgate", "state.db");
}

/**
 * The store a command uses: `--state`, else the ROLLGATE_STATE environment variable, else the
 * default state file. A PostgreSQL URL (`postgres://user:secret@host/db`) is kept as it is, never
 * taken for a relative path (`postgres:/user:secret@host/db`); a URL of another kind is refused.
 */
export function statePathFrom(options: { state?: string; fleet?: string }): string {
  const state = options.state || process.env.ROLLGATE_STATE || undefined;
  if (state) {
    refuseStoreUrl(state);
    return isPostgresUrl(state) ? state : resolve(state);
  }
  if (options.fleet) return defaultStatePath(options.fleet);
  const here = resolve(".rollgate", "state.db");
  return here;
}

/** The original fleet file of a lab's derived fleet file (its lab record says), else undefined. */
export function labFleetOf(fleetFile: string): string | undefined {
  const abs = resolve(fleetFile);
  const m = /^(.*)\.lab\.yaml$/.exec(abs);
  if (!m || basename(dirname(abs)) !== "lab") return undefined;
  return readRecord(`${m[1]}.lab.json`)?.fleet;
}
