import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compareAddresses } from "../../src/model/address.ts";
import type { Step } from "../../src/model/step.ts";
import { planUpgrade } from "../../src/plan/planner.ts";
import { verifyPlan } from "../../src/plan/verify.ts";
import { chainedMatrixPath } from "../../src/rules/supported-paths.ts";
import { fleetOf, scrambledMatrix, secondPassBegunEarly, secondPassOutOfOrder } from "./fleets.ts";

/**
 * M8's chained path: a matrix whose release has no supported rolling path to the target is
 * planned as the shortest chain of supported rolling upgrades, each a full pass (M1–M5) with its
 * own point of no return (M4, G4), and the verifier holds every pass to the rules.
 */
describe("the chain of supported paths (M8)", () => {
  it("is the shortest chain over the table, or none", () => {
    expect(chainedMatrixPath("3.4.2", "4.1.0")).toEqual(["3.6.0", "4.1.0"]);
    expect(chainedMatrixPath("3.4.0", "3.6.0")).toEqual(["3.6.0"]);
    expect(chainedMatrixPath("3.6.3", "4.1.0")).toEqual(["4.1.0"]);
    expect(chainedMatrixPath("3.1.2", "4.1.0")).toBeUndefined();
    expect(chainedMatrixPath("3.5.0", "3.6.0")).toBeUndefined();
    expect(chainedMatrixPath("3.4.2", "3.5.1")).toBeUndefined();
    // the chain ends on the target as the operator wrote it, so that the plan's last pass ends there
    expect(chainedMatrixPath("3.4.2", "4.1")).toEqual(["3.6.0", "4.1"]);
    expect(chainedMatrixPath("3.4.2", "4.1.0.0")).toEqual(["3.6.0", "4.1.0.0"]);
  });

  it("plans --to 4.1 and --to 4.1.0 alike: the chain verifies and ends on the release as written", () => {
    for (const to of ["4.1", "4.1.0", "4.1.0.0"]) {
      const plan = planUpgrade(matrixFleet(4, "3.4.2", 3, 0.6), { to });
      expect(plan.verification.violations, to).toEqual([]);
      const installs = plan.steps.filter((s) => s.action === "install").map((s) => s.release);
      expect(installs.at(-1), to).toBe(to);
      expect(plan.steps.at(-1)!.pass).toMatchObject({ n: 2, of: 2, to });
    }
  });

  it("refuses a matrix already running two releases off a supported path as bad input (M8), naming them", () => {
    // the highest address, the first M2 upgrades, on a newer release: no M3 break, only the mix
    const withTop = (version: string) => {
      const fleet = matrixFleet(4, "3.4.2", 3, 0.6);
      const c = fleet.clusters[0]!;
      const top = c.servers.reduce(
        (k, s, i) => (compareAddresses(s.address, c.servers[k]!.address) > 0 ? i : k),
        0,
      );
      c.servers = c.servers.map((s, i) => (i === top ? { ...s, version } : s));
      return fleet;
    };
    let err: { code?: string; message?: string } | undefined;
    try {
      planUpgrade(withTop("4.1.0"), { to: "4.1.0" });
    } catch (e) {
      err = e as typeof err;
    }
    expect(err?.code).toBe("ROLLGATE_E_PLAN_FLEET_BREAKS_RULES");
    expect(err?.message).toContain("M8: mx runs 3.4.2 and 4.1.0 side by side");
    // a part-done chain (3.4.2 beside 3.6.0) is a supported mix: it plans
    expect(planUpgrade(withTop("3.6.0"), { to: "4.1.0" }).verification.ok).toBe(true);
  });
});

/** A matrix of `n` servers on `from`, with its file order scrambled so that M2 has work to do. */
function matrixFleet(n: number, from: string, shuffle: number, floor: number, fs = false) {
  return fleetOf([scrambledMatrix(n, from, 7, shuffle, { fs })], [], floor);
}

describe("chained plans over random matrices", () => {
  it("every chained plan verifies; each pass runs in the address order, one server at a time, after the pass before, with its own point of no return", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 9 }),
        fc.constantFrom("3.4.0", "3.4.2", "3.4.9"),
        fc.integer({ min: 0, max: 1000 }),
        fc.constantFrom(0, 0.4, 0.6),
        fc.boolean(),
        (n, from, shuffle, floor, fs) => {
          const fleet = matrixFleet(n, from, shuffle, floor, fs);
          const c = fleet.clusters[0]!;
          let plan: ReturnType<typeof planUpgrade>;
          try {
            plan = planUpgrade(fleet, { to: "4.1.0" });
          } catch (e) {
            expect((e as { code?: string }).code).toBe("ROLLGATE_E_PLAN_FLOOR_UNREACHABLE");
            return;
          }
          expect(plan.verification.violations).toEqual([]);
          expect(plan.estimate.seconds).toBeGreaterThanOrEqual(plan.estimate.lowerBoundSeconds);
          expect(plan.estimate.minCapacity + 0.01).toBeGreaterThanOrEqual(floor);
          const addr = (name: string) => c.servers.find((s) => s.name === name)!.address;
          for (const [k, to] of [
            [1, "3.6.0"],
            [2, "4.1.0"],
          ] as const) {
            const steps = plan.steps.filter((s) => s.pass?.n === k);
            expect(steps.every((s) => s.pass!.to === to && s.pass!.of === 2 && s.pass!.rule === "M8")).toBe(
              true,
            );
            const installs = steps.filter((s) => s.action === "install");
            expect(installs).toHaveLength(c.servers.length);
            expect(installs.every((s) => s.release === to)).toBe(true);
            for (let i = 1; i < installs.length; i++)
              expect(compareAddresses(addr(installs[i - 1]!.server!), addr(installs[i]!.server!))).toBe(1);
            expect(steps.filter((s) => s.pointOfNoReturn)).toHaveLength(1);
          }
          const lastOfFirst = Math.max(...plan.steps.filter((s) => s.pass?.n === 1).map((s) => s.end));
          const firstOfSecond = Math.min(...plan.steps.filter((s) => s.pass?.n === 2).map((s) => s.start));
          expect(firstOfSecond).toBeGreaterThanOrEqual(lastOfFirst);
          // each pass is mixed on its own (M6): never longer than one pass
          expect(plan.estimate.mixedWindowSeconds!).toBeLessThan(plan.estimate.seconds / 2);
          expect(new Set(plan.steps.map((s) => s.id)).size).toBe(plan.steps.length);
        },
      ),
      { numRuns: 60, seed: 20261203 },
    );
  });

  it("a part-done chain goes on from where it stands: servers already on 3.6.0 skip the first pass", () => {
    const fleet = matrixFleet(4, "3.4.2", 0, 0.6);
    const c = fleet.clusters[0]!;
    const top = [...c.servers].sort((a, b) => compareAddresses(b.address, a.address))[0]!;
    top.version = "3.6.0";
    const plan = planUpgrade(fleet, { to: "4.1.0" });
    expect(plan.verification.violations).toEqual([]);
    const first = plan.steps.filter((s) => s.pass?.n === 1 && s.action === "install").map((s) => s.server);
    expect(first).toHaveLength(3);
    expect(first).not.toContain(top.name);
    expect(plan.steps.filter((s) => s.pass?.n === 2 && s.action === "install")).toHaveLength(4);
  });
});

describe("the verifier holds each pass of a chain to the rules", () => {
  const fleet = matrixFleet(3, "3.4.2", 0, 0.6);
  const plan = planUpgrade(fleet, { to: "4.1.0" });
  const targets = new Map(Object.entries(plan.targets));
  const rulesOf = (steps: Step[]) => [
    ...new Set(verifyPlan(fleet, steps, targets).violations.map((v) => v.rule)),
  ];

  it("accepts the planner's chained plan", () => {
    expect(verifyPlan(fleet, plan.steps, targets).violations).toEqual([]);
  });

  it("a pass begun before the one before is over breaks M8 (and M1)", () => {
    // the second pass's first server starts while the first pass's last server is being upgraded
    const steps = secondPassBegunEarly(plan.steps);
    expect(rulesOf(steps)).toContain("M8");
  });

  it("a direct install 3.4.2 → 4.1.0 while the rest of the matrix runs breaks M8", () => {
    // one pass to 4.1.0 from 3.4.2: the first pass's releases changed to the final target
    const steps = structuredClone(plan.steps.filter((s) => s.pass?.n === 2));
    for (const s of steps) delete s.pass;
    const first = steps[0]!;
    first.after = [];
    const shift = first.start;
    for (const s of steps) {
      s.start -= shift;
      s.end -= shift;
    }
    expect(rulesOf(steps)).toContain("M8");
  });

  it("the second pass is held to the address order of its own release (M2)", () => {
    // in the second pass, the lowest-addressed server's procedure and the highest one's swapped
    const steps = secondPassOutOfOrder(plan.steps);
    expect(rulesOf(steps)).toContain("M2");
  });
});
