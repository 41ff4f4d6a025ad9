import fc from "fast-check";
import type { Cluster, Supercluster } from "../../src/model/fleet.ts";
import { dmaSupercluster, fleetOf, genericCluster, matrixCluster } from "./fleets.ts";

/** A random fleet: matrices, generic clusters and DMA superclusters, with a random floor. */
export const fleetArb = fc
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

export type FleetSpec = typeof fleetArb extends fc.Arbitrary<infer T> ? T : never;

export function buildFleet(r: FleetSpec) {
  const clusters: Cluster[] = [];
  const superclusters: Supercluster[] = [];
  r.matrices.forEach((n, i) => {
    const c = matrixCluster(`m${i}`, n, "3.5.0", i + 1);
    // scramble the file order so that M2 has work to do
    c.servers = c.servers.map((s, k) => {
      const address = `10.0.${i + 1}.${((k * 7 + r.shuffle) % 250) + 1}`;
      return { ...s, address, interfaces: [address] };
    });
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

/** The `--to` selectors that apply to a random fleet. */
export function targetsFor(fleet: ReturnType<typeof buildFleet>, incompatible: boolean): string[] {
  const to = ["polyserve-matrix=3.5.1", "generic=2.5.0", `polycom-dma=${incompatible ? "10.1.0" : "10.0.2"}`];
  return to.filter((t) => fleet.clusters.some((c) => t.startsWith(c.pack)));
}
