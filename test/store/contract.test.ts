import { spawn } from "node:child_process";
import { hostname } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Plan } from "../../src/plan/types.ts";
import { openStore } from "../../src/store/open.ts";
import { PG_SCHEMA_VERSION, PostgresStore } from "../../src/store/postgres.ts";
import type { Store } from "../../src/store/types.ts";
import { tempDir } from "../helpers/cli.ts";
import { type PgServer, postgresAvailable, startPostgres } from "../helpers/postgres.ts";
import { e2eTimeouts, waitFor } from "../helpers/wait.ts";

e2eTimeouts(90_000);

const plan: Plan = {
  fleet: "f",
  target: "3.5.1",
  targets: { m: "3.5.1" },
  capacityFloor: 0.5,
  strategy: "rolling",
  steps: [
    {
      id: "m/s1/install",
      action: "install",
      cluster: "m",
      server: "s1",
      after: [],
      start: 0,
      end: 900,
      rules: ["M1"],
      pointOfNoReturn: false,
    },
  ],
  estimate: { seconds: 900, lowerBoundSeconds: 900, minCapacity: 0.5 },
  verification: { ok: true, statesChecked: 2, violations: [] },
};

let server: PgServer | undefined;
let dbs = 0;
beforeAll(async () => {
  if (!postgresAvailable())
    throw new Error("PostgreSQL's initdb/pg_ctl are missing: run scripts/test-deps.sh");
  server = await startPostgres();
});
afterAll(() => server?.destroy());

const open: Store[] = [];
afterEach(async () => {
  while (open.length) await open.pop()!.close();
});

/** A new, empty location of each kind: a state file path, or a PostgreSQL database URL. */
const KINDS: [string, () => Promise<string>][] = [
  ["SQLite", async () => join(tempDir(), "state.db")],
  ["PostgreSQL", async () => server!.createDb(`rg_${process.pid}_${++dbs}`)],
];

describe.each(KINDS)("the Store contract: %s (a real store)", (_kind, fresh) => {
  const store = (location: string, options: { readonly?: boolean } = {}) => {
    const s = openStore(location, options);
    open.push(s);
    return s;
  };

  it("keeps runs, plans and an ordered journal across reopen", async () => {
    const loc = await fresh();
    const a = store(loc);
    const run = await a.createRun({
      fleet: "f",
      fleetFile: "/x/f.yaml",
      target: "3.5.1",
      plan,
      fleetId: "id1",
    });
    await a.setState(run.id, "running");
    await a.append(run.id, {
      type: "step.intent",
      step: "m/s1/install",
      action: "install",
      cluster: "m",
      server: "s1",
      attempt: 1,
    });
    await a.append(run.id, { type: "step.done", step: "m/s1/install", observed: false, seconds: 3 });
    await a.close();
    const b = store(loc, { readonly: true });
    expect(await b.getRun(run.id)).toMatchObject({
      state: "running",
      target: "3.5.1",
      fleet: "f",
      fleetId: "id1",
    });
    expect(await b.getPlan(run.id)).toEqual(plan);
    const events = await b.events(run.id);
    expect(events.map((e) => e.type)).toEqual(["run.created", "run.state", "step.intent", "step.done"]);
    expect(events.map((e) => e.seq)).toEqual([...events.map((e) => e.seq)].sort((x, y) => x - y));
    expect(await b.lastSeq()).toBe(events[3]!.seq);
    expect((await b.events(run.id, events[1]!.seq)).map((e) => e.type)).toEqual(["step.intent", "step.done"]);
    expect((await b.findUnfinishedRun("f", "3.5.1", "id1"))?.id).toBe(run.id);
    expect((await b.listRuns()).map((r) => r.id)).toEqual([run.id]);
    const c = store(loc);
    await c.setState(run.id, "completed");
    expect(await b.findUnfinishedRun("f", "3.5.1")).toBeUndefined();
  });

  it("changes a state conditionally and records confirmations", async () => {
    const s = store(await fresh());
    const run = await s.createRun({ fleet: "f", fleetFile: "/x", target: "3.5.1", plan });
    await s.setState(run.id, "completed");
    expect(await s.setStateIf(run.id, ["running"], "paused")).toBeUndefined();
    expect((await s.getRun(run.id))!.state).toBe("completed");
    await s.setState(run.id, "running");
    expect(await s.setStateIf(run.id, ["running"], "paused", "by a test")).toMatchObject({
      type: "run.state",
      state: "paused",
    });
    await s.confirm(run.id, "m/s1/stop", "--confirm-finalize");
    await s.confirm(run.id, "m/s1/stop", "--confirm-finalize");
    expect(await s.getRun(run.id)).toMatchObject({ state: "paused", confirmed: ["m/s1/stop"] });
  });

  it("lets one engine hold a fleet's lock; a live holder refuses a second; a dead one's is taken over", async () => {
    const s = store(await fresh());
    const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
    await waitFor(() => child.pid);
    await s.acquireEngineLock("f", { pid: child.pid!, host: hostname() });
    expect(await s.engineHolder("f")).toMatchObject({ pid: child.pid });
    await expect(s.acquireEngineLock("f", { pid: process.pid, host: "h" })).rejects.toThrow(
      /another rollgate engine \(pid \d+/,
    );
    child.kill("SIGKILL");
    await waitFor(() => child.exitCode !== null || child.signalCode !== null);
    expect(await s.engineHolder("f")).toBeUndefined();
    await s.acquireEngineLock("f", { pid: process.pid, host: hostname() });
    await s.releaseEngineLock("f", process.pid);
    expect(await s.engineHolder("f")).toBeUndefined();
  });

  it("keeps tokens, their expiry, scope and revocation (the first instant stays)", async () => {
    const s = store(await fresh());
    await s.addToken({ id: "t1", role: "viewer", hash: "h1", createdAt: "2026-01-01T00:00:00.000Z" });
    await s.addToken({
      id: "t2",
      role: "operator",
      hash: "h2",
      createdAt: "2026-01-02T00:00:00.000Z",
      expiresAt: "2026-01-03T00:00:00.000Z",
      run: "run-x",
    });
    const first = await s.revokeToken("t1");
    expect(first?.revokedAt).toBeDefined();
    expect((await s.revokeToken("t1"))?.revokedAt).toBe(first?.revokedAt);
    expect(await s.revokeToken("nope")).toBeUndefined();
    expect(await s.tokens()).toEqual([
      {
        id: "t1",
        role: "viewer",
        hash: "h1",
        createdAt: "2026-01-01T00:00:00.000Z",
        revokedAt: first!.revokedAt,
      },
      {
        id: "t2",
        role: "operator",
        hash: "h2",
        createdAt: "2026-01-02T00:00:00.000Z",
        expiresAt: "2026-01-03T00:00:00.000Z",
        run: "run-x",
      },
    ]);
  });
});

describe("the PostgreSQL store (a real server)", () => {
  it("records its schema version, and refuses a database a newer rollgate migrated", async () => {
    const url = await server!.createDb(`rg_${process.pid}_schema`);
    const s = new PostgresStore(url);
    open.push(s);
    await s.lastSeq();
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      expect((await c.query("SELECT version FROM rollgate_meta")).rows).toEqual([
        { version: PG_SCHEMA_VERSION },
      ]);
      await c.query("UPDATE rollgate_meta SET version = $1", [PG_SCHEMA_VERSION + 1]);
    } finally {
      await c.end();
    }
    for (const readonly of [false, true]) {
      const t = new PostgresStore(url, { readonly });
      open.push(t);
      await expect(t.listRuns()).rejects.toMatchObject({ code: "ROLLGATE_E_STATE_SCHEMA_NEWER" });
    }
  });

  it("a write waits while the server is down and resolves once committed after it restarts", async () => {
    const url = await server!.createDb(`rg_${process.pid}_restart`);
    const s = new PostgresStore(url);
    open.push(s);
    const run = await s.createRun({ fleet: "f", fleetFile: "/x", target: "3.5.1", plan });
    server!.stop();
    let settled = false;
    const pending = s.append(run.id, {
      type: "step.done",
      step: "m/s1/install",
      observed: false,
      seconds: 1,
    });
    pending.then(
      () => (settled = true),
      () => (settled = true),
    );
    // not durable, so not resolved, while the server is down
    await new Promise((r) => setImmediate(r));
    expect(settled).toBe(false);
    await server!.start();
    const ev = await pending;
    const events = await s.events(run.id);
    expect(events.map((e) => e.type)).toEqual(["run.created", "step.done"]);
    expect(events[1]!.seq).toBe(ev.seq);
  });

  it("an unreachable server: ROLLGATE_E_STATE_UNREACHABLE with host:port, never the password", async () => {
    const s = new PostgresStore("postgres://ops:hunter2@127.0.0.1:1/rg", { waitMs: 500 });
    open.push(s);
    const err = (await s.listRuns().catch((e: unknown) => e)) as Error & { code: string };
    expect(err.code).toBe("ROLLGATE_E_STATE_UNREACHABLE");
    expect(err.message).toContain("127.0.0.1:1");
    expect(err.message).not.toContain("hunter2");
  });
});
