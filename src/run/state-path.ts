import { dirname, join, resolve } from "node:path";
import { refuseStoreUrl } from "../store/location.ts";

// Where a command's state file is: apart from locate.ts so that the CLI resolves it without loading
// the store.

/** The default state file: `.rollgate/state.db` beside the fleet file. */
export function defaultStatePath(fleetFile: string): string {
  return join(dirname(resolve(fleetFile)), ".rollgate", "state.db");
}

/**
 * The state file a command uses. A `--state` URL (`postgres://user:secret@host/db`) is refused here,
 * before it could be taken for a relative path (`postgres:/user:secret@host/db`) and created.
 */
export function statePathFrom(options: { state?: string; fleet?: string }): string {
  if (options.state) {
    refuseStoreUrl(options.state);
    return resolve(options.state);
  }
  if (options.fleet) return defaultStatePath(options.fleet);
  const here = resolve(".rollgate", "state.db");
  return here;
}
