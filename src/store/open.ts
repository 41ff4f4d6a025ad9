import { existsSync } from "node:fs";
import { RollgateError } from "../model/errors.ts";
import { SqliteStore } from "./sqlite.ts";

/**
 * How every command opens its state file. Reading commands (status, serve, token list) open it
 * read-only: they write nothing, create nothing, and refuse a file that is not a rollgate store.
 * Writing commands (apply, resume, pause, abort, token create/revoke) open it read-write, which
 * creates a missing store but refuses an existing file that is not one (store/state-file.ts).
 */
export function openStore(path: string, options: { readonly?: boolean; now?: () => Date } = {}): SqliteStore {
  return new SqliteStore(path, options);
}

/** Opens a state file that must exist already (never creates one). */
export function openExistingStore(path: string, options: { readonly?: boolean } = {}): SqliteStore {
  if (!existsSync(path)) {
    throw new RollgateError(
      "ROLLGATE_E_RUN_NOT_FOUND",
      `no state file at ${path}: no run has been started for this fleet (use --state PATH to point at one)`,
    );
  }
  return openStore(path, options);
}
