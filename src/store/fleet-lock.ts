import { createHash } from "node:crypto";
import {
  chmodSync,
  mkdirSync,
  readFileSync,
  realpathSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { RollgateError } from "../model/errors.ts";

/**
 * One engine drives a fleet at a time, whatever state file each was given. The state file's own
 * lock (SqliteStore.acquireEngineLock) covers engines sharing a state file; this one covers the
 * fleet file itself, on this host.
 *
 * The lock is an exclusive SQLite transaction held open on a small lock database named after the
 * fleet file's real path (`$TMPDIR/rollgate-engines/<hash>.lock`): the operating system's file
 * lock, which the kernel releases when the holding process ends, however it ends (kill -9
 * included), so there is no stale lock to take over and no race in taking one over. A file beside
 * it names the holder for the message a second engine gets. The directory is shared by every user
 * of the host (mode 1777, like /tmp) and lock files are writable by all, so that engines of
 * different users exclude each other too.
 */
export interface FleetLock {
  path: string;
  release(): void;
}

interface Holder {
  pid: number;
  host: string;
  fleetFile: string;
  since: string;
}

export function lockDir(): string {
  return join(tmpdir(), "rollgate-engines");
}

function ioError(what: string, path: string, e: unknown): RollgateError {
  return new RollgateError(
    "ROLLGATE_E_RUN_LOCK_UNAVAILABLE",
    `cannot ${what} ${path}: ${(e as Error).message}; check its permissions (the directory is shared by every user of this host, mode 1777)`,
    { cause: e },
  );
}

function shareable(path: string, mode: number): void {
  try {
    if ((statSync(path).mode & 0o7777) !== mode) chmodSync(path, mode);
  } catch {
    /* another user's file: it was made shareable by its creator */
  }
}

export function acquireFleetLock(fleetFile: string, now: () => Date = () => new Date()): FleetLock {
  const real = realpathSync(fleetFile);
  const dir = lockDir();
  const path = join(dir, `${createHash("sha256").update(real).digest("hex").slice(0, 24)}.lock`);
  const holderPath = `${path}.holder.json`;
  let db: Database.Database;
  try {
    mkdirSync(dir, { recursive: true });
    shareable(dir, 0o1777);
    db = new Database(path, { timeout: 0 });
    shareable(path, 0o666);
  } catch (e) {
    throw ioError("open the engine lock", path, e);
  }
  try {
    // nothing is ever written: no journal file beside it (fails, like BEGIN, while another holds it)
    db.pragma("journal_mode = MEMORY");
    db.exec("BEGIN EXCLUSIVE"); // fails at once (SQLITE_BUSY) while another process holds it
  } catch (e) {
    db.close();
    if ((e as { code?: string }).code !== "SQLITE_BUSY") throw ioError("take the engine lock", path, e);
    let held: Holder | undefined;
    try {
      held = JSON.parse(readFileSync(holderPath, "utf8")) as Holder;
    } catch {
      held = undefined; // the holder is still writing it
    }
    throw new RollgateError(
      "ROLLGATE_E_RUN_LOCKED",
      `another rollgate engine (${held ? `pid ${held.pid} on ${held.host}, since ${held.since}` : "starting up"}) is driving fleet file ${real}; one engine drives a fleet at a time`,
      { details: { lock: path, ...(held ? { pid: held.pid, host: held.host } : {}) } },
    );
  }
  const me: Holder = { pid: process.pid, host: hostname(), fleetFile: real, since: now().toISOString() };
  try {
    writeFileSync(holderPath, `${JSON.stringify(me)}\n`);
    shareable(holderPath, 0o666);
  } catch {
    /* only the message of a second engine loses its detail */
  }
  let released = false;
  return {
    path,
    release: () => {
      if (released) return;
      released = true;
      try {
        if ((JSON.parse(readFileSync(holderPath, "utf8")) as Holder).pid === process.pid)
          unlinkSync(holderPath);
      } catch {
        /* gone already */
      }
      try {
        db.exec("ROLLBACK");
      } finally {
        db.close();
      }
    },
  };
}
