import { chmodSync, existsSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { openStore } from "../../src/store/open.ts";
import { APPLICATION_ID, SCHEMA_VERSION } from "../../src/store/state-file.ts";
import { MATRIX_SEED } from "../server/helpers.ts";
import { runCli, tempDir } from "../helpers/cli.ts";
import { e2eTimeouts } from "../helpers/wait.ts";

e2eTimeouts(60_000);

const dirs: string[] = [];
function dir(): string {
  const d = tempDir("rollgate-open-test-");
  dirs.push(d);
  return d;
}
afterEach(() => {
  while (dirs.length) rmSync(dirs.pop()!, { recursive: true, force: true });
});

/** Another application's SQLite file: rollback journal, its own tables. */
function foreignDb(path: string, options: { wal?: boolean; applicationId?: number } = {}): void {
  const db = new Database(path);
  if (options.wal) db.pragma("journal_mode = WAL");
  if (options.applicationId) db.pragma(`application_id = ${options.applicationId}`);
  db.exec("CREATE TABLE contacts (name TEXT); INSERT INTO contacts VALUES ('ada'), ('grace');");
  db.close();
}

/** Everything a command could change about a file: bytes, mtime, sidecars, journal mode. */
function snapshot(path: string) {
  const st = statSync(path);
  return {
    bytes: readFileSync(path).toString("base64"),
    mtimeMs: st.mtimeMs,
    size: st.size,
    wal: existsSync(`${path}-wal`),
    shm: existsSync(`${path}-shm`),
    journal: existsSync(`${path}-journal`),
  };
}

function journalMode(path: string): unknown {
  const db = new Database(path, { readonly: true });
  try {
    return db.pragma("journal_mode", { simple: true });
  } finally {
    db.close();
  }
}

const READING = (state: string) => [
  ["status", "--state", state],
  ["status", "--state", state, "--json"],
  ["token", "list", "--state", state],
  ["serve", "--state", state, "--port", "0"],
];
const WRITING = (state: string) => [
  ["token", "create", "--role", "viewer", "--state", state],
  ["token", "revoke", "0badc0de", "--state", state],
  ["pause", "--state", state],
  ["abort", "--state", state],
  ["apply", MATRIX_SEED, "--to", "3.5.1", "--yes", "--state", state],
];

async function expectRefused(args: string[], why: RegExp): Promise<void> {
  const r = await runCli(args, { timeoutMs: 30_000 });
  const what = `rollgate ${args.join(" ")}\n${r.stderr}`;
  expect(r.code, what).toBe(2);
  expect(r.stderr, what).toContain("ROLLGATE_E_STATE_OPEN");
  expect(r.stderr, what).toMatch(why);
  expect(r.stderr, what).not.toMatch(/\n\s+at /); // no stack trace
}

describe("opening a state file: a rollgate store or nothing (the real CLI, real files)", () => {
  it("reading and writing commands leave another application's SQLite file exactly as it was", async () => {
    const d = dir();
    const state = join(d, "foreign.db");
    foreignDb(state);
    const before = snapshot(state);
    expect(journalMode(state)).toBe("delete");
    for (const args of [...READING(state), ...WRITING(state)]) {
      await expectRefused(args, /not a rollgate state file/);
      expect(snapshot(state), args.join(" ")).toEqual(before);
    }
    expect(journalMode(state)).toBe("delete");
    const db = new Database(state, { readonly: true });
    expect(db.prepare("SELECT name FROM sqlite_master").all()).toEqual([{ name: "contacts" }]);
    db.close();
  }, 240_000);

  it("leaves a WAL-mode database and one with another application_id untouched too", async () => {
    const d = dir();
    const wal = join(d, "wal.db");
    foreignDb(wal, { wal: true });
    const other = join(d, "other.db");
    foreignDb(other, { applicationId: 0x12345678 });
    for (const [state, why] of [
      [wal, /not a rollgate state file/],
      [other, /another application's SQLite database \(application_id 0x12345678\)/],
    ] as const) {
      const before = snapshot(state);
      for (const args of [
        ["status", "--state", state],
        ["token", "create", "--role", "operator", "--state", state],
      ]) {
        await expectRefused(args, why);
        expect(snapshot(state), args.join(" ")).toEqual(before);
      }
    }
  }, 120_000);

  it("refuses a file that is not SQLite, an empty one to read, a truncated store and a directory", async () => {
    const d = dir();
    const text = join(d, "notes.db");
    writeFileSync(text, "these are my notes, not a database\n".repeat(20));
    const textBefore = snapshot(text);
    await expectRefused(["status", "--state", text], /not a SQLite database/);
    await expectRefused(["token", "create", "--role", "viewer", "--state", text], /not a SQLite database/);
    expect(snapshot(text)).toEqual(textBefore);

    const empty = join(d, "empty.db");
    writeFileSync(empty, "");
    await expectRefused(["status", "--state", empty], /empty/);
    expect(statSync(empty).size).toBe(0);

    // a real store, with enough in it to span many pages, cut in half
    const truncated = join(d, "truncated.db");
    const s = openStore(truncated);
    for (let i = 0; i < 300; i++)
      await s.addToken({
        id: `t${i}`,
        role: "viewer",
        hash: "ab".repeat(32),
        createdAt: new Date().toISOString(),
      });
    await s.close();
    truncateSync(truncated, Math.floor(statSync(truncated).size / 2));
    await expectRefused(["status", "--state", truncated], /truncated/);
    await expectRefused(["token", "list", "--state", truncated], /truncated/);
    await expectRefused(["token", "create", "--role", "viewer", "--state", truncated], /truncated/);

    await expectRefused(["status", "--state", d], /directory/);
    await expectRefused(["token", "create", "--role", "viewer", "--state", d], /directory/);
  }, 180_000);

  it("a path under /proc or under a file fails at once with a code, creating nothing", async () => {
    const d = dir();
    const started = Date.now();
    await expectRefused(["token", "create", "--role", "viewer", "--state", "/proc/x/y.db"], /\/proc\/x/);
    expect(Date.now() - started).toBeLessThan(20_000);
    expect(existsSync("/proc/x")).toBe(false);
    const file = join(d, "a-file");
    writeFileSync(file, "x");
    await expectRefused(
      ["token", "create", "--role", "viewer", "--state", join(file, "sub", "state.db")],
      /not a directory/,
    );
    expect(readFileSync(file, "utf8")).toBe("x");
  }, 60_000);

  it("a read-only state file: reading commands read it, writing ones say so (exit 2)", async () => {
    const d = dir();
    chmodSync(d, 0o755);
    const state = join(d, "state.db");
    const s = openStore(state);
    await s.addToken({
      id: "0badc0de",
      role: "viewer",
      hash: "ab".repeat(32),
      createdAt: new Date().toISOString(),
    });
    await s.close();
    chmodSync(state, 0o444);
    // root may write any file: the commands run as nobody, who may not write this one
    const user = process.getuid?.() === 0 ? { user: { uid: 65534, gid: 65534 } } : {};
    const before = snapshot(state);
    const list = await runCli(["token", "list", "--state", state, "--json"], { timeoutMs: 30_000, ...user });
    expect(list.code, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout).tokens).toMatchObject([{ id: "0badc0de", role: "viewer" }]);
    for (const args of [
      ["token", "create", "--role", "viewer", "--state", state],
      ["token", "revoke", "0badc0de", "--state", state],
    ]) {
      const r = await runCli(args, { timeoutMs: 30_000, ...user });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain("ROLLGATE_E_STATE_OPEN");
      expect(r.stderr).toMatch(/read-only/);
    }
    expect(snapshot(state)).toEqual(before);
  }, 90_000);

  it("a store of the first version (no application_id) is read as it is and upgraded by a writer", async () => {
    const d = dir();
    const state = join(d, "state.db");
    const old = new Database(state);
    old.pragma("journal_mode = WAL");
    old.exec(`
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE runs (id TEXT PRIMARY KEY, fleet TEXT NOT NULL, fleet_file TEXT NOT NULL, target TEXT NOT NULL,
        strategy TEXT NOT NULL, state TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
        plan_json TEXT NOT NULL, confirmed_json TEXT NOT NULL DEFAULT '[]');
      CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL REFERENCES runs(id),
        at TEXT NOT NULL, type TEXT NOT NULL, body_json TEXT NOT NULL);
      CREATE TABLE locks (fleet TEXT PRIMARY KEY, pid INTEGER NOT NULL, host TEXT NOT NULL, acquired_at TEXT NOT NULL);
      CREATE TABLE tokens (id TEXT PRIMARY KEY, role TEXT NOT NULL, hash TEXT NOT NULL, created_at TEXT NOT NULL);
      INSERT INTO meta VALUES ('schema_version', '1');
      INSERT INTO tokens VALUES ('0ld70ken', 'operator', '${"cd".repeat(32)}', '2026-01-01T00:00:00.000Z');
    `);
    old.close();
    const before = snapshot(state);
    const list = await runCli(["token", "list", "--state", state, "--json"], { timeoutMs: 30_000 });
    expect(list.code, list.stderr).toBe(0);
    expect(JSON.parse(list.stdout).tokens).toMatchObject([{ id: "0ld70ken", expiresAt: null }]);
    expect(readFileSync(state).toString("base64")).toBe(before.bytes);
    const created = await runCli(["token", "create", "--role", "viewer", "--state", state], {
      timeoutMs: 30_000,
    });
    expect(created.code, created.stderr).toBe(0);
    const db = new Database(state, { readonly: true });
    expect(db.pragma("application_id", { simple: true })).toBe(APPLICATION_ID);
    expect(db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get()).toEqual({
      value: String(SCHEMA_VERSION),
    });
    db.close();
  }, 90_000);

  it("a reading command never creates a state file; a writing one makes a store that says what it is", async () => {
    const d = dir();
    const state = join(d, "deep", "er", "state.db");
    const r = await runCli(["status", "--state", state], { timeoutMs: 30_000 });
    expect(r.code).toBe(2);
    expect(existsSync(join(d, "deep"))).toBe(false);
    const c = await runCli(["token", "create", "--role", "viewer", "--state", state], { timeoutMs: 30_000 });
    expect(c.code, c.stderr).toBe(0);
    const db = new Database(state, { readonly: true });
    expect(db.pragma("application_id", { simple: true })).toBe(APPLICATION_ID);
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    db.close();
    // private: the file (and the directories rollgate made for it)
    expect(statSync(state).mode & 0o777).toBe(0o600);
    expect(statSync(join(d, "deep")).mode & 0o777).toBe(0o700);
  }, 60_000);
});

describe("schema 3: a token may be scoped to one run", () => {
  it("a store of schema 2 (tokens without a run) is read as it is, and a writer adds the run column", async () => {
    const d = tempDir("rollgate-schema2-");
    const state = join(d, "state.db");
    const old = new Database(state);
    old.pragma(`application_id = ${APPLICATION_ID}`);
    old.exec(`
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE runs (id TEXT PRIMARY KEY, fleet TEXT NOT NULL, fleet_file TEXT NOT NULL, target TEXT NOT NULL,
        strategy TEXT NOT NULL, state TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
        plan_json TEXT NOT NULL, confirmed_json TEXT NOT NULL DEFAULT '[]', fleet_id TEXT);
      CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, run_id TEXT NOT NULL REFERENCES runs(id),
        at TEXT NOT NULL, type TEXT NOT NULL, body_json TEXT NOT NULL);
      CREATE TABLE locks (fleet TEXT PRIMARY KEY, pid INTEGER NOT NULL, host TEXT NOT NULL, acquired_at TEXT NOT NULL);
      CREATE TABLE tokens (id TEXT PRIMARY KEY, role TEXT NOT NULL, hash TEXT NOT NULL, created_at TEXT NOT NULL,
        expires_at TEXT, revoked_at TEXT);
      INSERT INTO meta VALUES ('schema_version', '2');
      INSERT INTO tokens VALUES ('0ld70ken', 'operator', '${"cd".repeat(32)}', '2026-01-01T00:00:00.000Z', NULL, NULL);
    `);
    old.close();
    const reader = openStore(state, { readonly: true });
    expect(await reader.tokens()).toEqual([
      { id: "0ld70ken", role: "operator", hash: "cd".repeat(32), createdAt: "2026-01-01T00:00:00.000Z" },
    ]);
    await reader.close();
    const writer = openStore(state);
    await writer.addToken({
      id: "5c0bed00",
      role: "viewer",
      hash: "ab".repeat(32),
      createdAt: "2026-01-02T00:00:00.000Z",
      run: "run-1",
    });
    expect((await writer.tokens()).map((t) => [t.id, t.run])).toEqual([
      ["0ld70ken", undefined], // an older token: every run
      ["5c0bed00", "run-1"],
    ]);
    await writer.close();
    const db = new Database(state, { readonly: true });
    expect(db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get()).toEqual({ value: "3" });
    db.close();
  });

  it("refuses a --state URL of a kind it has no store for on every command before it is taken for a path, never printing the password", async () => {
    const d = dir();
    const url = "mysql://user:s3cretpw@db.example/rollgate";
    for (const args of [...READING(url), ...WRITING(url), ["resume", "--state", url]]) {
      const r = await runCli(args, { cwd: d, timeoutMs: 30_000 });
      const what = `rollgate ${args.join(" ")}\n${r.stderr}`;
      expect(r.code, what).toBe(2);
      expect(r.stderr, what).toContain("ROLLGATE_E_STATE_OPEN");
      expect(r.stderr, what).toContain("no store of kind mysql://");
      expect(r.stdout + r.stderr, what).not.toContain("s3cretpw");
      // nothing made of the URL as a relative path (mysql:/user:s3cretpw@db.example/rollgate)
      expect(existsSync(join(d, "mysql:")), what).toBe(false);
    }
  }, 240_000);
});
