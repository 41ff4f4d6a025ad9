import { dirname, join, resolve } from "node:path";

// Where a command's state file is: apart from locate.ts so that the CLI resolves it without loading
// the store.

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
