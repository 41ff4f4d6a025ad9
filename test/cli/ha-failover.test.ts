import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Lab } from "../../src/lab/index.ts";
import { openStore } from "../../src/store/open.ts";
import { runCli } from "../helpers/cli.ts";
import { type EngineProcess, labOf, seeded, startEngine } from "../helpers/engine.ts";
import { type PgServer, startPostgres } from "../helpers/postgres.ts";
import { e2eTimeouts, waitFor } from "../helpers/wait.ts";

e2eTimeouts(240_000);

/**
 * Leader and standby (docs/ha.md), with the real CLI, the real lab and a real PostgreSQL: the
 * leader (`rollgate apply --state postgres://…`) is killed with SIGKILL at seeded moments of a DMA
 * incremental run and of a matrix run while a standby (`rollgate engine`) waits; the standby takes
 * the lease and finishes each run, every server installed exactly once, no rule broken (the lab's
 * own journal). Then a leader stopped with SIGSTOP past its lease is taken over and continued: it
 * performs no action and exits 4 with ROLLGATE_E_LEASE_LOST.
 *
 * The lease is short here (ROLLGATE_LEASE_SECONDS, the knob docs/ha.md names), so that a takeover
 * costs about two seconds, not fifteen.
 */
const SPEED = 6000;
const LEASE_SECONDS = "2";
const RUNS = [
  // about 107 and 86 JSON lines in a whole run here: the kills land in the first 80%
  { fleet: "dma-supercluster", args: ["--to", "10.1.0", "--strategy", "incremental"], lines: 85 },
  { fleet: "matrix-seed", args: ["--to", "3.5.1"], lines: 68 },
] as const;
const KILLS_PER_RUN = 10;

let server: PgServer | undefined;
/** The labs of the test under way (one per run in flight), stopped after it. */
const labs = new Set<Lab>();
const engines: EngineProcess[] = [];
let dbs = 0;
beforeAll(async () => {
  process.env.ROLLGATE_LEASE_SECONDS = LEASE_SECONDS;
  server = await startPostgres();
});
afterAll(() => {
  delete process.env.ROLLGATE_LEASE_SECONDS;
  server?.destroy();
});
afterEach(async () => {
  for (const e of engines.splice(0)) {
    if (e.child.exitCode === null && e.child.signalCode === null) {
      e.child.kill("SIGCONT");
      e.child.kill("SIGKILL");
      await e.exited;
    }
  }
  for (const l of labs) await l.stop();
  labs.clear();
});

const engine = (args: string[]) => {
  const e = startEngine(args);
  engines.push(e);
  return e;
};

/** The lab saw every server installed exactly once, no rule broken, every server running. */
function expectUpgradedOnce(l: Lab, what: string): void {
  const status = l.status();
  expect(status.violations, what).toEqual([]);
  for (const s of status.servers) {
    expect(status.installs[s.name], `${s.name} installs, ${what}`).toBe(1);
    expect(s.state, `${s.name}, ${what}`).toBe("running");
  }
}

async function journalRows(
  url: string,
): Promise<{ seq: number; epoch: number | null; type: string; action: string | undefined }[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query("SELECT seq, epoch, type, body_json FROM events ORDER BY seq");
    return r.rows.map((x) => ({
      seq: Number(x.seq),
      epoch: x.epoch === null ? null : Number(x.epoch),
      type: x.type as string,
      action: (JSON.parse(x.body_json as string) as { action?: string }).action,
    }));
  } finally {
    await c.end();
  }
}

/** A fresh database, one CREATE DATABASE at a time (the SIGKILL test's two runs ask side by side). */
let creating: Promise<unknown> = Promise.resolve();
function freshDb(): Promise<string> {
  const db = creating.then(() => server!.createDb(`rg_ha_${++dbs}`));
  creating = db.catch(() => undefined);
  return db;
}

/** The leader and its standby on a fresh database and lab; resolves once the standby waits. */
async function leaderAndStandby(
  run: (typeof RUNS)[number],
  /** Called the moment the leader is spawned, before any line of its output can be missed. */
  watchLeader?: (leader: ReturnType<typeof engine>) => void,
) {
  const url = await freshDb();
  const t = await labOf(run.fleet, SPEED);
  labs.add(t.lab);
  const leader = engine([
    "apply",
    t.fleet,
    ...run.args,
    "--yes",
    "--confirm-finalize",
    "--json",
    "--state",
    url,
  ]);
  watchLeader?.(leader);
  // the first line is the run's creation, printed once the leader holds the run's lease
  await leader.afterLine(1);
  const standby = engine(["engine", "--state", url, "--confirm-finalize", "--json"]);
  // waiting as a standby; or, a leader already stopped past its lease (watchLeader's SIGSTOP on
  // a loaded machine), leading at once: its events begin
  await waitFor(() => standby.stderr().includes("waiting as a standby") || standby.lines.length > 0, {
    what: `the standby to wait (${standby.stderr()})`,
  });
  return { url, t, leader, standby };
}

describe("leader and standby on PostgreSQL (real CLI, real lab, real PostgreSQL)", () => {
  it(`SIGKILL of the leader at ${KILLS_PER_RUN} seeded moments of each run: the standby finishes each run, each server installed once, no rule broken`, async () => {
    // the same seeded moments as one after the other: the DMA run's ten, then the matrix run's
    const random = seeded(20261202);
    const moments = RUNS.map((run) =>
      Array.from({ length: KILLS_PER_RUN }, () => 2 + Math.floor(random() * (run.lines - 2))),
    );
    let killed = 0;
    let failed = false;
    // The two runs' kills go side by side (each its own database, lab and engines; each one kill
    // after the other): a takeover is mostly waiting for the lease to run out.
    const lane = async (run: (typeof RUNS)[number], ks: number[]) => {
      for (const k of ks) {
        if (failed) return;
        const what = `${run.fleet}, leader killed after line ${k}`;
        const { url, t, leader, standby } = await leaderAndStandby(run);
        await leader.afterLine(k);
        leader.child.kill("SIGKILL");
        await leader.exited;
        killed += 1;
        const code = await standby.exited;
        expect(code, `${what}\n${standby.stderr()}`).toBe(0);
        expectUpgradedOnce(t.lab, what);
        const store = openStore(url, { readonly: true });
        try {
          const [rec] = await store.listRuns();
          expect(rec?.state, what).toBe("completed");
          // the standby led under the next epoch
          expect((await store.readLease(rec!.id))?.epoch, what).toBe(2);
        } finally {
          await store.close();
        }
        await t.lab.stop();
        labs.delete(t.lab);
      }
    };
    const lanes = await Promise.allSettled(
      RUNS.map((run, i) =>
        lane(run, moments[i]!).catch((e: unknown) => {
          failed = true; // the other lane starts no further kill
          throw e;
        }),
      ),
    );
    for (const l of lanes) if (l.status === "rejected") throw l.reason;
    expect(killed).toBe(KILLS_PER_RUN * RUNS.length);
  });

  it("the leader killed with no standby, `rollgate resume` at once on the same host: it waits out the dead engine's lease and finishes (it said 'already running' and exited 0)", async () => {
    const url = await server!.createDb(`rg_ha_${++dbs}`);
    const t = await labOf(RUNS[1].fleet, SPEED);
    labs.add(t.lab);
    const leader = engine([
      "apply",
      t.fleet,
      ...RUNS[1].args,
      "--yes",
      "--confirm-finalize",
      "--json",
      "--state",
      url,
    ]);
    await leader.afterLine(20);
    leader.child.kill("SIGKILL");
    await leader.exited;
    // at once: the dead engine's lease is still live (2 s here)
    const resumed = engine(["resume", "--state", url, "--confirm-finalize", "--json"]);
    const code = await resumed.exited;
    expect(code, resumed.stderr()).toBe(0);
    expect(resumed.stderr()).not.toContain("already running");
    expectUpgradedOnce(t.lab, "resumed after the leader's death");
    const store = openStore(url, { readonly: true });
    try {
      const [rec] = await store.listRuns();
      expect(rec?.state).toBe("completed");
      expect((await store.readLease(rec!.id))?.epoch).toBe(2);
    } finally {
      await store.close();
    }
  });

  it("SIGSTOP of the leader past its lease: the standby takes over; continued, the old leader performs no action and exits 4", async () => {
    // Stopped the moment it prints that a server accepted an install (from the same stdout chunk,
    // no polling): it is observing that install then, not between the last check of its lease
    // and an action leaving it, the one moment the lease cannot cover (docs/ha.md). Continued,
    // its next action needs an intent written under its epoch and its own deadline in time. The
    // watch is on from the leader's first line: a loaded machine may see the leader past its
    // installs before the standby waits.
    let stopped = false;
    let buf = "";
    const { url, t, leader, standby } = await leaderAndStandby(RUNS[1], (leader) =>
      leader.child.stdout.on("data", (d: Buffer) => {
        buf += d.toString();
        const lines = buf.split("\n");
        buf = lines.pop()!;
        for (const line of lines) {
          let e: { type?: string; step?: string } = {};
          try {
            e = JSON.parse(line) as typeof e;
          } catch {
            continue;
          }
          if (!stopped && e.type === "step.accepted" && e.step?.endsWith("/install")) {
            stopped = true;
            leader.child.kill("SIGSTOP");
          }
        }
      }),
    );
    await waitFor(() => stopped, { what: "an install accepted" });
    const store = openStore(url, { readonly: true });
    try {
      const runId = (await store.listRuns())[0]!.id;
      const taken = await waitFor(
        async () => {
          const l = await store.readLease(runId);
          return l && l.epoch === 2 ? l : undefined;
        },
        { what: "the standby's takeover", intervalMs: 100 },
      );
      expect(taken.owner).toContain(`:${standby.child.pid}:`);
      // what the lab has seen until now (anything the old leader sent before it was stopped has
      // long arrived: the takeover took a lease's length)
      const seen = () =>
        t.lab.world.journal.entries(0, Number.MAX_SAFE_INTEGER).filter((e) => e.kind === "action");
      const before = seen().length;
      leader.child.kill("SIGCONT");
      const code = await leader.exited;
      expect(code, leader.stderr()).toBe(4);
      expect(leader.stderr()).toContain("ROLLGATE_E_LEASE_LOST");
      expect(leader.stderr()).toMatch(/lost the lease of run .*starts no action/);
      expect(leader.stderr()).not.toMatch(/\n\s+at /);

      expect(await standby.exited, standby.stderr()).toBe(0);
      expectUpgradedOnce(t.lab, "after the takeover");
      const rows = await journalRows(url);
      // nothing of the old epoch was written once the new one had written
      const firstNew = rows.find((r) => r.epoch === 2)!.seq;
      expect(rows.filter((r) => r.epoch === 1 && r.seq > firstNew)).toEqual([]);
      // every action the lab saw after the takeover is one the new leader journaled an intent for
      // under its epoch: none came from the old leader once it was continued
      const newIntents = rows
        .filter((r) => r.epoch === 2 && r.type === "step.intent")
        .map((r) => r.action)
        .sort();
      const after = seen()
        .slice(before)
        .map((e) => e.action)
        .sort();
      expect(after, "the actions the lab saw after the takeover").toEqual(newIntents);
      expect((await store.listRuns())[0]?.state).toBe("completed");
    } finally {
      await store.close();
    }
  });

  it("a run its leader paused (Ctrl-C) is left paused by the standby: it acts on nothing and says why", async () => {
    const { url, t, leader, standby } = await leaderAndStandby(RUNS[1]);
    await leader.afterLine(10);
    leader.child.kill("SIGINT");
    expect(await leader.exited, leader.stderr()).toBe(1);
    const actions = () =>
      t.lab.world.journal.entries(0, Number.MAX_SAFE_INTEGER).filter((e) => e.kind === "action").length;
    const before = actions();
    expect(await standby.exited, standby.stderr()).toBe(1);
    expect(standby.stderr()).toContain("a standby leaves a run a person paused or must look at as it is");
    expect(actions()).toBe(before);
    const store = openStore(url, { readonly: true });
    try {
      expect((await store.listRuns())[0]?.state).toBe("paused");
    } finally {
      await store.close();
    }
  });

  it("bad input is refused before anything is written: a lease length that is no number, an engine without a PostgreSQL store", async () => {
    const url = await server!.createDb(`rg_ha_${++dbs}`);
    const bad = await runCli(
      ["apply", "examples/matrix-seed.yaml", "--to", "3.5.1", "--yes", "--state", url],
      {
        env: { ROLLGATE_LEASE_SECONDS: "fast" },
      },
    );
    expect(bad.code, bad.stderr).toBe(2);
    expect(bad.stderr).toContain("ROLLGATE_LEASE_SECONDS");
    expect(bad.stderr).not.toMatch(/\n\s+at /);
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      expect((await c.query("SELECT to_regclass('rollgate_meta') AS t")).rows[0].t).toBeNull();
    } finally {
      await c.end();
    }
    const file = await runCli(["engine", "--state", "state.db"], { env: { ROLLGATE_STATE: "" } });
    expect(file.code, file.stderr).toBe(2);
    expect(file.stderr).toContain("ROLLGATE_E_USAGE");
  });
});
