import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
} from "node:fs";
import { dirname, resolve } from "node:path";
import Database from "better-sqlite3";
import { RollgateError } from "../model/errors.ts";

/**
 * Opening a state file, in one place (store/open.ts is what callers use). A rollgate store
 * identifies itself: `PRAGMA application_id` is APPLICATION_ID and its `meta` table holds the
 * schema version. A file that is anything else (another application's SQLite database, a file
 * that is not SQLite at all, a truncated one, a directory) is refused with ROLLGATE_E_STATE_OPEN
 * before anything is written to it; a read-only open never writes at all.
 */

/** "roll", big-endian, in the SQLite header at offset 68. */
export const APPLICATION_ID = 0x726f6c6c;
/**
 * 1: the first stores (no application_id); 2: tokens expire and can be revoked, runs carry their
 * fleet's identity; 3: a token may be scoped to one run (`apply --dashboard`'s, `token create --run`).
 */
export const SCHEMA_VERSION = 3;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
  id TEXT PRIMARY KEY, fleet TEXT NOT NULL, fleet_file TEXT NOT NULL, target TEXT NOT NULL,
  strategy TEXT NOT NULL, state TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
  plan_json TEXT NOT NULL, confirmed_json TEXT NOT NULL DEFAULT '[]', fleet_id TEXT
);
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL REFERENCES runs(id),
  at TEXT NOT NULL, type TEXT NOT NULL, body_json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_run ON events(run_id, seq);
CREATE TABLE IF NOT EXISTS locks (fleet TEXT PRIMARY KEY, pid INTEGER NOT NULL, host TEXT NOT NULL, acquired_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (
  id TEXT PRIMARY KEY, role TEXT NOT NULL, hash TEXT NOT NULL, created_at TEXT NOT NULL,
  expires_at TEXT, revoked_at TEXT, run_id TEXT
);
`;

/** The tables every version of the store has; a file without all of them is not a store. */
const STORE_TABLES = ["meta", "runs", "events", "locks", "tokens"];

function refuse(path: string, why: string): RollgateError {
  return new RollgateError("ROLLGATE_E_STATE_OPEN", `cannot open the state file ${path}: ${why}`);
}

interface Header {
  /** 0 bytes: a file made by touch or mktemp, which a writing command may make a store. */
  empty: boolean;
  applicationId: number;
  wal: boolean;
}

/** Reads the file's SQLite header (the first 100 bytes) without opening it as a database. */
function readHeader(path: string, size: number): Header {
  if (size === 0) return { empty: true, applicationId: 0, wal: false };
  const buf = Buffer.alloc(100);
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (e) {
    throw refuse(path, (e as NodeJS.ErrnoException).code === "EACCES" ? "permission denied" : String(e));
  }
  let n: number;
  try {
    n = readSync(fd, buf, 0, 100, 0);
  } finally {
    closeSync(fd);
  }
  if (n < 100 || buf.toString("latin1", 0, 16) !== "SQLite format 3\u0000")
    throw refuse(path, "it is not a SQLite database, so not a rollgate state file");
  const rawPageSize = buf.readUInt16BE(16);
  const pageSize = rawPageSize === 1 ? 65_536 : rawPageSize;
  const pages = buf.readUInt32BE(28);
  // the page count in the header is valid when its change counter matches (SQLite ≥ 3.7.0)
  const counted = buf.readUInt32BE(24) === buf.readUInt32BE(92);
  if (counted && pages > 0 && size < pageSize * pages)
    throw refuse(path, `it is truncated (${size} bytes of the ${pageSize * pages} its header describes)`);
  return { empty: false, applicationId: buf.readInt32BE(68), wal: buf[18] === 2 || buf[19] === 2 };
}

/** Checks that an open database is a rollgate store this version can read; returns its version. */
function checkStore(db: Database.Database, path: string, applicationId: number): number {
  const tables = new Set(
    (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]).map(
      (t) => t.name,
    ),
  );
  const missing = STORE_TABLES.filter((t) => !tables.has(t));
  if (missing.length > 0) {
    const found = [...tables].filter((t) => !t.startsWith("sqlite_"));
    throw refuse(
      path,
      `it is a SQLite database but not a rollgate state file (${found.length ? `its tables: ${found.slice(0, 8).join(", ")}` : "it has no tables"}); rollgate leaves it as it is`,
    );
  }
  const row = db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get() as
    | { value: string }
    | undefined;
  const version = Number(row?.value);
  if (!Number.isInteger(version) || version < 1)
    throw refuse(path, "it has rollgate's tables but no schema version, so it is not a rollgate state file");
  if (version > SCHEMA_VERSION)
    throw refuse(
      path,
      `it was written by a newer rollgate (schema ${version}; this one reads up to ${SCHEMA_VERSION})`,
    );
  if (applicationId !== APPLICATION_ID && applicationId !== 0)
    throw refuse(path, `its application_id is 0x${(applicationId >>> 0).toString(16)}, not rollgate's`);
  return version;
}

/**
 * Makes the missing directories above a new state file one by one (a recursive mkdir on /proc
 * spins), after checking that the nearest existing one is a directory.
 */
function ensureDirectory(path: string, dir: string): void {
  const missing: string[] = [];
  let d = dir;
  for (;;) {
    try {
      if (!statSync(d).isDirectory()) throw refuse(path, `${d} is not a directory`);
      break;
    } catch (e) {
      if (e instanceof RollgateError) throw e;
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOTDIR") throw refuse(path, `a part of ${d} is not a directory`);
      if (code !== "ENOENT") throw refuse(path, `${d}: ${(e as Error).message}`);
      missing.push(d);
      const up = dirname(d);
      if (up === d) throw refuse(path, `${d} does not exist`);
      d = up;
    }
  }
  for (const m of missing.reverse()) {
    try {
      mkdirSync(m, 0o700);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EEXIST" && statSync(m).isDirectory()) continue;
      throw refuse(path, `cannot create the directory ${m}: ${(e as Error).message}`);
    }
  }
}

function writable(path: string): void {
  for (const p of [path, dirname(path)]) {
    try {
      accessSync(p, constants.W_OK);
    } catch {
      // the file (it has a header) and its directory exist: access(W_OK) fails only for no write access
      throw refuse(
        path,
        p === path
          ? "it is read-only (a reading command such as status or token list can read it)"
          : `its directory ${p} is read-only (SQLite writes its journal beside the file)`,
      );
    }
  }
}

/** Adds what later versions of the schema have to an older store; inside a write transaction. */
function migrate(db: Database.Database): void {
  db.transaction(() => {
    db.exec(SCHEMA);
    const cols = new Set(
      (db.prepare("PRAGMA table_info(tokens)").all() as { name: string }[]).map((c) => c.name),
    );
    if (!cols.has("expires_at")) db.exec("ALTER TABLE tokens ADD COLUMN expires_at TEXT");
    if (!cols.has("revoked_at")) db.exec("ALTER TABLE tokens ADD COLUMN revoked_at TEXT");
    // the run a token is scoped to (schema 3); tokens made before have none: every run
    if (!cols.has("run_id")) db.exec("ALTER TABLE tokens ADD COLUMN run_id TEXT");
    const runCols = new Set(
      (db.prepare("PRAGMA table_info(runs)").all() as { name: string }[]).map((c) => c.name),
    );
    // the fleet's identity (run/identity.ts); runs of the first version have none
    if (!runCols.has("fleet_id")) db.exec("ALTER TABLE runs ADD COLUMN fleet_id TEXT");
    db.prepare(
      "INSERT INTO meta(key, value) VALUES ('schema_version', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value WHERE CAST(value AS INTEGER) < CAST(excluded.value AS INTEGER)",
    ).run(String(SCHEMA_VERSION));
  }).immediate();
  if (db.pragma("application_id", { simple: true }) !== APPLICATION_ID)
    db.pragma(`application_id = ${APPLICATION_ID}`);
}

function sqliteMessage(path: string, e: unknown): RollgateError {
  if (e instanceof RollgateError) return e;
  const code = (e as { code?: string }).code ?? "";
  const why =
    code === "SQLITE_CORRUPT" || code === "SQLITE_NOTADB"
      ? `it is damaged or not a database (${(e as Error).message})`
      : code.startsWith("SQLITE_READONLY")
        ? `it cannot be written (${(e as Error).message})`
        : (e as Error).message;
  return refuse(path, why);
}

export interface OpenedStateFile {
  db: Database.Database;
  /** Whether the tokens table has the expiry and revocation columns (schema 2). */
  tokenLifetimes: boolean;
  /** Whether the tokens table has the run scope column (schema 3). */
  tokenRuns: boolean;
}

/**
 * Opens (read-only: never writes, never creates) or opens-or-creates a state file. Read-write
 * opens set WAL and synchronous=FULL and bring an older store's schema up to date.
 */
export function openStateFile(path: string, options: { readonly: boolean }): OpenedStateFile {
  if (path === ":memory:") {
    const db = new Database(":memory:");
    migrate(db);
    return { db, tokenLifetimes: true, tokenRuns: true };
  }
  const abs = resolve(path);
  let size: number | undefined;
  try {
    const st = statSync(abs);
    if (!st.isFile()) throw refuse(path, st.isDirectory() ? "it is a directory" : "it is not a regular file");
    size = st.size;
  } catch (e) {
    if (e instanceof RollgateError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== "ENOENT") throw refuse(path, (e as Error).message);
  }
  if (size === undefined) {
    if (options.readonly) throw refuse(path, "it does not exist");
    ensureDirectory(path, dirname(abs));
    // made here, empty and private (SQLite gives its -wal and -shm files the same mode)
    try {
      closeSync(openSync(abs, "wx", 0o600));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw refuse(path, (e as Error).message);
    }
  }
  const header = size === undefined ? undefined : readHeader(abs, size);
  if (header?.empty && options.readonly) throw refuse(path, "it is empty, not a rollgate state file");
  if (header && !header.empty && header.applicationId !== APPLICATION_ID && header.applicationId !== 0)
    throw refuse(
      path,
      `it is another application's SQLite database (application_id 0x${(header.applicationId >>> 0).toString(16)}); rollgate leaves it as it is`,
    );
  if (header && !options.readonly) writable(abs);

  // A file with no application_id may be a store of the first version or anyone's database:
  // look inside with a read-only connection first. For a WAL file that connection makes -wal
  // and -shm files if they are missing; they are removed again if the file is not a store.
  if (header && !header.empty && header.applicationId === 0) {
    const sidecars = [`${abs}-wal`, `${abs}-shm`].filter((p) => !existsSync(p));
    let probe: Database.Database | undefined;
    try {
      probe = new Database(abs, { readonly: true, fileMustExist: true, timeout: 10_000 });
      checkStore(probe, path, 0);
    } catch (e) {
      probe?.close();
      probe = undefined;
      if (header.wal) for (const p of sidecars) rmSync(p, { force: true });
      throw sqliteMessage(path, e);
    }
    if (options.readonly) {
      return { db: probe, ...tokenColumns(probe) };
    }
    probe.close();
  }

  let db: Database.Database | undefined;
  try {
    db = new Database(abs, {
      readonly: options.readonly,
      fileMustExist: options.readonly || size !== undefined,
      timeout: 10_000,
    });
    if (options.readonly) {
      try {
        checkStore(db, path, APPLICATION_ID);
      } catch (e) {
        // A WAL store no writer has open has no -wal and -shm files, and a reader may not make
        // them in a directory it cannot write: it reads a copy of the file (nothing is pending
        // in a WAL that does not exist, so the copy is the whole store).
        const code = (e as { code?: string }).code ?? "";
        if (!header?.wal || existsSync(`${abs}-wal`) || !/^SQLITE_(READONLY|CANTOPEN)/.test(code)) throw e;
        db.close();
        const copy = readFileSync(abs);
        copy[18] = 1; // the copy lives in memory, where there is no WAL: a rollback-journal file
        copy[19] = 1;
        db = new Database(copy, { readonly: true });
        checkStore(db, path, APPLICATION_ID);
      }
      return { db, ...tokenColumns(db) };
    }
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = FULL");
    db.pragma("foreign_keys = ON");
    const fresh = header === undefined || header.empty;
    // a store another process is creating at this very moment has no tables yet: migrate makes them
    if (!fresh && header.applicationId === APPLICATION_ID) {
      const tables = db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'").get() as {
        n: number;
      };
      if (tables.n > 0) checkStore(db, path, APPLICATION_ID);
    }
    migrate(db);
    return { db, tokenLifetimes: true, tokenRuns: true };
  } catch (e) {
    db?.close();
    throw sqliteMessage(path, e);
  }
}

/** Which of the later versions' token columns an older store (opened read-only, not migrated) has. */
function tokenColumns(db: Database.Database): { tokenLifetimes: boolean; tokenRuns: boolean } {
  const cols = (db.prepare("PRAGMA table_info(tokens)").all() as { name: string }[]).map((c) => c.name);
  return {
    tokenLifetimes: cols.includes("expires_at") && cols.includes("revoked_at"),
    tokenRuns: cols.includes("run_id"),
  };
}

export { stateFileError } from "./state-file-error.ts";
