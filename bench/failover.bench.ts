/**
 * Failover (docs/ha.md, issue 10 item 5): how long a run stands still when its leader dies, and
 * what a journal write costs on each store.
 *
 * `failover`: a real PostgreSQL of the bench's own (test/helpers/postgres.ts: initdb/pg_ctl on
 * 127.0.0.1), the real lab (in this process, on loopback) and the real CLI: a leader (`rollgate
 * apply --state postgres://…`) and a standby (`rollgate engine`), the lease at its default
 * (LEASE_SECONDS, 8 s; ROLLGATE_LEASE_SECONDS, when set, is passed on and printed). The leader is
 * killed with SIGKILL mid-run, KILLS times, each on a fresh database and lab. A takeover's delay
 * depends on how long before the kill the leader last renewed, so the kills are spread over the
 * renewal interval: kill i of KILLS lands (i − ½) / KILLS of an interval after a renewal (the
 * leases row's renewed_at, the database's clock, which is this machine's). For each kill the bench
 * measures, from the instant of the kill:
 *   - the lease taken over (the leases row's acquired_at, the database's clock),
 *   - the standby's first action intent (the first `step.intent` journal row of epoch 2, its `at`),
 *   - the lab's first request from the new leader (the first `action` entry of the lab's journal
 *     after the kill, seen by polling it every 5 ms in this process: the old leader is dead, so
 *     every action after the kill is the new leader's).
 * It prints the median of each and whether the median to the standby's first intent meets the
 * target (under 10 s at the default lease). Once measured, the standby is stopped; the run is not
 * finished here (test/cli/ha-failover.test.ts finishes runs after kills).
 *
 * `journal-writes`: appends per second, each awaited before the next as the engine does, of 2,000
 * `log` events to a SQLite state file and to a PostgreSQL database (one transaction per append,
 * with its fence read and its NOTIFY).
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { loadFleetFile } from "../src/io/fleet-loader.ts";
import { planUpgrade } from "../src/plan/planner.ts";
import { leaseTiming } from "../src/run/lease.ts";
import { openStore } from "../src/store/open.ts";
import { BIN, REPO } from "../test/helpers/cli.ts";
import { labOf } from "../test/helpers/engine.ts";
import { type PgServer, postgresAvailable, startPostgres } from "../test/helpers/postgres.ts";

const KILLS = 5;
const TARGET_MS = 10_000;
/** Slow enough that a run killed after its 12th journal line has minutes of work left. */
const SPEED = 60;
const KILL_AFTER_LINE = 12;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Resolves when check() is truthy, polling every intervalMs, or rejects after timeoutMs. */
async function until<T>(check: () => T | Promise<T>, what: string, timeoutMs = 120_000, intervalMs = 20) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

interface Proc {
  child: ChildProcessWithoutNullStreams;
  lines: () => number;
  err: () => string;
  exited: Promise<unknown>;
}

function cli(args: string[]): Proc {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: REPO,
    env: { ...process.env, NO_COLOR: "1" },
  });
  let lines = 0;
  let err = "";
  child.stdout.on("data", (d: Buffer) => {
    lines += d.toString().split("\n").length - 1;
  });
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise((r) => child.once("close", r));
  return { child, lines: () => lines, err: () => err, exited };
}

async function query<T extends pg.QueryResultRow>(url: string, text: string): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(text)).rows;
  } finally {
    await c.end();
  }
}

async function oneKill(server: PgServer, n: number) {
  const url = await server.createDb(`rg_bench_failover_${n}`);
  const t = await labOf("dma-supercluster", SPEED);
  const procs: Proc[] = [];
  try {
    const leader = cli([
      ...["apply", t.fleet, "--to", "10.1.0", "--strategy", "incremental"],
      ...["--yes", "--confirm-finalize", "--json", "--state", url],
    ]);
    procs.push(leader);
    await until(() => leader.lines() >= 1, "the leader's run");
    const standby = cli(["engine", "--state", url, "--confirm-finalize", "--json"]);
    procs.push(standby);
    await until(() => standby.err().includes("waiting as a standby"), "the standby to wait");
    await until(() => leader.lines() >= KILL_AFTER_LINE, `the leader's line ${KILL_AFTER_LINE}`);
    // a fresh renewal, then the kill at this kill's phase of the renewal interval
    const renewedAt = async () =>
      (await query<{ renewed_at: Date }>(url, "SELECT renewed_at FROM leases"))[0]!.renewed_at.getTime();
    const before = await renewedAt();
    const renewed = await until(async () => {
      const at = await renewedAt();
      return at > before ? at : undefined;
    }, "a renewal of the leader's lease");
    const phaseMs = (leaseTiming().renewMs * (n - 0.5)) / KILLS;
    await new Promise((r) => setTimeout(r, Math.max(0, renewed + phaseMs - Date.now())));
    const labSeq = t.lab.world.journal.entries(0, Number.MAX_SAFE_INTEGER).at(-1)?.seq ?? 0;
    const killedAt = Date.now();
    leader.child.kill("SIGKILL");
    await leader.exited;
    // the lab's first action after the kill, by the wall clock of this process
    const labFirst = await until(
      () =>
        t.lab.world.journal
          .entries(labSeq, Number.MAX_SAFE_INTEGER)
          .some((e) => e.seq > labSeq && e.kind === "action")
          ? Date.now()
          : undefined,
      "the new leader's first request to the lab",
      120_000,
      5,
    );
    const [intent] = await until(async () => {
      const r = await query<{ at: string }>(
        url,
        "SELECT at FROM events WHERE epoch = 2 AND type = 'step.intent' ORDER BY seq LIMIT 1",
      );
      return r.length ? r : undefined;
    }, "the standby's first intent");
    const [lease] = await query<{ acquired_at: Date; epoch: string }>(
      url,
      "SELECT acquired_at, epoch FROM leases",
    );
    if (Number(lease?.epoch) !== 2) throw new Error(`the lease's epoch is ${lease?.epoch}, not 2`);
    return {
      sinceRenewalMs: killedAt - renewed,
      takeoverMs: new Date(lease!.acquired_at).getTime() - killedAt,
      intentMs: Date.parse(intent!.at) - killedAt,
      labMs: labFirst - killedAt,
    };
  } finally {
    for (const p of procs) {
      if (p.child.exitCode === null && p.child.signalCode === null) {
        p.child.kill("SIGKILL");
        await p.exited;
      }
    }
    await t.lab.stop();
  }
}

async function failover(): Promise<Record<string, number | string>> {
  if (!postgresAvailable()) return { skipped: "PostgreSQL's initdb/pg_ctl not found (scripts/test-deps.sh)" };
  const server = await startPostgres();
  try {
    const runs = [];
    for (let i = 1; i <= KILLS; i++) runs.push(await oneKill(server, i));
    const intent = median(runs.map((r) => r.intentMs));
    return {
      leaseSeconds: leaseTiming().seconds,
      kills: runs.length,
      takeoverMedianMs: median(runs.map((r) => r.takeoverMs)),
      firstIntentMedianMs: intent,
      firstIntentMaxMs: Math.max(...runs.map((r) => r.intentMs)),
      labFirstRequestMedianMs: median(runs.map((r) => r.labMs)),
      firstIntentEachMs: runs.map((r) => Math.round(r.intentMs)).join(" "),
      killSinceRenewalEachMs: runs.map((r) => Math.round(r.sinceRenewalMs)).join(" "),
      targetMs: TARGET_MS,
      target: intent < TARGET_MS ? "met" : "not met",
    };
  } finally {
    server.destroy();
  }
}

const WRITES = 2_000;

async function writesPerSecond(location: string): Promise<number> {
  const fleetPath = join(REPO, "examples", "matrix-seed.yaml");
  const plan = planUpgrade(loadFleetFile(fleetPath), { to: "3.5.1" });
  const store = openStore(location);
  try {
    const run = await store.createRun({ fleet: "bench", fleetFile: fleetPath, target: "3.5.1", plan });
    const t0 = performance.now();
    for (let i = 0; i < WRITES; i++)
      await store.append(run.id, { type: "log", level: "info", message: `bench write ${i}` });
    return WRITES / ((performance.now() - t0) / 1000);
  } finally {
    await store.close();
  }
}

async function journalWrites(): Promise<Record<string, number | string>> {
  const dir = mkdtempSync(join(tmpdir(), "rollgate-bench-journal-"));
  try {
    const sqlite = await writesPerSecond(join(dir, "state.db"));
    if (!postgresAvailable())
      return { sqliteWritesPerSec: sqlite, postgresWritesPerSec: "PostgreSQL not found" };
    const server = await startPostgres();
    try {
      const postgres = await writesPerSecond(await server.createDb("rg_bench_writes"));
      return { writes: WRITES, sqliteWritesPerSec: sqlite, postgresWritesPerSec: postgres };
    } finally {
      server.destroy();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const cases = [
  { name: "failover", run: failover },
  { name: "journal-writes", run: journalWrites },
];
