import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { driverFor } from "../../src/drivers/index.ts";
import { loadFleetFile } from "../../src/io/fleet-loader.ts";
import { planUpgrade } from "../../src/plan/planner.ts";
import type { Step } from "../../src/model/step.ts";
import { Engine } from "../../src/run/engine.ts";
import { ruleGate } from "../../src/run/rule-gate.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";
import { REPO, tempDir } from "../helpers/cli.ts";
import { e2eTimeouts } from "../helpers/wait.ts";

e2eTimeouts(60_000);

/**
 * A restarted engine rebuilds its gate from the journal (issue 5, crash safety): a step with an
 * intent and no outcome may be under way, so the rules must count it as started. Here the patch
 * upgrade of the DMA supercluster takes one cluster out of service at a time; after a restart
 * with dma-nyc's busy-out journaled but not done, the gate must not let dma-bos go out of service
 * too (territory us-east would have neither its primary nor its backup: D4).
 */
const open: SqliteStore[] = [];
afterEach(async () => {
  while (open.length) await open.pop()!.close();
});

describe("the gate after a restart", () => {
  it("counts a journaled, unfinished step as started (a second busy-out is held back, D4)", async () => {
    const fleet = loadFleetFile(join(REPO, "examples", "dma-supercluster.yaml"));
    const plan = planUpgrade(fleet, { to: "10.0.2", strategy: "patch" });
    const busyOuts = plan.steps.filter((s) => s.action === "busy-out");
    expect(busyOuts.length).toBe(3);
    const [first, second] = busyOuts as [Step, Step];
    const store = new SqliteStore(join(tempDir("rollgate-gate-"), "state.db"));
    open.push(store);
    const run = await store.createRun({
      fleet: fleet.name,
      fleetFile: "dma-supercluster.yaml",
      target: "10.0.2",
      plan,
    });
    // every step before the first busy-out is done; the busy-out itself has an intent, no outcome
    const ids = new Set<string>();
    const markDependencies = (s: Step): void => {
      for (const a of s.after) {
        if (ids.has(a)) continue;
        ids.add(a);
        markDependencies(plan.steps.find((x) => x.id === a)!);
      }
    };
    markDependencies(first);
    for (const id of ids)
      await store.append(run.id, { type: "step.done", step: id, observed: false, seconds: 0 });
    await store.append(run.id, {
      type: "step.intent",
      step: first.id,
      action: first.action,
      cluster: first.cluster,
      attempt: 1,
    });

    const fresh = ruleGate(fleet, plan);
    expect(fresh.check(second).ok).toBe(true); // alone, the second busy-out keeps the floor

    const gate = ruleGate(fleet, plan);
    // the engine reads the journal before it acts (run() loads it first)
    await new Engine({ store, runId: run.id, fleet, plan, gate, driverFor }).load();
    const verdict = gate.check(second);
    expect(verdict.ok).toBe(false);
    // us-east has dma-nyc as primary and dma-bos as backup: both out would leave it unserved
    expect(verdict).toMatchObject({ ok: false, rule: "D4" });
    expect(verdict.ok ? "" : verdict.reason).toContain("us-east");
  });
});
