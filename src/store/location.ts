import { RollgateError } from "../model/errors.ts";

/**
 * A store's location as an operator gives it (`--state`): a path is a SQLite state file; a URL
 * names a networked store, and none is built yet (a PostgreSQL store is issue 10's). Apart from
 * open.ts so that the CLI refuses a URL before it resolves a path, and without loading the store.
 */
const URL_SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i;

export function isStoreUrl(location: string): boolean {
  return URL_SCHEME.test(location);
}

/** Throws ROLLGATE_E_STATE_OPEN for a URL (its password never shown); a path passes. */
export function refuseStoreUrl(location: string): void {
  const scheme = URL_SCHEME.exec(location)?.[1]?.toLowerCase();
  if (scheme === undefined) return;
  throw new RollgateError(
    "ROLLGATE_E_STATE_OPEN",
    scheme === "postgres" || scheme === "postgresql"
      ? `cannot open ${redactStoreUrl(location)}: a PostgreSQL store is not built yet; use a state file path (--state PATH)`
      : `cannot open ${redactStoreUrl(location)}: no store of kind ${scheme}://; use a state file path (--state PATH)`,
  );
}

/** A location as it may be printed: a URL's user information (password) is never shown. */
export function redactStoreUrl(location: string): string {
  return location.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, "$1***@");
}

/**
 * Any text as it may be logged: the user information of every URL in it (postgres://user:pass@,
 * http://user:pass@) shown as `***`, as redactStoreUrl shows a location's.
 */
export function redactCredentials(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^/?#\s"'<>]*@/gi, "$1***@");
}
