import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { driverFor } from "../../src/drivers/index.ts";
import { loadFleetFile } from "../../src/io/fleet-loader.ts";
import { type Lab, startLab } from "../../src/lab/index.ts";
import { planUpgrade } from "../../src/plan/planner.ts";
import { Engine } from "../../src/run/engine.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";
import { REPO, runCli, tempDir } from "../helpers/cli.ts";
import { e2eTimeouts } from "../helpers/wait.ts";

e2eTimeouts(60_000);

/**
 * The new supercluster of an incremental upgrade (D6, D10), asserted on the lab's journal: the
 * planned founder founds it at its verify (the planner and the lab agree on when it exists), the
 * other clusters wait for that and join it, whatever order the installs end in; and a run whose
 * fleet does not look upgraded at the end never reports success.
 */
const labs: Lab[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const l of labs.splice(0)) await l.stop();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function dmaLab(floor: number, speed: number): Promise<{ lab: Lab; dir: string }> {
  const dir = tempDir("rollgate-founder-");
  dirs.push(dir);
  const file = join(dir, "dma.yaml");
  const text = readFileSync(join(REPO, "examples", "dma-supercluster.yaml"), "utf8");
  writeFileSync(file, text.replace("capacityFloor: 0.6", `capacityFloor: ${floor}`));
  const lab = await startLab(file, { speed });
  labs.push(lab);
  return { lab, dir };
}

const changes = (l: Lab) =>
  l.world.journal
    .entries(0, Number.MAX_SAFE_INTEGER)
    .filter((e) => e.kind === "state")
    .map((e) => e.detail);

async function applyIncremental(lab: Lab) {
  const r = await runCli(
    [
      "apply",
      lab.derivedFleetPath,
      "--to",
      "10.1.0",
      "--strategy",
      "incremental",
      "--yes",
      "--confirm-finalize",
      "--json",
    ],
    { timeoutMs: 150_000 },
  );
  return { code: r.code, stderr: r.stderr, report: JSON.parse(r.stdout.trim().split("\n").at(-1)!) };
}

function assertOneNewSupercluster(lab: Lab) {
  const status = lab.status();
  expect(status.violations).toEqual([]);
  expect(status.superclusters).toEqual([
    expect.objectContaining({
      name: "sc-east@10.1.0",
      founder: "dma-nyc",
      members: ["dma-nyc", "dma-bos", "dma-phl"],
    }),
  ]);
  const log = changes(lab);
  const founded = log.indexOf("dma-nyc founded sc-east@10.1.0 (members: dma-nyc)");
  expect(founded).toBeGreaterThanOrEqual(0);
  // no cluster serves again before it is a member of the new supercluster (D6)
  expect(log.indexOf("dma-nyc back in service")).toBeGreaterThan(founded);
  for (const c of ["dma-bos", "dma-phl"])
    expect(log.indexOf(`${c} back in service`)).toBeGreaterThan(
      log.findIndex((d) => d.startsWith(`${c} joined sc-east@10.1.0 through dma-nyc`)),
    );
}

describe("the new supercluster of an incremental upgrade", () => {
  it("an operator upgrades a three-cluster supercluster at floor 0.3: completes, the founder founds it at its verify, no rule broken", async () => {
    const { lab } = await dmaLab(0.3, 3000);
    const r = await applyIncremental(lab);
    expect(r.code, r.stderr).toBe(0);
    expect(r.report).toMatchObject({ ok: true, state: "completed" });
    assertOneNewSupercluster(lab);
  }, 180_000);

  it("the founder's install is slow (×3): another cluster is verified first, waits for the founder and joins it; no D10", async () => {
    const { lab } = await dmaLab(0.3, 3000);
    lab.fault("nyc-1", "slow-install", { factor: 3 });
    const r = await applyIncremental(lab);
    expect(r.code, r.stderr).toBe(0);
    const log = changes(lab);
    // dma-bos was upgraded before the founder, and still joined it only once it had founded
    expect(log.indexOf("bos-1: installing (10.0.1) → running (10.1.0): installed 10.1.0")).toBeLessThan(
      log.indexOf("nyc-1: installing (10.0.1) → running (10.1.0): installed 10.1.0"),
    );
    assertOneNewSupercluster(lab);
  }, 180_000);

  it("every step journaled done over a fleet that is not upgraded: the engine escalates, it does not report success", async () => {
    const { lab, dir } = await dmaLab(0.3, 3000);
    const fleet = loadFleetFile(lab.derivedFleetPath);
    const plan = planUpgrade(fleet, { to: "10.1.0", strategy: "incremental" });
    const store = new SqliteStore(join(dir, "state.db"));
    try {
      const run = await store.createRun({
        fleet: fleet.name,
        fleetFile: lab.derivedFleetPath,
        target: "10.1.0",
        plan,
      });
      for (const s of plan.steps)
        await store.append(run.id, { type: "step.done", step: s.id, observed: true, seconds: 0 });
      const result = await new Engine({ store, runId: run.id, fleet, plan, driverFor }).run();
      expect(result.state).toBe("escalated");
      expect(result.escalation?.detail).toMatch(/every step is done, yet the fleet does not look upgraded/);
      expect(result.escalation?.detail).toMatch(/nyc-1 runs 10\.0\.1/);
      expect(result.escalation?.detail).toMatch(/sees dma-nyc in supercluster sc-east, not sc-east@10\.1\.0/);
      expect((await store.getRun(run.id))?.state).toBe("escalated");
    } finally {
      await store.close();
    }
  }, 60_000);
});
