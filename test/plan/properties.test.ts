import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Cluster, Supercluster } from "../../src/model/fleet.ts";
import { compareAddresses } from "../../src/model/address.ts";
import { planUpgrade } from "../../src/plan/planner.ts";
import { dmaSupercluster, fleetOf, genericCluster, matrixCluster } from "./fleets.ts";

/** A random fleet: matrices, generic clusters and DMA superclusters, with a random floor. */
const fleetArb = fc
  .record({
    matrices: fc.array(fc.integer({ min: 2, max: 8 }), { minLength: 0, maxLength: 3 }),
    generics: fc.array(
      fc.record({ n: fc.integer({ min: 2, max: 6 }), max: fc.integer({ min: 1, max: 3 }) }),
      {
        maxLength: 2,
      },
    ),
    scs: fc.array(
      fc.record({
        sizes: fc.array(fc.integer({ min: 1, max: 2 }), { minLength: 2, maxLength: 5 }),
        caps: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 5, maxLength: 5 }),
      }),
      { maxLength: 2 },
    ),
    floor: fc.constantFrom(0, 0.2, 0.4, 0.5, 0.6),
    shuffle: fc.integer({ min: 0, max: 1000 }),
    incompatible: fc.boolean(),
  })
  .filter((r) => r.matrices.length + r.generics.length + r.scs.length > 0);

type FleetSpec = typeof fleetArb extends fc.Arbitrary<infer T> ? T : never;

function build(r: FleetSpec) {
  const clusters: Cluster[] = [];
  const superclusters: Supercluster[] = [];
  r.matrices.forEach((n, i) => {
    const c = matrixCluster(`m${i}`, n, "3.5.0", i + 1);
    // scramble the file order so that M2 has work to do
    c.servers = c.servers.map((s, k) => ({
      ...s,
      address: `10.0.${i + 1}.${((k * 7 + r.shuffle) % 250) + 1}`,
    }));
    const seen = new Set<string>();
    c.servers = c.servers.filter((s) => !seen.has(s.address) && seen.add(s.address));
    clusters.push(c);
  });
  r.generics.forEach((g, i) => {
    clusters.push(genericCluster(`g${i}`, g.n, "2.4.1", 50 + i, { maxUnavailable: g.max }));
  });
  r.scs.forEach((s, i) => {
    const sc = dmaSupercluster(
      `sc${i}`,
      s.sizes,
      "10.0.1",
      100 + i * 8,
      s.caps.map((c) => c * 100),
    );
    clusters.push(...sc.clusters);
    superclusters.push(sc.supercluster);
  });
  return fleetOf(clusters, superclusters, r.floor);
}

describe("properties of plans over random fleets", () => {
  it("every plan verifies; order, one-at-a-time, the floor and the bounds hold", () => {
    fc.assert(
      fc.property(fleetArb, (r) => {
        const fleet = build(r);
        const to = [
          "polyserve-matrix=3.5.1",
          "generic=2.5.0",
          `polycom-dma=${r.incompatible ? "10.1.0" : "10.0.2"}`,
        ];
        let plan: ReturnType<typeof planUpgrade>;
        try {
          plan = planUpgrade(fleet, {
            to: to.filter((t) => fleet.clusters.some((c) => t.startsWith(c.pack))),
          });
        } catch (e) {
          // the only refusal a random fleet may earn: a floor no plan can keep
          expect((e as { code?: string }).code).toBe("ROLLGATE_E_PLAN_FLOOR_UNREACHABLE");
          return;
        }
        expect(plan.verification.violations).toEqual([]);
        expect(plan.estimate.minCapacity + 0.01).toBeGreaterThanOrEqual(fleet.defaults.capacityFloor);
        expect(plan.estimate.seconds).toBeGreaterThanOrEqual(plan.estimate.lowerBoundSeconds);
        // ≤ 1.05 × the bound; known gap (docs/planning.md): an incremental upgrade of clusters of
        // unequal capacities under a low floor can land up to 1.10 ×
        const uneven = r.scs.some((x) => new Set(x.caps.slice(0, x.sizes.length)).size > 1);
        const slack = uneven && r.incompatible ? 1.1 : 1.05;
        expect(plan.estimate.seconds).toBeLessThanOrEqual(slack * plan.estimate.lowerBoundSeconds);
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
});
