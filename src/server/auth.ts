import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import type { Store, StoredToken } from "../store/types.ts";
import { RollgateError } from "../model/errors.ts";

export type Role = StoredToken["role"];
export const ROLES: readonly Role[] = ["viewer", "operator"];

/** sha256 of the token, hex. Tokens are 32 random bytes, so a fast hash is enough (no guessing). */
export function hashToken(token: string): string {
  return createHash("sha256").update(token, "utf8").digest("hex");
}

/**
 * Makes a token, stores only its hash, and returns the token (shown once, never stored or logged).
 * Format: `rg_<id>_<secret>`; the id is not secret and names the token in the journal. With a
 * ttl (seconds) it is refused from `now + ttl` on; without one it lasts until revoked.
 */
export async function createToken(
  store: Store,
  role: Role,
  options: { ttlSeconds?: number; now?: Date; run?: string } = {},
): Promise<{ id: string; role: Role; token: string; expiresAt?: string; run?: string }> {
  const now = options.now ?? new Date();
  const id = randomBytes(4).toString("hex");
  const token = `rg_${id}_${randomBytes(32).toString("base64url")}`;
  const expiresAt =
    options.ttlSeconds === undefined
      ? undefined
      : new Date(now.getTime() + options.ttlSeconds * 1000).toISOString();
  await store.addToken({
    id,
    role,
    hash: hashToken(token),
    createdAt: now.toISOString(),
    ...(expiresAt ? { expiresAt } : {}),
    ...(options.run ? { run: options.run } : {}),
  });
  return {
    id,
    role,
    token,
    ...(expiresAt ? { expiresAt } : {}),
    ...(options.run ? { run: options.run } : {}),
  };
}

export type TokenState = "active" | "expired" | "revoked";

export function tokenState(t: StoredToken, now = new Date()): TokenState {
  if (t.revokedAt) return "revoked";
  if (t.expiresAt && Date.parse(t.expiresAt) <= now.getTime()) return "expired";
  return "active";
}

export interface Principal {
  id: string;
  role: Role;
  /** The one run this token may read and steer; none: every run in the state file. */
  run?: string;
}

/** Finds the token a request presents (Authorization: Bearer …), comparing hashes in constant time. */
export async function authenticate(
  store: Store,
  header: string | undefined,
  now = new Date(),
): Promise<Principal> {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? "");
  if (!m) {
    throw new RollgateError(
      "ROLLGATE_E_API_UNAUTHORIZED",
      "missing token: send Authorization: Bearer TOKEN (rollgate token create --role viewer|operator)",
    );
  }
  const presented = Buffer.from(hashToken(m[1]!), "hex");
  let found: StoredToken | undefined;
  for (const t of await store.tokens()) {
    const stored = Buffer.from(t.hash, "hex");
    // Every stored hash is compared, matched or not, so timing tells nothing.
    if (stored.length === presented.length && timingSafeEqual(stored, presented)) found = t;
  }
  if (!found) throw new RollgateError("ROLLGATE_E_API_UNAUTHORIZED", "unknown token");
  const state = tokenState(found, now);
  if (state === "revoked")
    throw new RollgateError(
      "ROLLGATE_E_API_UNAUTHORIZED",
      `token ${found.id} was revoked at ${found.revokedAt}`,
    );
  if (state === "expired")
    throw new RollgateError("ROLLGATE_E_API_UNAUTHORIZED", `token ${found.id} expired at ${found.expiresAt}`);
  return { id: found.id, role: found.role, ...(found.run ? { run: found.run } : {}) };
}

/**
 * What a route needs, from its route config (`{ config: PUBLIC }`, `{ config: OPERATOR }`): a
 * route without one needs a token of any role. Nothing is public unless its route says so.
 */
export type Access = "public" | "token" | "operator";
export const PUBLIC = { access: "public" } as const;
export const OPERATOR = { access: "operator" } as const;

export function accessOf(config: unknown): Access {
  const a = (config as { access?: unknown } | undefined)?.access;
  return a === "public" || a === "operator" ? a : "token";
}

export function requireOperator(p: Principal): void {
  if (p.role !== "operator") {
    throw new RollgateError(
      "ROLLGATE_E_API_FORBIDDEN",
      `token ${p.id} is a ${p.role}: only an operator token may steer a run`,
    );
  }
}

/** Whether a token may see or steer a run: a scoped token only its own. */
export const inScope = (p: Principal, runId: string): boolean => p.run === undefined || p.run === runId;

/**
 * Refuses a token scoped to one run (an `apply --dashboard` link's) on another run's routes:
 * a dashboard opened for one run never confirms (G4) or steers another fleet's run in a shared
 * state file, nor reads it.
 */
export function requireScope(p: Principal, runId: string): void {
  if (!inScope(p, runId)) {
    throw new RollgateError(
      "ROLLGATE_E_API_OUT_OF_SCOPE",
      `token ${p.id} is scoped to run ${p.run}: it may not read or steer run ${runId}`,
    );
  }
}
