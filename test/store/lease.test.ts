import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Plan } from "../../src/plan/types.ts";
import { openStore } from "../../src/store/open.ts";
import type { Lease, Store } from "../../src/store/types.ts";
import { tempDir } from "../helpers/cli.ts";
import { type PgServer, startPostgres } from "../helpers/postgres.ts";
import { e2eTimeouts, waitFor } from "../helpers/wait.ts";

e2eTimeouts(60_000);

/**
 * The run's lease (docs/ha.md) on a real PostgreSQL: one owner at a time, a takeover only once it
 * has run out (by the database's clock), the epoch one higher at each takeover, and every write of
 * a store fenced under an old epoch refused in its own transaction. A SQLite state file's lease is
 * its engine lock.
 */
const plan: Plan = {
  fleet: "f",
  target: "3.5.1",
  targets: { m: "3.5.1" },
  capacityFloor: 0.5,
  strategy: "rolling",
  steps: [],
  estimate: { seconds: 0, lowerBoundSeconds: 0, minCapacity: 0.5 },
  verification: { ok: true, statesChecked: 1, violations: [] },
};

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
const store = (location: string) => {
  const s = openStore(location);
  open.push(s);
  return s;
};
const taken = (a: { taken: Lease } | { heldBy: Lease }): Lease => {
  if (!("taken" in a)) throw new Error(`held by ${a.heldBy.owner}`);
  return a.taken;
};

describe("the lease of a run in PostgreSQL (a real server)", () => {
  it("one owner at a time; a takeover after it runs out raises the epoch; the old epoch's writes are refused", async () => {
    const url = await server!.createDb(`rg_lease_${++dbs}`);
    const a = store(url);
    const b = store(url);
    const run = await a.createRun({ fleet: "f", fleetFile: "/x/f.yaml", target: "3.5.1", plan });
    const first = taken(await a.acquireLease(run.id, "h:1:a", 1));
    expect(first).toMatchObject({ owner: "h:1:a", epoch: 1, live: true });
    a.fence(first);
    await a.append(run.id, { type: "step.done", step: "x", observed: true, seconds: 0 });
    // a live lease is not taken
    const held = await b.acquireLease(run.id, "h:2:b", 1);
    expect(held).toMatchObject({ heldBy: { owner: "h:1:a", epoch: 1 } });
    expect(await b.engineHolder("f")).toMatchObject({ pid: 1, host: "h" });
    // renewed, it stays; run out, it is taken with the next epoch
    await a.renewLease(first, 1);
    const second = await waitFor(
      async () => {
        const got = await b.acquireLease(run.id, "h:2:b", 30);
        return "taken" in got ? got.taken : undefined;
      },
      { what: "the lease to run out", intervalMs: 100 },
    );
    expect(second).toMatchObject({ owner: "h:2:b", epoch: 2, live: true });
    b.fence(second);
    const before = (await b.events(run.id)).length;
    // every write of the old leader is refused, in its own transaction: nothing of it is written
    for (const write of [
      () => a.append(run.id, { type: "step.done", step: "y", observed: true, seconds: 0 }),
      () => a.appendMany!(run.id, [{ type: "step.done", step: "y", observed: true, seconds: 0 }]),
      () => a.setState(run.id, "paused"),
      () => a.setStateIf(run.id, ["pending"], "paused"),
      () => a.confirm(run.id, "x", "operator"),
      () => a.renewLease(first, 30),
    ])
      await expect(write()).rejects.toMatchObject({ code: "ROLLGATE_E_LEASE_LOST" });
    expect((await b.events(run.id)).length).toBe(before);
    expect((await b.getRun(run.id))?.state).toBe("pending");
    // the new leader writes; a release by the old one leaves the new lease alone
    await b.append(run.id, { type: "step.done", step: "z", observed: true, seconds: 0 });
    await a.releaseLease(first);
    expect(await a.readLease(run.id)).toMatchObject({ owner: "h:2:b", epoch: 2, live: true });
    // released, it is free at once
    await b.releaseLease(second);
    expect((await a.readLease(run.id))?.live).toBe(false);
    expect(taken(await a.acquireLease(run.id, "h:3:c", 30))).toMatchObject({ epoch: 3 });
  });

  it("a SQLite state file's lease is its engine lock: epoch 1, no expiry, nothing to take over", async () => {
    const s = store(join(tempDir(), "state.db"));
    const run = await s.createRun({ fleet: "f", fleetFile: "/x/f.yaml", target: "3.5.1", plan });
    const lease = taken(await s.acquireLease(run.id, "h:1:a", 1));
    expect(lease).toMatchObject({ epoch: 1, live: true });
    expect(lease.expiresAt).toBeUndefined();
    expect((await s.engineHolder("f"))?.pid).toBe(process.pid);
    expect(await s.renewLease(lease, 1)).toEqual(lease);
    await s.releaseLease(lease);
    expect(await s.engineHolder("f")).toBeUndefined();
  });
});
