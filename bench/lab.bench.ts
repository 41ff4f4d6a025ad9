import { send } from "../src/drivers/http-client.ts";
import { startLab } from "../src/lab/index.ts";
import type { Fleet } from "../src/model/fleet.ts";

/**
 * The lab's acceptance figures: a lab of 1,000 simulated servers starts in under 10 s and idles
 * under 1 % CPU; one lab process serves 10,000 (issue: the engine scales with the fleet). bench/run.ts runs each case in a child process and adds wall time and peak RSS.
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

/**
 * A lab of `servers` servers: start time, idle CPU over 3 s, then its throughput: status reads
 * (GET /v1/status, what the engine sends most) to every server in turn, 64 in flight, through the
 * HTTP driver's own client (keep-alive), for 5 s. The requests and the lab share this process,
 * so the figure is a floor of what a lab in its own process serves.
 */
function labCase(servers: number) {
  return async (): Promise<Record<string, number | string>> => {
    const t0 = performance.now();
    const lab = await startLab(bigFleet(servers), { speed: 600, journalFile: false });
    const startMs = performance.now() - t0;
    const idleMs = 3000;
    const cpu0 = process.cpuUsage();
    const w0 = performance.now();
    await new Promise((r) => setTimeout(r, idleMs));
    const cpu = process.cpuUsage(cpu0);
    const wall = performance.now() - w0;
    const idleCpuPercent = ((cpu.user + cpu.system) / 1000 / wall) * 100;
    const urls = lab.status().servers.map((s) => `${s.url}/v1/status`);
    let done = 0;
    let failed = 0;
    const until = performance.now() + 5000;
    const r0 = performance.now();
    await Promise.all(
      Array.from({ length: 64 }, async (_, w) => {
        for (let i = w; performance.now() < until; i += 64) {
          const a = await send(urls[i % urls.length]!, {
            method: "GET",
            headers: {},
            timeoutMs: 10_000,
          }).catch(() => undefined);
          if (a?.ok) done++;
          else failed++;
        }
      }),
    );
    const readsPerSecond = Math.round(done / ((performance.now() - r0) / 1000));
    const t1 = performance.now();
    await lab.stop();
    return {
      servers: lab.servers.length,
      startMs: Math.round(startMs),
      idleCpuPercent: Number(idleCpuPercent.toFixed(2)),
      "status reads/s": readsPerSecond,
      "failed reads": failed,
      stopMs: Math.round(performance.now() - t1),
    };
  };
}

export const cases: Array<{ name: string; run: () => Promise<Record<string, number | string>> }> = [
  { name: "lab: 1,000 servers start, then idle", run: labCase(1000) },
  { name: "lab: 10,000 servers start, idle, serve", run: labCase(10_000) },
];
