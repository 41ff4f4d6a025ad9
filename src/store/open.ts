import { existsSync } from "node:fs";
import { envSeconds } from "../model/duration.ts";
import { RollgateError } from "../model/errors.ts";
import { isPostgresUrl, isStoreUrl, refuseStoreUrl } from "./location.ts";
import { PostgresStore } from "./postgres.ts";
import { SqliteStore } from "./sqlite.ts";
import type { Store } from "./types.ts";

/**
 * How every command opens its store: from a location. A path is a SQLite state file (the embedded
 * default); a postgres:// or postgresql:// URL is a PostgreSQL database (store/postgres.ts), whose
 * schema the store checks or creates on its first call; any other URL is refused with a clear
 * message, never taken for a file name.
 *
 * Reading commands (status, serve, token list) open it read-only: they write nothing, create
 * nothing, and refuse a file that is not a rollgate store. Writing commands (apply, resume, pause,
 * abort, token create/revoke) open it read-write, which creates a missing store but refuses an
 * existing file that is not one (store/state-file.ts).
 */
export function openStore(location: string, options: { readonly?: boolean; now?: () => Date } = {}): Store {
  refuseStoreUrl(location);
  if (isPostgresUrl(location)) {
    // how long a command waits for an unreachable PostgreSQL (0.1 s to a day); unset, the defaults
    const wait = envSeconds(process.env, "ROLLGATE_STATE_WAIT_SECONDS", 0.1, 86_400);
    return new PostgresStore(location, {
      ...options,
      ...(wait !== undefined ? { waitMs: wait * 1000 } : {}),
    });
  }
  return new SqliteStore(location, options);
}

/** Opens a store that must exist already (never creates one). */
export function openExistingStore(location: string, options: { readonly?: boolean } = {}): Store {
  if (!isStoreUrl(location) && !existsSync(location)) {
    throw new RollgateError(
      "ROLLGATE_E_RUN_NOT_FOUND",
      `no state file at ${location}: no run has been started for this fleet (use --state PATH to point at one)`,
    );
  }
  return openStore(location, options);
}
