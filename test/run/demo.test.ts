import { readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { Plan } from "../../src/plan/types.ts";
import { durations } from "../../src/run/demo.ts";
import { runCli, tempDir } from "../helpers/cli.ts";
import { e2eTimeouts } from "../helpers/wait.ts";

e2eTimeouts(60_000);

describe("the demo's durations (issue 14)", () => {
  const plan = { estimate: { seconds: 18.3, lowerBoundSeconds: 17.95, mixedWindowSeconds: 11.9 } } as Plan;
  it("reports the plan over its bound, and the run as the plan's time plus the engine's overhead, not wall time × speed", () => {
    // a 3h3m plan at 600×: 18.3 s of lab time; the run took 28.3 s of wall time
    const d = durations(plan, 600, 28.3);
    expect(d.planSeconds).toBe(10980);
    expect(d.lowerBoundSeconds).toBe(10770);
    expect(d.planOverBound).toBe(1.02); // not 28.3 × 600 / 10770 = 1.58
    expect(d.simulatedWallSeconds).toBe(18.3);
    expect(d.engineOverheadSeconds).toBe(10);
    expect(d.durationSeconds).toBe(10990); // not 28.3 × 600 = 16980
    expect(d.planMixedWindowSeconds).toBe(7140);
    // a run faster than its plan has no negative overhead
    expect(durations(plan, 600, 18).engineOverheadSeconds).toBe(0);
  });
});

describe("rollgate demo (real CLI, lab and engine)", () => {
  it("upgrades the built-in fleet and ends with a JSON report: ok, no lab violation, every server on target", async () => {
    const tmp = tempDir("rollgate-demo-tmp-");
    const r = await runCli(["demo", "--json", "--speed", "1200"], {
      timeoutMs: 120_000,
      env: { TMPDIR: tmp },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(
      readdirSync(tmp).filter((n) => n.startsWith("rollgate-")),
      "the demo removes its folder",
    ).toEqual([]);
    const lines = r.stdout.trim().split("\n");
    const report = JSON.parse(lines.at(-1)!);
    expect(report).toMatchObject({
      ok: true,
      labViolations: 0,
      strategy: "incremental",
      runState: "completed",
    });
    expect(report.serversOnTarget).toBe(report.servers);
    expect(report.servers).toBe(9);
    expect(Object.values(report.installsPerServer).every((n) => n === 1)).toBe(true);
    // it keeps service up: the floor holds, and the maintenance window (D5) is shorter but a full outage
    expect(report.minCapacity).toBeGreaterThanOrEqual(report.capacityFloor);
    expect(report.maintenanceWindowSeconds).toBeLessThan(report.planSeconds);
    expect(report.planSeconds).toBeLessThanOrEqual(report.lowerBoundSeconds * 1.05);
    // the plan's ratio to its bound, and the run's time as plan + engine overhead (issue 14)
    expect(report.planOverBound).toBe(
      Math.round((report.planSeconds / report.lowerBoundSeconds) * 100) / 100,
    );
    expect(report.planOverBound).toBeLessThanOrEqual(1.05);
    expect(report.simulatedWallSeconds).toBeCloseTo(report.planSeconds / 1200, 0);
    expect(report.engineOverheadSeconds).toBeCloseTo(report.wallSeconds - report.simulatedWallSeconds, 0);
    expect(
      Math.abs(report.durationSeconds - (report.planSeconds + report.engineOverheadSeconds)),
    ).toBeLessThanOrEqual(1);
    // the engine's overhead counts once, in real seconds, not × the speed
    expect(report.durationSeconds).toBeLessThan(report.planSeconds + report.wallSeconds + 1);
    expect(report.durationSeconds).toBeLessThan(report.wallSeconds * 1200);
    expect(report.mixedWindows).toHaveProperty("sc-east");
    expect(report.mixedWindows).toHaveProperty("matrix-a");
    expect(report.rulesChecked.ruleIds).toEqual(expect.arrayContaining(["D4", "D10", "M2", "G4"]));
    // every line before the report is an event of the run
    const events = lines.slice(0, -1).map((l) => JSON.parse(l));
    expect(events[0].type).toBe("run.created");
    expect(events.filter((e) => e.type === "escalation")).toEqual([]);
  }, 180_000);
});

describe("rollgate demo --rollback-demo (D9, real CLI, lab and engine)", () => {
  it("after the upgrade, a patch comes back wrong on dma-bos (D8b), the run escalates, and dma-bos's last upgrade is rolled back: its release and data store as before the patch, back in its supercluster, no lab violation", async () => {
    const r = await runCli(["demo", "--json", "--speed", "1200", "--rollback-demo"], { timeoutMs: 180_000 });
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
    expect(report.ok).toBe(true);
    expect(report.rollback).toMatchObject({
      ok: true,
      cluster: "dma-bos",
      patch: "10.1.0 → 10.1.1",
      patchState: "escalated",
      escalation: { rule: "D8b" },
      rollbackState: "completed",
      release: "10.1.0",
      dataStoreRestored: true,
      rejoined: true,
      labViolations: 0,
      command: "rollgate rollback FLEET --cluster dma-bos --yes --confirm-finalize",
    });
    expect(report.rollback.findings.join("\n")).toContain("may be lost (a point of no return, G4)");
    // told on stderr as it goes, in the operator's words
    expect(r.stderr).toContain("rollback demo (D9)");
    expect(r.stderr).toContain("rollgate rollback FLEET --cluster dma-bos");
  }, 240_000);
});
