import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.ts";

describe("rollgate demo (real CLI, lab and engine)", () => {
  it("upgrades the built-in fleet and ends with a JSON report: ok, no lab violation, every server on target", async () => {
    const r = await runCli(["demo", "--json", "--speed", "1200"], { timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(0);
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
    expect(report.mixedWindows).toHaveProperty("sc-east");
    expect(report.mixedWindows).toHaveProperty("matrix-a");
    expect(report.rulesChecked.ruleIds).toEqual(expect.arrayContaining(["D4", "D10", "M2", "G4"]));
    // every line before the report is an event of the run
    const events = lines.slice(0, -1).map((l) => JSON.parse(l));
    expect(events[0].type).toBe("run.created");
    expect(events.filter((e) => e.type === "escalation")).toEqual([]);
  });
});
