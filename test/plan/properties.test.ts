import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compareAddresses } from "../../src/model/address.ts";
import { planUpgrade } from "../../src/plan/planner.ts";
import { buildFleet, fleetArb, targetsFor } from "./random-fleets.ts";

describe("properties of plans over random fleets", () => {
  it("every plan verifies; order, one-at-a-time, the floor and the bounds hold", () => {
    fc.assert(
      fc.property(fleetArb, (r) => {
        const fleet = buildFleet(r);
        let plan: ReturnType<typeof planUpgrade>;
        try {
          plan = planUpgrade(fleet, { to: targetsFor(fleet, r.incompatible) });
        } catch (e) {
          // the only refusal a random fleet may earn: a floor no plan can keep
          expect((e as { code?: string }).code).toBe("ROLLGATE_E_PLAN_FLOOR_UNREACHABLE");
          return;
        }
        expect(plan.verification.violations).toEqual([]);
        expect(plan.estimate.minCapacity + 0.01).toBeGreaterThanOrEqual(fleet.defaults.capacityFloor);
        expect(plan.estimate.seconds).toBeGreaterThanOrEqual(plan.estimate.lowerBoundSeconds);
        // ≤ 1.05 × the bound, in every case
        expect(plan.estimate.seconds).toBeLessThanOrEqual(1.05 * plan.estimate.lowerBoundSeconds);
        for (const c of fleet.clusters.filter((x) => x.pack === "polyserve-matrix")) {
          // M2: installs in descending address order; M1: windows do not overlap
          const steps = plan.steps.filter((s) => s.cluster === c.name);
          const installs = steps.filter((s) => s.action === "install");
          const addr = (n: string) => c.servers.find((s) => s.name === n)!.address;
          for (let i = 1; i < installs.length; i++) {
            expect(compareAddresses(addr(installs[i - 1]!.server!), addr(installs[i]!.server!))).toBe(1);
            const prevVerify = steps.find((s) => s.id === `${c.name}/${installs[i - 1]!.server}/verify`)!;
            const disable = steps.find((s) => s.id === `${c.name}/${installs[i]!.server}/disable`)!;
            expect(disable.start).toBeGreaterThanOrEqual(prevVerify.end);
          }
          expect(steps.filter((s) => s.pointOfNoReturn)).toHaveLength(1);
        }
        for (const s of plan.steps)
          for (const a of s.after) {
            const d = plan.steps.find((x) => x.id === a)!;
            expect(d.end).toBeLessThanOrEqual(s.start);
          }
      }),
      { numRuns: 60, seed: 20261122 },
    );
  });

  // DMA patch upgrades (D3): where two clusters sharing a territory must be out together, the
  // planner sends the reassignment ahead of their slot; several seeds, every supercluster shape
  const patchArb = fleetArb
    .filter((r) => r.scs.length > 0)
    .map((r) => ({ ...r, incompatible: false, matrices: [], generics: [] }));
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 20261122])
    it(`patch upgrades stay within 1.05 × the bound (seed ${seed})`, () => {
      fc.assert(
        fc.property(patchArb, (r) => {
          const fleet = buildFleet(r);
          let plan: ReturnType<typeof planUpgrade>;
          try {
            plan = planUpgrade(fleet, { to: targetsFor(fleet, false) });
          } catch (e) {
            expect((e as { code?: string }).code).toBe("ROLLGATE_E_PLAN_FLOOR_UNREACHABLE");
            return;
          }
          expect(plan.strategy).toBe("patch");
          expect(plan.verification.violations).toEqual([]);
          expect(plan.estimate.minCapacity + 0.01).toBeGreaterThanOrEqual(fleet.defaults.capacityFloor);
          expect(plan.estimate.seconds).toBeGreaterThanOrEqual(plan.estimate.lowerBoundSeconds);
          expect(plan.estimate.seconds).toBeLessThanOrEqual(1.05 * plan.estimate.lowerBoundSeconds);
        }),
        { numRuns: 250, seed },
      );
    });
});
