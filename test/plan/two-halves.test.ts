import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compareAddresses } from "../../src/model/address.ts";
import type { Step } from "../../src/model/step.ts";
import { compareStrategies, planUpgrade } from "../../src/plan/planner.ts";
import { verifyPlan } from "../../src/plan/verify.ts";
import { fleetOf, matrixCluster, scrambledMatrix } from "./fleets.ts";

/**
 * M12's two halves: the top of the address order upgraded together while the rest runs the
 * matrix, then the rest together while the first half runs it. Every plan verifies (M3, M5, the
 * floor); the first half is a top segment; the second half waits for it; its stops are the point
 * of no return (M4, G4); auto never takes it; --compare shows it beside rolling.
 */
function matrixFleet(n: number, shuffle: number, floor: number, fs: boolean, from = "3.5.0") {
  const capacity = (k: number) => 1 + ((k * 3 + shuffle) % 4);
  return fleetOf([scrambledMatrix(n, from, 8, shuffle, { fs, capacity })], [], floor);
}

describe("two-halves plans over random matrices (M12)", () => {
  it("every plan verifies; the first half is a top segment of the address order, upgraded before the second; the second half's stops are the point of no return", () => {
    let planned = 0;
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 10 }),
        fc.integer({ min: 0, max: 1000 }),
        fc.constantFrom(0, 0.2, 0.4, 0.5),
        fc.boolean(),
        (n, shuffle, floor, fs) => {
          const fleet = matrixFleet(n, shuffle, floor, fs);
          const c = fleet.clusters[0]!;
          let plan: ReturnType<typeof planUpgrade>;
          try {
            plan = planUpgrade(fleet, { to: "3.5.1", strategy: "two-halves" });
          } catch (e) {
            expect((e as { code?: string }).code).toBe("ROLLGATE_E_PLAN_FLOOR_UNREACHABLE");
            return;
          }
          planned++;
          expect(plan.strategy).toBe("two-halves");
          expect(plan.verification.violations).toEqual([]);
          expect(plan.estimate.minCapacity + 0.01).toBeGreaterThanOrEqual(floor);
          expect(plan.estimate.outageSeconds ?? 0).toBe(0);
          const addr = (name: string) => c.servers.find((s) => s.name === name)!.address;
          const first = new Set(plan.steps.filter((s) => s.half === 1).map((s) => s.server!));
          const second = new Set(plan.steps.filter((s) => s.half === 2).map((s) => s.server!));
          expect(first.size + second.size).toBe(c.servers.length);
          expect(first.size).toBeGreaterThan(0);
          expect(second.size).toBeGreaterThan(0);
          for (const a of first) for (const b of second) expect(compareAddresses(addr(a), addr(b))).toBe(1);
          const lastOfFirst = Math.max(...plan.steps.filter((s) => s.half === 1).map((s) => s.end));
          const firstOfSecond = Math.min(...plan.steps.filter((s) => s.half === 2).map((s) => s.start));
          expect(firstOfSecond).toBeGreaterThanOrEqual(lastOfFirst);
          const pnr = plan.steps.filter((s) => s.pointOfNoReturn);
          expect(pnr.every((s) => s.half === 2 && s.action === "stop")).toBe(true);
          expect(pnr).toHaveLength(second.size);
          expect(plan.steps.every((s) => s.rules.length > 0)).toBe(true);
        },
      ),
      { numRuns: 150 },
    );
    expect(planned).toBeGreaterThan(75); // most of the random matrices keep their floor in two halves
  });

  it("the verifier refuses a two-halves plan whose second half starts first (M2) or whose halves meet out of order (M3)", () => {
    const fleet = matrixFleet(4, 3, 0, false);
    const plan = planUpgrade(fleet, { to: "3.5.1", strategy: "two-halves" });
    const targets = new Map(Object.entries(plan.targets));
    // swap the halves: the bottom goes first
    const swapped: Step[] = plan.steps.map((s) => ({ ...s, half: s.half === 1 ? 2 : 1 }) as Step);
    const v = verifyPlan(fleet, swapped, targets);
    expect(v.ok).toBe(false);
    expect(v.violations.map((x) => x.rule)).toEqual(expect.arrayContaining(["M2"]));
  });

  it("auto never takes it; --compare shows it beside rolling and all-at-once, with no outage", () => {
    const fleet = matrixFleet(6, 5, 0.4, true);
    expect(planUpgrade(fleet, { to: "3.5.1" }).strategy).toBe("rolling");
    const rows = compareStrategies(fleet, { to: "3.5.1" });
    expect(rows.map((r) => r.strategy)).toEqual(["rolling", "all-at-once", "two-halves"]);
    const halves = rows.find((r) => r.strategy === "two-halves")!;
    expect(halves).toMatchObject({ ok: true, verified: true, outageSeconds: 0, keepsFloor: true });
    const rolling = rows.find((r) => r.strategy === "rolling")!;
    expect(halves.seconds!).toBeLessThan(rolling.seconds!);
  });

  it("refuses, with the rule, a path the halves cannot run side by side (M8), a floor no split keeps (G3), and a matrix with one server to upgrade", () => {
    expect(() =>
      planUpgrade(matrixFleet(4, 3, 0, false, "3.4.2"), { to: "4.1.0", strategy: "two-halves" }),
    ).toThrow(
      expect.objectContaining({
        code: "ROLLGATE_E_PLAN_UNSUPPORTED_PATH",
        message: expect.stringContaining("M8"),
      }),
    );
    expect(() => planUpgrade(matrixFleet(4, 3, 0.7, false), { to: "3.5.1", strategy: "two-halves" })).toThrow(
      expect.objectContaining({
        code: "ROLLGATE_E_PLAN_FLOOR_UNREACHABLE",
        message: expect.stringContaining("G3"),
      }),
    );
    const one = fleetOf([matrixCluster("solo", 1, "3.5.0", 9)], [], 0);
    expect(() => planUpgrade(one, { to: "3.5.1", strategy: "two-halves" })).toThrow(
      expect.objectContaining({ code: "ROLLGATE_E_PLAN_STRATEGY_NOT_APPLICABLE" }),
    );
  });
});
