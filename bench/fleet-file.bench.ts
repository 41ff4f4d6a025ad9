/**
 * Validating fleet files (parseFleetText: YAML, shape, meaning) of 1k, 10k and 40k servers (the
 * last near the 8 MiB limit), valid and with thousands of mistakes. Validation must be linear in
 * the file's size: compare "cpu ms/MiB" across the sizes. The generated fleet is bench/plan's,
 * written out as `rollgate lab up` writes a fleet file (every estimate, a driver per cluster).
 */
import { derivedFleetDocument } from "../src/lab/derived-fleet.ts";
import { MAX_FLEET_FILE_BYTES, parseFleetText } from "../src/model/fleet-file.ts";
import { generate } from "./plan.bench.ts";

export function fleetFileText(servers: number): string {
  const fleet = generate(servers);
  let i = 0;
  for (const c of fleet.clusters)
    for (const s of c.servers) {
      const n = i++; // unique addresses, none ending in .0
      s.address = `10.${Math.floor(n / 64516)}.${(Math.floor(n / 254) % 254) + 1}.${(n % 254) + 1}`;
      s.interfaces = [s.address];
    }
  return derivedFleetDocument(fleet, { speed: 1, driverUrl: "http://127.0.0.1:1/servers/{name}" });
}

/** Every supercluster member misspelt: one "unknown cluster" per member (a fifth of the clusters). */
function withMistakes(text: string): string {
  return text.replace(
    /(\n {4}clusters:\n)((?: {6}- \S+\n)+)/g,
    (_m, head: string, list: string) => head + list.replace(/- (\S+)/g, "- $1-x"),
  );
}

function bench(servers: number, mistakes: boolean) {
  return () => {
    const text = mistakes ? withMistakes(fleetFileText(servers)) : fleetFileText(servers);
    const bytes = Buffer.byteLength(text);
    if (bytes > MAX_FLEET_FILE_BYTES) throw new Error(`${bytes} bytes is over the limit`);
    const cpu = () => {
      const u = process.cpuUsage();
      return (u.user + u.system) / 1000;
    };
    (globalThis as { gc?: () => void }).gc?.();
    const heap0 = process.memoryUsage().heapUsed;
    const t0 = performance.now();
    const c0 = cpu();
    const r = parseFleetText(text, "bench.yaml");
    const ms = performance.now() - t0;
    const cpuMs = cpu() - c0;
    const heapMiB = (process.memoryUsage().heapUsed - heap0) / 2 ** 20;
    if (r.ok === mistakes) throw new Error(mistakes ? "expected mistakes" : "expected a valid fleet");
    const mib = bytes / 2 ** 20;
    return {
      servers,
      MiB: Math.round(mib * 100) / 100,
      diagnostics: r.ok ? 0 : r.diagnostics.length,
      "validate ms": Math.round(ms),
      "validate cpu ms": Math.round(cpuMs),
      "cpu ms/MiB": Math.round(cpuMs / mib),
      "heap after MiB": Math.round(heapMiB),
    };
  };
}

export const cases = [
  { name: "1k servers", run: bench(1_000, false) },
  { name: "10k servers", run: bench(10_000, false) },
  { name: "40k servers (near the 8 MiB limit)", run: bench(40_000, false) },
  { name: "10k servers, 2.5k mistakes", run: bench(10_000, true) },
  { name: "40k servers, 10k mistakes", run: bench(40_000, true) },
];
