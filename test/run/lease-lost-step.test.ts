import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Driver, driverFor } from "../../src/drivers/index.ts";
import { loadFleetFile } from "../../src/io/fleet-loader.ts";
import type { Lab } from "../../src/lab/index.ts";
import { planUpgrade } from "../../src/plan/planner.ts";
import { Engine } from "../../src/run/engine.ts";
import { holdLease } from "../../src/run/lease.ts";
import { openStore } from "../../src/store/open.ts";
import type { Store } from "../../src/store/types.ts";
import { labOf } from "../helpers/engine.ts";
import { type PgServer, startPostgres } from "../helpers/postgres.ts";
import { e2eTimeouts, waitFor } from "../helpers/wait.ts";

e2eTimeouts(60_000);

/**
 * A step that fails because this engine has lost its world (its link cut: the lab and the
 * database out of reach) while another engine took the lease: recording the failure is refused
 * under the old epoch. The engine must end with ROLLGATE_E_LEASE_LOST (the CLI's exit 4), not
 * die of a rejection nobody awaited (exit 1, the CI failure of the netns test that this repeats
 * deterministically). Real parts: PostgreSQL, the lab's HTTP servers, the http driver.
 */
let server: PgServer | undefined;
let lab: Lab | undefined;
let dir: string | undefined;
const stores: Store[] = [];
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(async () => {
  for (const s of stores) await s.close();
  await lab?.stop().catch(() => undefined);
  if (dir) rmSync(dir, { recursive: true, force: true });
  server?.destroy();
});

describe("a step that fails while the lease is taken over", () => {
  it("the engine ends with ROLLGATE_E_LEASE_LOST, writes nothing under the old epoch, and leaves no rejection unawaited", async () => {
    const made = await labOf("matrix-seed", 100_000);
    lab = made.lab;
    dir = made.dir;
    const fleet = loadFleetFile(made.fleet);
    const plan = planUpgrade(fleet, { to: "3.5.1" });
    const url = await server!.createDb("rg_lost_step");
    const a = openStore(url);
    const b = openStore(url);
    stores.push(a, b);
    const run = await a.createRun({ fleet: fleet.name, fleetFile: made.fleet, target: "3.5.1", plan });
    // a 1 s lease, never renewed by a timer: it runs out while the first action is under way
    const held = await holdLease(a, run.id, {}, { seconds: 1, renewMs: 600_000, marginMs: 333 });
    if (!("keeper" in held)) throw new Error("the lease was not taken");
    let actions = 0;
    const wrapped = (c: Parameters<typeof driverFor>[0]): Driver => {
      const real = driverFor(c);
      return {
        kind: real.kind,
        observe: (t, o) => real.observe(t, o),
        perform: async (t, action, args, o) => {
          if (++actions === 1) {
            // meanwhile another engine takes the run over, and this one's world goes away
            await waitFor(async () => "taken" in (await b.acquireLease(run.id, "elsewhere:7:x", 30)), {
              what: "the other engine to take the lease",
              intervalMs: 100,
            });
            await lab!.stop();
          }
          return real.perform(t, action, args, o);
        },
      };
    };
    const engine = new Engine({
      store: a,
      runId: run.id,
      fleet,
      plan,
      driverFor: wrapped,
      lease: held.keeper,
      tickMs: 50,
    });
    await expect(engine.run()).rejects.toMatchObject({ code: "ROLLGATE_E_LEASE_LOST" });
    await held.keeper.release();
    expect(actions).toBe(1);
    // the new leader's journal holds no failure written by the old one
    const events = await b.events(run.id);
    expect(events.filter((e) => e.type === "step.failed" || e.type === "escalation")).toEqual([]);
    expect(await b.readLease(run.id)).toMatchObject({ owner: "elsewhere:7:x", epoch: 2 });
  });
});
