import { startLab } from "../src/lab/index.ts";
import type { Fleet } from "../src/model/fleet.ts";

/**
 * The lab's acceptance figures: a lab of 1,000 simulated servers starts in under 10 s and idles
 * under 1 % CPU. bench/run.ts runs each case in a child process and adds wall time and peak RSS.
 */
function bigFleet(servers: number): Fleet {
  const perCluster = 4;
  const clusters = Array.from({ length: Math.ceil(servers / perCluster) }, (_, ci) => ({
    name: `mx-${ci}`,
    pack: "polyserve-matrix" as const,
    version: "3.5.0",
    capacity: 1,
    estimates: {},
    filesystems: [],
    servers: Array.from({ length: perCluster }, (_, si) => {
      const n = ci * perCluster + si;
      const address = `10.${70 + Math.floor(n / 62500)}.${Math.floor(n / 250) % 250}.${(n % 250) + 1}`;
      return { name: `s${n}`, address, interfaces: [address], version: "3.5.0", capacity: 1 };
    }),
  }));
  return {
    name: "bench-lab",
    defaults: { capacityFloor: 0.6, maxMixedWindow: 14400 },
    clusters,
    superclusters: [],
  };
}

export const cases: Array<{ name: string; run: () => Promise<Record<string, number | string>> }> = [
  {
    name: "lab: 1,000 servers start, then idle",
    run: async () => {
      const t0 = performance.now();
      const lab = await startLab(bigFleet(1000), { speed: 600, journalFile: false });
      const startMs = performance.now() - t0;
      const idleMs = 3000;
      const cpu0 = process.cpuUsage();
      const w0 = performance.now();
      await new Promise((r) => setTimeout(r, idleMs));
      const cpu = process.cpuUsage(cpu0);
      const wall = performance.now() - w0;
      const idleCpuPercent = ((cpu.user + cpu.system) / 1000 / wall) * 100;
      const t1 = performance.now();
      await lab.stop();
      return {
        servers: lab.servers.length,
        startMs: Math.round(startMs),
        idleCpuPercent: Number(idleCpuPercent.toFixed(2)),
        stopMs: Math.round(performance.now() - t1),
      };
    },
  },
];
