import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import pg from "pg";
import type { RunEvent, RunEventBody, RunState } from "../events/types.ts";
import { FINISHED_STATES } from "../events/types.ts";
import { RollgateError } from "../model/errors.ts";
import type { Plan } from "../plan/types.ts";
import { redactCredentials, redactStoreUrl } from "./location.ts";
import { listen, NOTIFY_CHANNEL } from "./pg-listen.ts";
import { pidAlive } from "./sqlite.ts";
import type {
  EngineHolder,
  Lease,
  LeaseAttempt,
  RunRecord,
  Store,
  StoreChange,
  StoredToken,
  StoreWatcher,
} from "./types.ts";
import { RUN_COLUMNS, type RunRow, toRecord } from "./run-row.ts";

/**
 * The PostgreSQL store (`--state postgres://user@host:port/db`): the same tables as a SQLite state
 * file, in one database, behind the same Store interface. Every write is one transaction; its
 * promise resolves only once PostgreSQL has committed it. When the connection is lost (the server
 * restarts, the network drops) a call waits and reconnects, retrying until a deadline, and only then
 * fails with ROLLGATE_E_STATE_UNREACHABLE: the engine, which awaits every write before it calls a
 * driver, does not act while it cannot write.
 *
 * An append carries a write id (a UUID, unique in the table): a retried append whose first commit
 * did reach the database but whose answer was lost finds its row instead of writing it twice.
 */

/**
 * The schema, as an ordered list of migrations; `rollgate_meta.version` is the last one applied.
 * The SQLite store keeps its own list the same way (store/state-file.ts, `meta.schema_version`).
 * A database whose version is newer than this list is refused (ROLLGATE_E_STATE_SCHEMA_NEWER).
 */
export const PG_MIGRATIONS: readonly { version: number; sql: string }[] = [
  {
    version: 1,
    sql: `
CREATE TABLE runs (
  ord BIGSERIAL UNIQUE, id TEXT PRIMARY KEY, fleet TEXT NOT NULL, fleet_file TEXT NOT NULL,
  target TEXT NOT NULL, strategy TEXT NOT NULL, state TEXT NOT NULL, created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL, plan_json TEXT NOT NULL, confirmed_json TEXT NOT NULL DEFAULT '[]', fleet_id TEXT
);
CREATE TABLE events (
  seq BIGSERIAL PRIMARY KEY, run_id TEXT NOT NULL REFERENCES runs(id), at TEXT NOT NULL,
  type TEXT NOT NULL, body_json TEXT NOT NULL, write_id TEXT UNIQUE
);
CREATE INDEX events_run ON events(run_id, seq);
CREATE TABLE locks (fleet TEXT PRIMARY KEY, pid INTEGER NOT NULL, host TEXT NOT NULL, acquired_at TEXT NOT NULL);
CREATE TABLE tokens (
  id TEXT PRIMARY KEY, role TEXT NOT NULL, hash TEXT NOT NULL, created_at TEXT NOT NULL,
  expires_at TEXT, revoked_at TEXT, run_id TEXT
);`,
  },
  {
    // the lease of each run (docs/ha.md) and, per journal entry, the epoch it was written under
    version: 2,
    sql: `
CREATE TABLE leases (
  run_id TEXT PRIMARY KEY REFERENCES runs(id), owner TEXT NOT NULL, epoch BIGINT NOT NULL,
  acquired_at TIMESTAMPTZ NOT NULL, renewed_at TIMESTAMPTZ NOT NULL, expires_at TIMESTAMPTZ NOT NULL
);
ALTER TABLE events ADD COLUMN epoch BIGINT;`,
  },
];
export const PG_SCHEMA_VERSION = PG_MIGRATIONS[PG_MIGRATIONS.length - 1]!.version;

/** How long the server lets a transaction of ours sit idle before it ends it (ms). */
export const IDLE_IN_TRANSACTION_MS = 5_000;

/** Any key: serializes migrations and lock takeovers between rollgate processes. */
const MIGRATION_LOCK = 0x726f6c6c;

/** Errors after which the same call may succeed on a new connection (the server went away). */
export function isConnectionLoss(e: unknown): boolean {
  const err = e as { code?: string; message?: string };
  const code = err.code ?? "";
  if (
    ["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "EAI_AGAIN"].includes(
      code,
    )
  )
    return true;
  // 08: connection exception; 57P01-03: admin shutdown, crash shutdown, cannot connect now;
  // 25P03: the server ended a transaction left idle (a process stopped in it) with its connection
  if (/^08/.test(code) || ["57P01", "57P02", "57P03", "25P03"].includes(code)) return true;
  return /Connection terminated|connection timeout|Client has encountered a connection error/i.test(
    err.message ?? "",
  );
}

type Query = (sql: string, params?: unknown[]) => Promise<pg.QueryResult>;

export interface PostgresStoreOptions {
  now?: () => Date;
  readonly?: boolean;
  /**
   * How long a call waits for a lost database to come back before it fails (ms). Default: 120 s
   * for a writing command, 10 s for a reading one; ROLLGATE_STATE_WAIT_SECONDS overrides both.
   */
  waitMs?: number;
}

export class PostgresStore implements Store {
  /** The URL as given (commands reopen the store from it); print it through redactStoreUrl. */
  readonly location: string;
  readonly readonly: boolean;
  /** The location as it may be printed (no password). */
  private readonly shown: string;
  private readonly pool: pg.Pool;
  private readonly now: () => Date;
  private readonly waitMs: number;
  private readonly endpoint: string;
  private ready: Promise<void> | undefined;
  private closed = false;
  /** Per run, the lease epoch this store's writes are made under (fence()). */
  private readonly fences = new Map<string, number>();

  constructor(url: string, options: PostgresStoreOptions = {}) {
    this.location = url;
    this.shown = redactStoreUrl(url);
    this.readonly = options.readonly ?? false;
    this.now = options.now ?? (() => new Date());
    this.waitMs = options.waitMs ?? (this.readonly ? 10_000 : 120_000);
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new RollgateError("ROLLGATE_E_STATE_OPEN", `cannot open ${this.shown}: it is not a valid URL`);
    }
    this.endpoint = `${parsed.hostname || "localhost"}:${parsed.port || "5432"}`;
    // A process stopped in the middle of a transaction (SIGSTOP) would hold its row locks, the
    // lease's among them, for as long as it is stopped: the server ends such a transaction after
    // IDLE_IN_TRANSACTION_MS, so that a standby's takeover is not held up by it (docs/ha.md).
    this.pool = new pg.Pool({
      connectionString: url,
      max: 4,
      connectionTimeoutMillis: 5_000,
      idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_MS,
    });
    // an idle client whose server went away: the pool drops it; the next call reconnects
    this.pool.on("error", () => undefined);
  }

  private iso(): string {
    return this.now().toISOString();
  }

  /** Runs fn (on a pooled connection) until it succeeds, retrying a connection loss until the deadline. */
  private async retrying<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.waitMs;
    let delay = 100;
    for (;;) {
      try {
        return await fn();
      } catch (e) {
        if (e instanceof RollgateError) throw e;
        if (!isConnectionLoss(e) || this.closed) {
          throw new RollgateError(
            "ROLLGATE_E_STATE_OPEN",
            `the PostgreSQL store ${this.shown} refused to ${what}: ${redactCredentials((e as Error).message)}`,
          );
        }
        if (Date.now() + delay > deadline) {
          throw new RollgateError(
            "ROLLGATE_E_STATE_UNREACHABLE",
            `the PostgreSQL store at ${this.endpoint} (${this.shown}) cannot be reached: ${redactCredentials((e as Error).message || String((e as { code?: string }).code))}; waited ${Math.round(this.waitMs / 1000)} s to ${what}`,
            { details: { endpoint: this.endpoint } },
          );
        }
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 1_000);
      }
    }
  }

  /** The schema: checked (read-only) or created and migrated (read-write), once per store. */
  private init(): Promise<void> {
    this.ready ??= this.retrying("open its schema", () => this.migrate()).catch((e) => {
      this.ready = undefined;
      throw e;
    });
    return this.ready;
  }

  private async migrate(): Promise<void> {
    const client = await this.pool.connect();
    const ignore = () => undefined; // as in write(): a connection ended under us fails the query
    client.on("error", ignore);
    try {
      const version = await this.schemaVersion((sql, p) => client.query(sql, p));
      if (version > PG_SCHEMA_VERSION) {
        throw new RollgateError(
          "ROLLGATE_E_STATE_SCHEMA_NEWER",
          `the PostgreSQL store ${this.shown} was written by a newer rollgate (schema ${version}; this one knows up to ${PG_SCHEMA_VERSION}); upgrade rollgate`,
        );
      }
      if (version === PG_SCHEMA_VERSION) return;
      if (this.readonly) {
        if (version === 0)
          throw new RollgateError(
            "ROLLGATE_E_RUN_NOT_FOUND",
            `no rollgate store in ${this.shown}: no run has been started there`,
          );
        return; // an older schema reads as it is; a writing command migrates it
      }
      await client.query("BEGIN");
      try {
        await client.query("SELECT pg_advisory_xact_lock($1)", [MIGRATION_LOCK]);
        await client.query("CREATE TABLE IF NOT EXISTS rollgate_meta (version INTEGER NOT NULL)");
        const now = await this.schemaVersion((sql, p) => client.query(sql, p));
        for (const m of PG_MIGRATIONS) if (m.version > now) await client.query(m.sql);
        await client.query("DELETE FROM rollgate_meta");
        await client.query("INSERT INTO rollgate_meta(version) VALUES ($1)", [PG_SCHEMA_VERSION]);
        await client.query("COMMIT");
      } catch (e) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw e;
      }
    } finally {
      client.off("error", ignore);
      client.release();
    }
  }

  private async schemaVersion(q: Query): Promise<number> {
    const t = await q("SELECT to_regclass('rollgate_meta') AS t");
    if (t.rows[0]?.t === null) return 0;
    const r = await q("SELECT MAX(version) AS v FROM rollgate_meta");
    return Number(r.rows[0]?.v ?? 0);
  }

  private async read<T>(what: string, fn: (q: Query) => Promise<T>): Promise<T> {
    await this.init();
    return this.retrying(what, () => fn((sql, p) => this.pool.query(sql, p)));
  }

  /** One transaction; resolves once committed (retried whole on a lost connection). */
  private async write<T>(what: string, fn: (q: Query) => Promise<T>): Promise<T> {
    if (this.readonly)
      throw new RollgateError("ROLLGATE_E_STATE_OPEN", `${this.shown} was opened read-only; cannot ${what}`);
    await this.init();
    return this.retrying(what, async () => {
      const client = await this.pool.connect();
      // the server may end the connection while it is checked out (IDLE_IN_TRANSACTION_MS): the
      // query under way fails with it, and the event must not end the process
      const ignore = () => undefined;
      client.on("error", ignore);
      let broken = false;
      try {
        await client.query("BEGIN");
        const out = await fn((sql, p) => client.query(sql, p));
        await client.query("COMMIT");
        return out;
      } catch (e) {
        broken = isConnectionLoss(e);
        if (!broken) await client.query("ROLLBACK").catch(() => undefined);
        throw e;
      } finally {
        client.off("error", ignore);
        client.release(broken);
      }
    });
  }

  /**
   * A fenced run's write goes on only while the run's lease still has this store's epoch. FOR
   * SHARE: a takeover (which locks the row FOR UPDATE) waits for this transaction, or this one sees
   * the new epoch and is refused; either way no write of an old epoch commits after a takeover.
   */
  private async fenced(q: Query, runId: string): Promise<number | undefined> {
    const epoch = this.fences.get(runId);
    if (epoch === undefined) return undefined;
    const r = await q("SELECT owner, epoch FROM leases WHERE run_id = $1 FOR SHARE", [runId]);
    const row = r.rows[0] as { owner: string; epoch: string } | undefined;
    if (!row || Number(row.epoch) !== epoch)
      throw leaseLost(runId, epoch, row?.owner, Number(row?.epoch ?? 0));
    return epoch;
  }

  private async insertEvent(q: Query, runId: string, body: RunEventBody, writeId: string): Promise<RunEvent> {
    const at = this.iso();
    const epoch = await this.fenced(q, runId);
    // the row and its NOTIFY in one statement of the append's transaction: delivered on commit,
    // never for a row rolled back (docs/ha.md, the dashboard on PostgreSQL)
    const ins = await q(
      `WITH ins AS (
         INSERT INTO events(run_id, at, type, body_json, write_id, epoch) VALUES ($1,$2,$3,$4,$5,$6)
         ON CONFLICT (write_id) DO NOTHING RETURNING seq, at)
       SELECT seq, at, pg_notify('${NOTIFY_CHANNEL}', json_build_object('run', $1::text, 'seq', seq)::text) FROM ins`,
      [runId, at, body.type, JSON.stringify(body), writeId, epoch ?? null],
    );
    const row = ins.rows[0] ?? (await q("SELECT seq, at FROM events WHERE write_id = $1", [writeId])).rows[0];
    return { ...body, seq: Number(row.seq), runId, at: row.at as string };
  }

  async createRun(input: {
    fleet: string;
    fleetFile: string;
    target: string;
    plan: Plan;
    fleetId?: string;
  }): Promise<RunRecord> {
    const id = `run-${this.iso().replace(/[-:T]/g, "").slice(0, 14)}-${randomUUID().slice(0, 6)}`;
    const at = this.iso();
    const writeId = randomUUID();
    await this.write("create a run", async (q) => {
      await q(
        "INSERT INTO runs(id, fleet, fleet_file, target, strategy, state, created_at, updated_at, plan_json, fleet_id) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10) ON CONFLICT (id) DO NOTHING",
        [
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
        ],
      );
      await this.insertEvent(
        q,
        id,
        {
          type: "run.created",
          fleet: input.fleet,
          target: input.target,
          strategy: input.plan.strategy,
          steps: input.plan.steps.length,
        },
        writeId,
      );
    });
    return (await this.getRun(id))!;
  }

  async getRun(id: string): Promise<RunRecord | undefined> {
    const r = await this.read("read a run", (q) => q(`SELECT ${RUN_COLUMNS} FROM runs WHERE id = $1`, [id]));
    return r.rows[0] ? toRecord(r.rows[0] as RunRow) : undefined;
  }

  async findUnfinishedRun(fleet?: string, target?: string, fleetId?: string): Promise<RunRecord | undefined> {
    const r = await this.read("read the runs", (q) =>
      q(`SELECT ${RUN_COLUMNS} FROM runs WHERE NOT (state = ANY($1)) ORDER BY created_at DESC, ord DESC`, [
        [...FINISHED_STATES],
      ]),
    );
    const row = (r.rows as RunRow[]).find(
      (x) =>
        (fleet === undefined || x.fleet === fleet) &&
        (target === undefined || x.target === target) &&
        (fleetId === undefined || x.fleet_id === fleetId),
    );
    return row ? toRecord(row) : undefined;
  }

  async listRuns(): Promise<RunRecord[]> {
    const r = await this.read("read the runs", (q) =>
      q(`SELECT ${RUN_COLUMNS} FROM runs ORDER BY created_at DESC, ord DESC`),
    );
    return (r.rows as RunRow[]).map(toRecord);
  }

  async getPlan(id: string): Promise<Plan> {
    const r = await this.read("read a plan", (q) => q("SELECT plan_json FROM runs WHERE id = $1", [id]));
    if (!r.rows[0]) throw new RollgateError("ROLLGATE_E_RUN_NOT_FOUND", `no run ${id} in ${this.shown}`);
    return JSON.parse(r.rows[0].plan_json as string) as Plan;
  }

  async setState(id: string, state: RunState, reason?: string): Promise<RunEvent> {
    const writeId = randomUUID();
    return this.write("record a run's state", async (q) => {
      await this.fenced(q, id);
      await q("UPDATE runs SET state = $1, updated_at = $2 WHERE id = $3", [state, this.iso(), id]);
      return this.insertEvent(q, id, { type: "run.state", state, ...(reason ? { reason } : {}) }, writeId);
    });
  }

  async setStateIf(
    id: string,
    from: readonly RunState[],
    state: RunState,
    reason?: string,
  ): Promise<RunEvent | undefined> {
    const writeId = randomUUID();
    return this.write("record a run's state", async (q) => {
      const done = await q("SELECT seq, at FROM events WHERE write_id = $1", [writeId]);
      if (done.rows[0]) {
        return {
          type: "run.state",
          state,
          ...(reason ? { reason } : {}),
          seq: Number(done.rows[0].seq),
          runId: id,
          at: done.rows[0].at,
        } as RunEvent;
      }
      await this.fenced(q, id);
      const changed = await q(
        "UPDATE runs SET state = $1, updated_at = $2 WHERE id = $3 AND state = ANY($4)",
        [state, this.iso(), id, [...from]],
      );
      if (changed.rowCount === 0) return undefined;
      return this.insertEvent(q, id, { type: "run.state", state, ...(reason ? { reason } : {}) }, writeId);
    });
  }

  async confirm(id: string, step: string, by: string): Promise<RunEvent> {
    const writeId = randomUUID();
    return this.write("record a confirmation", async (q) => {
      await this.fenced(q, id);
      const r = await q("SELECT confirmed_json FROM runs WHERE id = $1 FOR UPDATE", [id]);
      if (!r.rows[0]) throw new RollgateError("ROLLGATE_E_RUN_NOT_FOUND", `no run ${id} in ${this.shown}`);
      const confirmed = [...new Set([...(JSON.parse(r.rows[0].confirmed_json as string) as string[]), step])];
      await q("UPDATE runs SET confirmed_json = $1, updated_at = $2 WHERE id = $3", [
        JSON.stringify(confirmed),
        this.iso(),
        id,
      ]);
      return this.insertEvent(q, id, { type: "confirmation.given", step, by }, writeId);
    });
  }

  async append(runId: string, body: RunEventBody): Promise<RunEvent> {
    const writeId = randomUUID();
    return this.write("append to the journal", (q) => this.insertEvent(q, runId, body, writeId));
  }

  /** Several events in one transaction, in order: all of them or none. */
  async appendMany(runId: string, bodies: readonly RunEventBody[]): Promise<RunEvent[]> {
    const ids = bodies.map(() => randomUUID());
    return this.write("append to the journal", async (q) => {
      const out: RunEvent[] = [];
      for (const [i, b] of bodies.entries()) out.push(await this.insertEvent(q, runId, b, ids[i]!));
      return out;
    });
  }

  async events(runId: string, afterSeq = 0, limit = 100_000): Promise<RunEvent[]> {
    const r = await this.read("read the journal", (q) =>
      q(
        "SELECT seq, run_id, at, body_json FROM events WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        [runId, afterSeq, limit],
      ),
    );
    return r.rows.map((x) => ({
      ...(JSON.parse(x.body_json as string) as RunEventBody),
      seq: Number(x.seq),
      runId: x.run_id as string,
      at: x.at as string,
    }));
  }

  async lastSeq(): Promise<number> {
    const r = await this.read("read the journal", (q) => q("SELECT MAX(seq) AS s FROM events"));
    return Number(r.rows[0]?.s ?? 0);
  }

  async acquireEngineLock(fleet: string, owner: { pid: number; host: string }): Promise<void> {
    await this.write("take the engine lock", async (q) => {
      await q("SELECT pg_advisory_xact_lock($1, hashtext($2))", [MIGRATION_LOCK, fleet]);
      // an engine (on any host) holding a live lease of an unfinished run of this fleet drives it
      const leased = await q(
        `SELECT l.owner, l.acquired_at FROM leases l JOIN runs r ON r.id = l.run_id
         WHERE r.fleet = $1 AND NOT (r.state = ANY($2)) AND l.expires_at > clock_timestamp() LIMIT 1`,
        [fleet, [...FINISHED_STATES]],
      );
      const lease = leased.rows[0] as { owner: string; acquired_at: Date } | undefined;
      if (lease) {
        const [host = "", pid = "0"] = ownerParts(lease.owner);
        throw new RollgateError(
          "ROLLGATE_E_RUN_LOCKED",
          `another rollgate engine (pid ${pid} on ${host}, since ${new Date(lease.acquired_at).toISOString()}) holds the lease of a run of fleet ${fleet}; one engine drives a fleet at a time`,
          { details: { pid: Number(pid), host } },
        );
      }
      const r = await q("SELECT pid, host, acquired_at FROM locks WHERE fleet = $1", [fleet]);
      const held = r.rows[0] as { pid: number; host: string; acquired_at: string } | undefined;
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
      await q(
        "INSERT INTO locks(fleet, pid, host, acquired_at) VALUES ($1,$2,$3,$4) ON CONFLICT (fleet) DO UPDATE SET pid = excluded.pid, host = excluded.host, acquired_at = excluded.acquired_at",
        [fleet, owner.pid, owner.host, this.iso()],
      );
      await notifyLock(q, fleet);
    });
  }

  async releaseEngineLock(fleet: string, pid: number): Promise<void> {
    await this.write("release the engine lock", async (q) => {
      await q("DELETE FROM locks WHERE fleet = $1 AND pid = $2 AND host = $3", [fleet, pid, hostname()]);
      await notifyLock(q, fleet);
    });
  }

  /**
   * The engine driving a fleet now: the holder of a live lease of one of its runs (any host), else
   * the holder of the fleet's engine lock whose process is alive.
   */
  async engineHolder(fleet: string): Promise<EngineHolder | undefined> {
    const leased = await this.read("read the runs' leases", (q) =>
      q(
        `SELECT l.owner, l.acquired_at, l.expires_at FROM leases l JOIN runs r ON r.id = l.run_id
         WHERE r.fleet = $1 AND l.expires_at > clock_timestamp() ORDER BY l.renewed_at DESC LIMIT 1`,
        [fleet],
      ),
    );
    const lease = leased.rows[0] as { owner: string; acquired_at: Date; expires_at: Date } | undefined;
    const [host = "", pid = "0"] = lease ? ownerParts(lease.owner) : [];
    // a lease still live whose holder on this host has died (SIGKILL, a crash) drives nothing: the
    // run has no engine until another takes the lease over (resume then waits as a standby)
    const diedHere = host === hostname() && !pidAlive(Number(pid));
    if (lease && !diedHere) {
      return {
        pid: Number(pid),
        host,
        since: new Date(lease.acquired_at).toISOString(),
        expiresAt: new Date(lease.expires_at).toISOString(),
      };
    }
    const r = await this.read("read the engine lock", (q) =>
      q("SELECT pid, host, acquired_at FROM locks WHERE fleet = $1", [fleet]),
    );
    const held = r.rows[0] as { pid: number; host: string; acquired_at: string } | undefined;
    if (!held) return undefined;
    if (held.host === hostname() && !pidAlive(held.pid)) return undefined;
    return { pid: held.pid, host: held.host, since: held.acquired_at };
  }

  async acquireLease(runId: string, owner: string, seconds: number): Promise<LeaseAttempt> {
    return this.write("take the run's lease", async (q) => {
      const r = await q(
        "SELECT expires_at < clock_timestamp() AS expired, owner FROM leases WHERE run_id = $1 FOR UPDATE",
        [runId],
      );
      const row = r.rows[0] as { expired: boolean; owner: string } | undefined;
      if (!row) {
        const ins = await q(
          `INSERT INTO leases(run_id, owner, epoch, acquired_at, renewed_at, expires_at)
           VALUES ($1, $2, 1, clock_timestamp(), clock_timestamp(), clock_timestamp() + $3 * interval '1 second')
           ON CONFLICT (run_id) DO NOTHING RETURNING ${LEASE_COLUMNS}`,
          [runId, owner, seconds],
        );
        if (ins.rows[0]) {
          await notifyLease(q, runId, 1);
          return { taken: leaseOf(ins.rows[0] as LeaseRow) };
        }
        // another engine inserted it meanwhile: it holds it
        return { heldBy: (await this.leaseRow(q, runId))! };
      }
      if (row.owner !== owner && !row.expired) return { heldBy: (await this.leaseRow(q, runId))! };
      // ours already (a retried call, a renewal), or run out: taken, a takeover with the next epoch
      const up = await q(
        `UPDATE leases SET owner = $2, epoch = CASE WHEN owner = $2 THEN epoch ELSE epoch + 1 END,
           acquired_at = CASE WHEN owner = $2 THEN acquired_at ELSE clock_timestamp() END,
           renewed_at = clock_timestamp(), expires_at = clock_timestamp() + $3 * interval '1 second'
         WHERE run_id = $1 RETURNING ${LEASE_COLUMNS}`,
        [runId, owner, seconds],
      );
      const taken = leaseOf(up.rows[0] as LeaseRow);
      // a takeover (not a renewal): the dashboards shown the leader learn it at once
      if (row.owner !== owner) await notifyLease(q, runId, taken.epoch);
      return { taken };
    });
  }

  async renewLease(lease: Lease, seconds: number): Promise<Lease> {
    return this.write("renew the run's lease", async (q) => {
      const up = await q(
        `UPDATE leases SET renewed_at = clock_timestamp(), expires_at = clock_timestamp() + $4 * interval '1 second'
         WHERE run_id = $1 AND owner = $2 AND epoch = $3 RETURNING ${LEASE_COLUMNS}`,
        [lease.runId, lease.owner, lease.epoch, seconds],
      );
      if (up.rows[0]) return leaseOf(up.rows[0] as LeaseRow);
      const now = await this.leaseRow(q, lease.runId);
      throw leaseLost(lease.runId, lease.epoch, now?.owner, now?.epoch ?? 0);
    });
  }

  async releaseLease(lease: Lease): Promise<void> {
    await this.write("release the run's lease", async (q) => {
      await q(
        "UPDATE leases SET expires_at = clock_timestamp() WHERE run_id = $1 AND owner = $2 AND epoch = $3",
        [lease.runId, lease.owner, lease.epoch],
      );
      await notifyLease(q, lease.runId, lease.epoch);
    });
  }

  async readLease(runId: string): Promise<Lease | undefined> {
    return this.read("read the run's lease", (q) => this.leaseRow(q, runId));
  }

  fence(lease: Lease): void {
    this.fences.set(lease.runId, lease.epoch);
  }

  private async leaseRow(q: Query, runId: string): Promise<Lease | undefined> {
    const r = await q(`SELECT ${LEASE_COLUMNS} FROM leases WHERE run_id = $1`, [runId]);
    return r.rows[0] ? leaseOf(r.rows[0] as LeaseRow) : undefined;
  }

  /** One dedicated LISTEN connection of its own (store/pg-listen.ts), reconnecting when it drops. */
  watch(onChange: (c: StoreChange) => void, connected: (again: boolean) => void): StoreWatcher {
    const w = listen(this.location, onChange, connected);
    this.watchers.add(w);
    return w;
  }
  private readonly watchers = new Set<StoreWatcher>();

  async addToken(token: StoredToken): Promise<void> {
    await this.write("store a token", (q) =>
      q(
        "INSERT INTO tokens(id, role, hash, created_at, expires_at, run_id) VALUES ($1,$2,$3,$4,$5,$6) ON CONFLICT (id) DO NOTHING",
        [token.id, token.role, token.hash, token.createdAt, token.expiresAt ?? null, token.run ?? null],
      ),
    );
  }

  async tokens(): Promise<StoredToken[]> {
    const r = await this.read("read the tokens", (q) =>
      q(
        "SELECT id, role, hash, created_at, expires_at, revoked_at, run_id FROM tokens ORDER BY created_at, id",
      ),
    );
    return r.rows.map((x) => ({
      id: x.id as string,
      role: x.role as StoredToken["role"],
      hash: x.hash as string,
      createdAt: x.created_at as string,
      ...(x.expires_at ? { expiresAt: x.expires_at as string } : {}),
      ...(x.revoked_at ? { revokedAt: x.revoked_at as string } : {}),
      ...(x.run_id ? { run: x.run_id as string } : {}),
    }));
  }

  async revokeToken(id: string): Promise<StoredToken | undefined> {
    await this.write("revoke a token", (q) =>
      q("UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL", [this.iso(), id]),
    );
    return (await this.tokens()).find((t) => t.id === id);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.watchers) await w.close();
    await this.pool.end();
  }
}

/** A run's lease changed hands (taken, taken over, let go): one small NOTIFY, on commit. */
async function notifyLease(q: Query, runId: string, epoch: number): Promise<void> {
  await q(
    `SELECT pg_notify('${NOTIFY_CHANNEL}', json_build_object('run', $1::text, 'lease', $2::int)::text)`,
    [runId, epoch],
  );
}

/** A fleet's engine lock was taken or let go. */
async function notifyLock(q: Query, fleet: string): Promise<void> {
  await q(`SELECT pg_notify('${NOTIFY_CHANNEL}', json_build_object('fleet', $1::text, 'lock', 1)::text)`, [
    fleet,
  ]);
}

const LEASE_COLUMNS = "run_id, owner, epoch, acquired_at, expires_at, expires_at > clock_timestamp() AS live";

interface LeaseRow {
  run_id: string;
  owner: string;
  epoch: string;
  acquired_at: Date;
  expires_at: Date;
  live: boolean;
}

function leaseOf(row: LeaseRow): Lease {
  return {
    runId: row.run_id,
    owner: row.owner,
    epoch: Number(row.epoch),
    since: new Date(row.acquired_at).toISOString(),
    expiresAt: new Date(row.expires_at).toISOString(),
    live: row.live,
  };
}

/** An owner is `host:pid:random`; a host name has no colon. */
function ownerParts(owner: string): string[] {
  return owner.split(":");
}

function leaseLost(runId: string, epoch: number, owner: string | undefined, now: number): RollgateError {
  const [host, pid] = owner ? ownerParts(owner) : [];
  return new RollgateError(
    "ROLLGATE_E_LEASE_LOST",
    `this engine lost the lease of run ${runId}: ${owner ? `another engine (pid ${pid} on ${host}) leads it now, under epoch ${now}` : "the lease is gone"}, and this one held epoch ${epoch}; it stops here and starts no action: the run is that engine's now (rollgate status shows whether one still drives it)`,
    { details: { run: runId, epoch, ...(owner ? { owner, leaseEpoch: now } : {}) } },
  );
}
