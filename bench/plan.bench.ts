/**
 * Plan and verify generated fleets of 1k, 10k and 100k servers: half of the servers in matrices
 * of 4–16 servers (3.5.0 → 3.5.1), the rest in DMA superclusters of five two-server clusters
 * (10.0.1 → 10.1.0, incremental). Target: 100k servers in under 5 s and 1 GiB, near-linear.
 */
import type { Cluster, Fleet, Supercluster } from "../src/model/fleet.ts";
import { planUpgrade } from "../src/plan/planner.ts";
import { verifyPlan } from "../src/plan/verify.ts";

export function generate(servers: number): Fleet {
  const clusters: Cluster[] = [];
  const superclusters: Supercluster[] = [];
  let n = 0;
  let k = 0;
  const ip = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255 || 1}`;
  let addr = 1;
  while (n < servers / 2) {
    const size = 4 + (k % 13);
    const name = `mx${k++}`;
    clusters.push({
      name,
      pack: "polyserve-matrix",
      version: "3.5.0",
      capacity: 1,
      estimates: {},
      filesystems: [{ name: "psfs", mountedOn: [`${name}-1`, `${name}-2`] }],
      servers: Array.from({ length: size }, (_, i) => {
        const a = ip(addr++);
        return { name: `${name}-${i + 1}`, address: a, interfaces: [a], version: "3.5.0", capacity: 1 };
      }),
    });
    n += size;
  }
  let s = 0;
  while (n < servers) {
    const sc = `sc${s++}`;
    const members: string[] = [];
    for (let c = 0; c < 5; c++) {
      const name = `${sc}-c${c}`;
      members.push(name);
      clusters.push({
        name,
        pack: "polycom-dma",
        version: "10.0.1",
        capacity: 100,
        estimates: {},
        filesystems: [],
        supercluster: sc,
        servers: [1, 2].map((i) => {
          const a = ip(addr++);
          return { name: `${name}-${i}`, address: a, interfaces: [a], version: "10.0.1", capacity: 1 };
        }),
      });
      n += 2;
    }
    superclusters.push({
      name: sc,
      pack: "polycom-dma",
      clusters: members,
      territories: members.map((m, i) => ({
        name: `${sc}-t${i}`,
        primary: m,
        backup: members[(i + 1) % 5]!,
      })),
    });
  }
  return {
    name: `bench-${servers}`,
    defaults: { capacityFloor: 0.6, maxMixedWindow: 4 * 3600 },
    clusters,
    superclusters,
  };
}

function bench(servers: number) {
  return () => {
    const fleet = generate(servers);
    // CPU time besides wall time: on a shared machine, the wall time also counts other work's turns
    const cpu = () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1000;
    };
    const t0 = performance.now();
    const c0 = cpu();
    const plan = planUpgrade(fleet, { to: ["polyserve-matrix=3.5.1", "polycom-dma=10.1.0"] });
    const t1 = performance.now();
    const c1 = cpu();
    // planUpgrade verifies already; time the verifier on its own as well
    const v = verifyPlan(fleet, plan.steps, new Map(Object.entries(plan.targets)));
    const t2 = performance.now();
    const c2 = cpu();
    if (!v.ok || !plan.verification.ok) throw new Error(`plan does not verify: ${v.violations[0]?.detail}`);
    return {
      servers: fleet.clusters.reduce((x, c) => x + c.servers.length, 0),
      clusters: fleet.clusters.length,
      "plan+verify ms": Math.round(t1 - t0),
      "verify ms": Math.round(t2 - t1),
      "plan+verify cpu ms": Math.round(c1 - c0),
      "verify cpu ms": Math.round(c2 - c1),
      steps: plan.steps.length,
      statesChecked: v.statesChecked,
      ratio: Math.round((plan.estimate.seconds / plan.estimate.lowerBoundSeconds) * 1000) / 1000,
    };
  };
}

export const cases = [
  { name: "1k servers", run: bench(1_000) },
  { name: "10k servers", run: bench(10_000) },
  { name: "100k servers", run: bench(100_000) },
];
