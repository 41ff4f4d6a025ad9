import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type Database from "better-sqlite3";
import type { RunEvent, RunEventBody, RunState } from "../events/types.ts";
import { FINISHED_STATES } from "../events/types.ts";
import { RollgateError } from "../model/errors.ts";
import type { Plan } from "../plan/types.ts";
import { openStateFile } from "./state-file.ts";
import type { Lease, LeaseAttempt, RunRecord, Store, StoredToken } from "./types.ts";
import { RUN_COLUMNS, type RunRow, toRecord } from "./run-row.ts";

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * The SQLite state file, synchronously: one file, WAL, synchronous=FULL, so that an event appended
 * is on disk before the driver is called (the journal's promise to a restarted engine). Used
 * through SqliteStore (below), the asynchronous Store every other folder sees.
 */
export class SqliteFile {
  private readonly db: Database.Database;
  private readonly now: () => Date;
  /** The state file's path (":memory:" for a store in memory). */
  readonly path: string;

  /** Whether the store was opened read-only (reading commands: status, serve, token list). */
  readonly readonly: boolean;
  private readonly tokenLifetimes: boolean;
  private readonly tokenRuns: boolean;

  /**
   * Opens a state file through store/state-file.ts, which refuses anything that is not a rollgate
   * store before writing to it. Callers use store/open.ts (openStore, openExistingStore).
   */
  constructor(path: string, options: { now?: () => Date; readonly?: boolean } = {}) {
    this.path = path;
    this.now = options.now ?? (() => new Date());
    this.readonly = options.readonly ?? false;
    const opened = openStateFile(path, { readonly: this.readonly });
    this.db = opened.db;
    this.tokenLifetimes = opened.tokenLifetimes;
    this.tokenRuns = opened.tokenRuns;
  }

  private iso(): string {
    return this.now().toISOString();
  }

  private readonly statements = new Map<string, Database.Statement>();

  /** A prepared statement, prepared once per SQL text (the engine reads and appends many times a second). */
  private stmt(sql: string): Database.Statement {
    let st = this.statements.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      this.statements.set(sql, st);
    }
    return st;
  }

  createRun(input: {
    fleet: string;
    fleetFile: string;
    target: string;
    plan: Plan;
    fleetId?: string;
  }): RunRecord {
    const id = `run-${this.iso().replace(/[-:T]/g, "").slice(0, 14)}-${randomUUID().slice(0, 6)}`;
    const at = this.iso();
    const tx = this.db.transaction(() => {
      this.stmt(
        "INSERT INTO runs(id, fleet, fleet_file, target, strategy, state, created_at, updated_at, plan_json, fleet_id) VALUES (?,?,?,?,?,?,?,?,?,?)",
      ).run(
        id,
        input.fleet,
        input.fleetFile,
        input.target,
        input.plan.strategy,
        "pending",
        at,
        at,
        JSON.stringify(input.plan),
        input.fleetId ?? null,
      );
      this.insertEvent(id, {
        type: "run.created",
        fleet: input.fleet,
        target: input.target,
        strategy: input.plan.strategy,
        steps: input.plan.steps.length,
      });
    });
    tx();
    return this.getRun(id)!;
  }

  getRun(id: string): RunRecord | undefined {
    const row = this.stmt(`SELECT ${RUN_COLUMNS} FROM runs WHERE id = ?`).get(id) as RunRow | undefined;
    return row ? toRecord(row) : undefined;
  }

  findUnfinishedRun(fleet?: string, target?: string, fleetId?: string): RunRecord | undefined {
    const finished = FINISHED_STATES.map(() => "?").join(",");
    const rows = this.stmt(
      `SELECT ${RUN_COLUMNS} FROM runs WHERE state NOT IN (${finished}) ORDER BY created_at DESC, rowid DESC`,
    ).all(...FINISHED_STATES) as RunRow[];
    const row = rows.find(
      (r) =>
        (fleet === undefined || r.fleet === fleet) &&
        (target === undefined || r.target === target) &&
        (fleetId === undefined || r.fleet_id === fleetId),
    );
    return row ? toRecord(row) : undefined;
  }

  listRuns(): RunRecord[] {
    return (
      this.stmt(`SELECT ${RUN_COLUMNS} FROM runs ORDER BY created_at DESC, rowid DESC`).all() as RunRow[]
    ).map(toRecord);
  }

  getPlan(id: string): Plan {
    const row = this.stmt("SELECT plan_json FROM runs WHERE id = ?").get(id) as
      | { plan_json: string }
      | undefined;
    if (!row) throw new RollgateError("ROLLGATE_E_RUN_NOT_FOUND", `no run ${id} in the state file`);
    return JSON.parse(row.plan_json) as Plan;
  }

  setState(id: string, state: RunState, reason?: string): RunEvent {
    return this.db.transaction(() => {
      this.stmt("UPDATE runs SET state = ?, updated_at = ? WHERE id = ?").run(state, this.iso(), id);
      return this.insertEvent(id, { type: "run.state", state, ...(reason ? { reason } : {}) });
    })();
  }

  setStateIf(id: string, from: readonly RunState[], state: RunState, reason?: string): RunEvent | undefined {
    return this.db.transaction(() => {
      const marks = from.map(() => "?").join(",");
      const changed = this.stmt(
        `UPDATE runs SET state = ?, updated_at = ? WHERE id = ? AND state IN (${marks})`,
      ).run(state, this.iso(), id, ...from).changes;
      if (changed === 0) return undefined;
      return this.insertEvent(id, { type: "run.state", state, ...(reason ? { reason } : {}) });
    })();
  }

  confirm(id: string, step: string, by: string): RunEvent {
    return this.db.transaction(() => {
      const run = this.getRun(id);
      if (!run) throw new RollgateError("ROLLGATE_E_RUN_NOT_FOUND", `no run ${id} in the state file`);
      const confirmed = [...new Set([...run.confirmed, step])];
      this.stmt("UPDATE runs SET confirmed_json = ?, updated_at = ? WHERE id = ?").run(
        JSON.stringify(confirmed),
        this.iso(),
        id,
      );
      return this.insertEvent(id, { type: "confirmation.given", step, by });
    })();
  }

  /** Confirms several steps in one transaction: one update of the run, one event per step. */
  confirmMany(id: string, steps: readonly string[], by: string): RunEvent[] {
    return this.db.transaction(() => {
      const run = this.getRun(id);
      if (!run) throw new RollgateError("ROLLGATE_E_RUN_NOT_FOUND", `no run ${id} in the state file`);
      const confirmed = [...new Set([...run.confirmed, ...steps])];
      this.stmt("UPDATE runs SET confirmed_json = ?, updated_at = ? WHERE id = ?").run(
        JSON.stringify(confirmed),
        this.iso(),
        id,
      );
      return steps.map((step) => this.insertEvent(id, { type: "confirmation.given", step, by }));
    })();
  }

  append(runId: string, body: RunEventBody): RunEvent {
    return this.insertEvent(runId, body);
  }

  /** Appends several events in one transaction (one sync to the disk): all of them or none. */
  appendMany(runId: string, bodies: readonly RunEventBody[]): RunEvent[] {
    return this.db.transaction(() => bodies.map((b) => this.insertEvent(runId, b)))();
  }

  private insertEvent(runId: string, body: RunEventBody): RunEvent {
    const at = this.iso();
    const info = this.stmt("INSERT INTO events(run_id, at, type, body_json) VALUES (?,?,?,?)").run(
      runId,
      at,
      body.type,
      JSON.stringify(body),
    );
    return { ...body, seq: Number(info.lastInsertRowid), runId, at };
  }

  events(runId: string, afterSeq = 0, limit = 100_000): RunEvent[] {
    const rows = this.stmt(
      "SELECT seq, run_id, at, body_json FROM events WHERE run_id = ? AND seq > ? ORDER BY seq LIMIT ?",
    ).all(runId, afterSeq, limit) as { seq: number; run_id: string; at: string; body_json: string }[];
    return rows.map((r) => ({
      ...(JSON.parse(r.body_json) as RunEventBody),
      seq: r.seq,
      runId: r.run_id,
      at: r.at,
    }));
  }

  lastSeq(): number {
    const row = this.stmt("SELECT MAX(seq) AS s FROM events").get() as { s: number | null };
    return row.s ?? 0;
  }

  acquireEngineLock(fleet: string, owner: { pid: number; host: string }): void {
    this.db
      .transaction(() => {
        const held = this.stmt("SELECT pid, host, acquired_at FROM locks WHERE fleet = ?").get(fleet) as
          | { pid: number; host: string; acquired_at: string }
          | undefined;
        if (held && (held.pid !== owner.pid || held.host !== owner.host)) {
          const stale = held.host === hostname() && !pidAlive(held.pid);
          if (!stale) {
            throw new RollgateError(
              "ROLLGATE_E_RUN_LOCKED",
              `another rollgate engine (pid ${held.pid} on ${held.host}, since ${held.acquired_at}) is driving fleet ${fleet}; one engine drives a fleet at a time`,
              { details: { pid: held.pid, host: held.host } },
            );
          }
        }
        this.stmt(
          "INSERT INTO locks(fleet, pid, host, acquired_at) VALUES (?,?,?,?) ON CONFLICT(fleet) DO UPDATE SET pid=excluded.pid, host=excluded.host, acquired_at=excluded.acquired_at",
        ).run(fleet, owner.pid, owner.host, this.iso());
      })
      .immediate();
  }

  releaseEngineLock(fleet: string, pid: number): void {
    this.stmt("DELETE FROM locks WHERE fleet = ? AND pid = ? AND host = ?").run(fleet, pid, hostname());
  }

  engineHolder(fleet: string): { pid: number; host: string; since: string } | undefined {
    const held = this.stmt("SELECT pid, host, acquired_at FROM locks WHERE fleet = ?").get(fleet) as
      | { pid: number; host: string; acquired_at: string }
      | undefined;
    if (!held) return undefined;
    if (held.host === hostname() && !pidAlive(held.pid)) return undefined;
    return { pid: held.pid, host: held.host, since: held.acquired_at };
  }

  /**
   * A state file's lease is the fleet's engine lock (one host, one engine at a time): taking it
   * takes the lock (ROLLGATE_E_RUN_LOCKED when a live engine holds it), it never runs out while
   * its process lives, and its epoch is always 1. Nothing is ever taken over, so nothing is fenced.
   */
  acquireLease(runId: string, owner: string, _seconds: number): LeaseAttempt {
    const run = this.getRun(runId);
    if (!run) throw new RollgateError("ROLLGATE_E_RUN_NOT_FOUND", `no run ${runId} in the state file`);
    this.acquireEngineLock(run.fleet, { pid: process.pid, host: hostname() });
    const since = this.engineHolder(run.fleet)?.since ?? this.iso();
    return { taken: { runId, owner, epoch: 1, since, live: true } };
  }

  renewLease(lease: Lease, _seconds: number): Lease {
    return lease;
  }

  releaseLease(lease: Lease): void {
    const run = this.getRun(lease.runId);
    if (run) this.releaseEngineLock(run.fleet, process.pid);
  }

  readLease(runId: string): Lease | undefined {
    const run = this.getRun(runId);
    const held = run ? this.engineHolder(run.fleet) : undefined;
    return held
      ? { runId, owner: `${held.host}:${held.pid}:lock`, epoch: 1, since: held.since, live: true }
      : undefined;
  }

  addToken(token: StoredToken): void {
    this.stmt("INSERT INTO tokens(id, role, hash, created_at, expires_at, run_id) VALUES (?,?,?,?,?,?)").run(
      token.id,
      token.role,
      token.hash,
      token.createdAt,
      token.expiresAt ?? null,
      token.run ?? null,
    );
  }

  tokens(): StoredToken[] {
    const lifetimes = `${this.tokenLifetimes ? ", expires_at, revoked_at" : ""}${this.tokenRuns ? ", run_id" : ""}`;
    return (
      this.stmt(
        `SELECT id, role, hash, created_at${lifetimes} FROM tokens ORDER BY created_at, id`,
      ).all() as {
        id: string;
        role: string;
        hash: string;
        created_at: string;
        expires_at?: string | null;
        revoked_at?: string | null;
        run_id?: string | null;
      }[]
    ).map((r) => ({
      id: r.id,
      role: r.role as StoredToken["role"],
      hash: r.hash,
      createdAt: r.created_at,
      ...(r.expires_at ? { expiresAt: r.expires_at } : {}),
      ...(r.revoked_at ? { revokedAt: r.revoked_at } : {}),
      ...(r.run_id ? { run: r.run_id } : {}),
    }));
  }

  revokeToken(id: string): StoredToken | undefined {
    this.stmt("UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL").run(this.iso(), id);
    return this.tokens().find((t) => t.id === id);
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

type Async<T> = {
  [K in keyof T]: T[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : T[K];
};

/**
 * The SQLite store behind the asynchronous Store interface (store/open.ts opens it). Each call
 * runs on the state file at once and resolves with its result: an append has reached the disk
 * when its promise resolves.
 */
export class SqliteStore implements Store, Async<Omit<SqliteFile, "path" | "readonly">> {
  private readonly file: SqliteFile;
  constructor(path: string, options: { now?: () => Date; readonly?: boolean } = {}) {
    this.file = new SqliteFile(path, options);
  }
  get location(): string {
    return this.file.path;
  }
  /** The state file's path (":memory:" for a store in memory). */
  get path(): string {
    return this.file.path;
  }
  get readonly(): boolean {
    return this.file.readonly;
  }
  async createRun(input: Parameters<SqliteFile["createRun"]>[0]): Promise<RunRecord> {
    return this.file.createRun(input);
  }
  async getRun(id: string): Promise<RunRecord | undefined> {
    return this.file.getRun(id);
  }
  async findUnfinishedRun(fleet?: string, target?: string, fleetId?: string): Promise<RunRecord | undefined> {
    return this.file.findUnfinishedRun(fleet, target, fleetId);
  }
  async listRuns(): Promise<RunRecord[]> {
    return this.file.listRuns();
  }
  async getPlan(id: string): Promise<Plan> {
    return this.file.getPlan(id);
  }
  async setState(id: string, state: RunState, reason?: string): Promise<RunEvent> {
    return this.file.setState(id, state, reason);
  }
  async setStateIf(
    id: string,
    from: readonly RunState[],
    state: RunState,
    reason?: string,
  ): Promise<RunEvent | undefined> {
    return this.file.setStateIf(id, from, state, reason);
  }
  async confirm(id: string, step: string, by: string): Promise<RunEvent> {
    return this.file.confirm(id, step, by);
  }

  async confirmMany(id: string, steps: readonly string[], by: string): Promise<RunEvent[]> {
    return this.file.confirmMany(id, steps, by);
  }
  async append(runId: string, body: RunEventBody): Promise<RunEvent> {
    return this.file.append(runId, body);
  }
  async appendMany(runId: string, bodies: readonly RunEventBody[]): Promise<RunEvent[]> {
    return this.file.appendMany(runId, bodies);
  }
  async events(runId: string, afterSeq?: number, limit?: number): Promise<RunEvent[]> {
    return this.file.events(runId, afterSeq, limit);
  }
  async lastSeq(): Promise<number> {
    return this.file.lastSeq();
  }
  async acquireEngineLock(fleet: string, owner: { pid: number; host: string }): Promise<void> {
    this.file.acquireEngineLock(fleet, owner);
  }
  async releaseEngineLock(fleet: string, pid: number): Promise<void> {
    this.file.releaseEngineLock(fleet, pid);
  }
  async engineHolder(fleet: string): Promise<{ pid: number; host: string; since: string } | undefined> {
    return this.file.engineHolder(fleet);
  }
  async acquireLease(runId: string, owner: string, seconds: number): Promise<LeaseAttempt> {
    return this.file.acquireLease(runId, owner, seconds);
  }
  async renewLease(lease: Lease, seconds: number): Promise<Lease> {
    return this.file.renewLease(lease, seconds);
  }
  async releaseLease(lease: Lease): Promise<void> {
    this.file.releaseLease(lease);
  }
  async readLease(runId: string): Promise<Lease | undefined> {
    return this.file.readLease(runId);
  }
  /** Nothing to fence: a state file's lease is its engine lock, never taken over (acquireLease). */
  fence(_lease: Lease): void {}
  async addToken(token: StoredToken): Promise<void> {
    this.file.addToken(token);
  }
  async tokens(): Promise<StoredToken[]> {
    return this.file.tokens();
  }
  async revokeToken(id: string): Promise<StoredToken | undefined> {
    return this.file.revokeToken(id);
  }
  async close(): Promise<void> {
    this.file.close();
  }
}
