import { RollgateError } from "../model/errors.ts";

/**
 * A store's location as an operator gives it (`--state`, or ROLLGATE_STATE): a path is a SQLite
 * state file; a postgres:// or postgresql:// URL is a PostgreSQL store (store/postgres.ts). Apart
 * from open.ts so that the CLI tells a URL from a path before it resolves one, without loading a store.
 */
const URL_SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i;

export function isStoreUrl(location: string): boolean {
  return URL_SCHEME.test(location);
}

/** Whether a location names a PostgreSQL store (postgres:// or postgresql://). */
export function isPostgresUrl(location: string): boolean {
  const scheme = URL_SCHEME.exec(location)?.[1]?.toLowerCase();
  return scheme === "postgres" || scheme === "postgresql";
}

/**
 * Throws ROLLGATE_E_STATE_OPEN for a URL of a kind rollgate has no store for (its password never
 * shown); a path or a PostgreSQL URL passes.
 */
export function refuseStoreUrl(location: string): void {
  const scheme = URL_SCHEME.exec(location)?.[1]?.toLowerCase();
  if (scheme === undefined || isPostgresUrl(location)) return;
  throw new RollgateError(
    "ROLLGATE_E_STATE_OPEN",
    `cannot open ${redactStoreUrl(location)}: no store of kind ${scheme}://; use a state file path (--state PATH) or postgres://user@host:port/db`,
  );
}

/**
 * Query parameters that carry a secret in a connection URL (libpq's password, sslpassword,
 * sslkey's passphrase…, and the usual token/secret names): their value is never shown.
 */
const SECRET_PARAMS =
  /([?&;](?:[a-z_]*pass(?:word|phrase)?|[a-z_]*secret|[a-z_]*token|api[_-]?key)=)[^&#\s"'<>]*?(?=[&#\s"'<>]|:\s|:$|$)/gi;

/**
 * A location as it may be printed: a URL's user information (user:password) and the value of
 * every query parameter that carries a secret (postgres://h/db?password=…) are never shown.
 */
export function redactStoreUrl(location: string): string {
  return location.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/?#]*@/i, "$1***@").replace(SECRET_PARAMS, "$1***");
}

/**
 * The secrets a location carries, as written: the password of its user information and the value
 * of every query parameter redactStoreUrl hides. (The CLI scrubs them from all it prints.)
 */
export function secretsInLocation(location: string): string[] {
  const out: string[] = [];
  const userinfo = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)@/i.exec(location)?.[1];
  if (userinfo?.includes(":")) out.push(userinfo.slice(userinfo.indexOf(":") + 1));
  for (const m of location.matchAll(SECRET_PARAMS)) out.push(m[0].slice(m[1]!.length));
  return out.filter((v) => v !== "");
}

/**
 * Any text as it may be logged: the user information of every URL in it (postgres://user:pass@,
 * http://user:pass@) shown as `***`, as redactStoreUrl shows a location's.
 */
export function redactCredentials(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^/?#\s"'<>]*@/gi, "$1***@").replace(SECRET_PARAMS, "$1***");
}
