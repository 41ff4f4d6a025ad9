import { performance } from "node:perf_hooks";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Plan } from "../../src/plan/types.ts";
import { holdLease, leaseTiming } from "../../src/run/lease.ts";
import { envSeconds } from "../../src/model/duration.ts";
import { openStore } from "../../src/store/open.ts";
import type { Store } from "../../src/store/types.ts";
import { type PgServer, startPostgres } from "../helpers/postgres.ts";
import { e2eTimeouts, waitFor } from "../helpers/wait.ts";

e2eTimeouts(60_000);

/**
 * The engine's hold on its lease (src/run/lease.ts) on a real PostgreSQL: before a driver action,
 * `assure()` lets it act while its own deadline (last renewal sent + lease − margin, on the
 * monotonic clock) is ahead; past it, it renews first and acts only if that renewal succeeds
 * under its epoch; after a takeover it refuses with ROLLGATE_E_LEASE_LOST. No timer renews here
 * (the renewal interval is longer than the test), so the deadline passes as it would for a
 * paused process.
 */
const plan: Plan = {
  fleet: "f",
  target: "3.5.1",
  targets: {},
  capacityFloor: 0.5,
  strategy: "rolling",
  steps: [],
  estimate: { seconds: 0, lowerBoundSeconds: 0, minCapacity: 0.5 },
  verification: { ok: true, statesChecked: 1, violations: [] },
};
const timing = { seconds: 1, renewMs: 600_000, marginMs: 333 };

let server: PgServer | undefined;
let dbs = 0;
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(() => server?.destroy());
const open: Store[] = [];
afterEach(async () => {
  while (open.length) await open.pop()!.close();
});
const store = async () => {
  const url = await server!.createDb(`rg_keeper_${++dbs}`);
  const a = openStore(url);
  const b = openStore(url);
  open.push(a, b);
  const run = await a.createRun({ fleet: "f", fleetFile: "/x/f.yaml", target: "3.5.1", plan });
  return { a, b, runId: run.id };
};
/** Until the lease has run out by both clocks (the database's and this process's). */
const pastTheLease = (from: number) =>
  waitFor(() => performance.now() > from + timing.seconds * 1000 + 200, {
    what: "the lease's length to pass",
    intervalMs: 50,
  });

describe("the engine's lease keeper (a real PostgreSQL)", () => {
  it("in time it may act; past its deadline it renews first; taken over meanwhile, it refuses and stays refused", async () => {
    const { a, b, runId } = await store();
    const from = performance.now();
    const held = await holdLease(a, runId, {}, timing);
    if (!("keeper" in held)) throw new Error("not taken");
    const keeper = held.keeper;
    await keeper.assure();
    await pastTheLease(from);
    // nobody took it: the renewal under the same epoch succeeds, and it may act again
    await keeper.assure();
    expect(keeper.epoch).toBe(1);
    const renewed = performance.now();
    await pastTheLease(renewed);
    const other = await b.acquireLease(runId, "elsewhere:1:x", 30);
    expect(other).toMatchObject({ taken: { epoch: 2 } });
    await expect(keeper.assure()).rejects.toMatchObject({ code: "ROLLGATE_E_LEASE_LOST" });
    await expect(keeper.assure()).rejects.toMatchObject({ code: "ROLLGATE_E_LEASE_LOST" });
    expect(keeper.lost()?.message).toMatch(
      /another engine \(pid 1 on elsewhere\) leads it now, under epoch 2/,
    );
    // its release leaves the new leader's lease alone
    await keeper.release();
    expect(await b.readLease(runId)).toMatchObject({ owner: "elsewhere:1:x", epoch: 2, live: true });
  });

  it("a standby waits while the lease is live, says so once, and takes it (epoch + 1) once it runs out", async () => {
    const { a, b, runId } = await store();
    await a.acquireLease(runId, "leader:7:x", timing.seconds);
    const said: string[] = [];
    const held = await holdLease(b, runId, { onStandby: (m) => said.push(m) }, timing);
    if (!("keeper" in held)) throw new Error("not taken");
    expect(held.waited).toBe(true);
    expect(held.keeper.epoch).toBe(2);
    expect(said).toHaveLength(1);
    expect(said[0]).toMatch(/led by another engine \(pid 7 on leader, lease epoch 1.*waiting as a standby/);
    await held.keeper.release();
  });

  it("ROLLGATE_LEASE_SECONDS sets the lease; renewal and margin are a third of it; nonsense is refused", () => {
    expect(leaseTiming({})).toEqual({ seconds: 8, renewMs: 8000 / 3, marginMs: 8000 / 3 });
    expect(leaseTiming({ ROLLGATE_LEASE_SECONDS: "3" })).toEqual({
      seconds: 3,
      renewMs: 1000,
      marginMs: 1000,
    });
    expect(() => leaseTiming({ ROLLGATE_LEASE_SECONDS: "0" })).toThrow(/from 0.3 to 3600/);
    // past an hour: refused (1e9 s once made the renewal timer fire at once, a loop on the database)
    expect(() => leaseTiming({ ROLLGATE_LEASE_SECONDS: "1e9" })).toThrow(/from 0.3 to 3600/);
    expect(() => leaseTiming({ ROLLGATE_LEASE_SECONDS: "3601" })).toThrow(/ROLLGATE_LEASE_SECONDS/);
    expect(leaseTiming({ ROLLGATE_LEASE_SECONDS: "3600" }).seconds).toBe(3600);
    // its sibling knob, the wait for an unreachable database, is read as strictly (it ignored
    // nonsense before): by openStore, before any connection is made
    const wait = (v: string) =>
      envSeconds({ ROLLGATE_STATE_WAIT_SECONDS: v }, "ROLLGATE_STATE_WAIT_SECONDS", 0.1, 86_400);
    expect(envSeconds({}, "ROLLGATE_STATE_WAIT_SECONDS", 0.1, 86_400)).toBeUndefined();
    expect(wait("")).toBeUndefined();
    expect(wait("2.5")).toBe(2.5);
    for (const bad of ["0", "-1", "abc", "1e9", "0.001"])
      expect(() => wait(bad), bad).toThrow(
        /ROLLGATE_STATE_WAIT_SECONDS must be a number of seconds from 0.1 to 86400/,
      );
    process.env.ROLLGATE_STATE_WAIT_SECONDS = "abc";
    try {
      expect(() => openStore("postgres://127.0.0.1:9/db")).toThrow(/ROLLGATE_STATE_WAIT_SECONDS/);
    } finally {
      delete process.env.ROLLGATE_STATE_WAIT_SECONDS;
    }
  });
});
