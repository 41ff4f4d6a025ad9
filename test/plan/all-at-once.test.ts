import { describe, expect, it } from "vitest";
import { planUpgrade } from "../../src/plan/planner.ts";
import { verifyPlan } from "../../src/plan/verify.ts";
import { fleetOf, matrixCluster } from "./fleets.ts";

/** M12's full stop: every server of the matrix upgraded together with the matrix down. */
describe("all-at-once plans (M12)", () => {
  const fleet = fleetOf([matrixCluster("mx", 4, "3.1.2", 11)], [], 0);
  const plan = planUpgrade(fleet, { to: "4.1.0", strategy: "all-at-once" });
  const targets = new Map(Object.entries(plan.targets));
  const rules = (steps: typeof plan.steps) => [
    ...new Set(verifyPlan(fleet, steps, targets).violations.map((v) => v.rule)),
  ];

  it("stops every server before any install, starts them together, each start a point of no return; verifies with a full outage", () => {
    expect(plan.strategy).toBe("all-at-once");
    expect(plan.verification.violations).toEqual([]);
    const lastStop = Math.max(...plan.steps.filter((s) => s.action === "stop").map((s) => s.end));
    const installs = plan.steps.filter((s) => s.action === "install");
    expect(installs).toHaveLength(4);
    expect(installs.every((s) => s.start >= lastStop && s.release === "4.1.0" && s.fullStop)).toBe(true);
    expect(plan.steps.filter((s) => s.pointOfNoReturn).map((s) => s.action)).toEqual([
      "start",
      "start",
      "start",
      "start",
    ]);
    expect(plan.estimate.minCapacity).toBe(0);
    expect(plan.estimate.outageSeconds).toBeGreaterThan(0);
    expect(plan.estimate.mixedWindowSeconds).toBe(0);
    expect(plan.estimate.seconds).toBe(plan.estimate.lowerBoundSeconds);
  });

  it("the verifier refuses an install while another server still runs the matrix (M8), and the same steps without the full stop (M1)", () => {
    // one server goes through on its own while the others wait half an hour, still running
    const early = structuredClone(plan.steps);
    const x = early[0]!.server!;
    for (const s of early)
      if (s.server !== x) {
        s.start += 1800;
        s.end += 1800;
      }
    const own = (action: string) => early.find((s) => s.server === x && s.action === action)!;
    own("install").after = [own("stop").id];
    own("start").after = [own("install").id];
    expect(rules(early)).toContain("M8");
    const rolling = structuredClone(plan.steps).map((s) => {
      delete s.fullStop;
      return s;
    });
    expect(rules(rolling)).toContain("M1");
  });

  it("auto never takes the outage: it stays rolling, or refuses and names --strategy all-at-once", () => {
    const supported = fleetOf([matrixCluster("mx", 3, "3.5.0", 12)], [], 0);
    expect(planUpgrade(supported, { to: "3.5.1" }).strategy).toBe("rolling");
    expect(() => planUpgrade(fleet, { to: "4.1.0" })).toThrow(/--strategy all-at-once/);
  });
});
