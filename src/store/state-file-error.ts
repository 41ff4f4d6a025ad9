import { RollgateError } from "../model/errors.ts";

/**
 * A SQLite error met while using a store (a file damaged, made read-only or filled up under a
 * command), as a coded error (exit 2) instead of an internal one; undefined for anything else.
 * Apart from state-file.ts so that printing an error does not load SQLite.
 */
export function stateFileError(e: unknown): RollgateError | undefined {
  const code = (e as { code?: unknown } | undefined)?.code;
  if ((e as Error | undefined)?.name !== "SqliteError" || typeof code !== "string") return undefined;
  if (!/^SQLITE_(CORRUPT|NOTADB|READONLY|CANTOPEN|IOERR|FULL|PERM)/.test(code)) return undefined;
  return new RollgateError("ROLLGATE_E_STATE_OPEN", `the state file cannot be used: ${(e as Error).message}`);
}
