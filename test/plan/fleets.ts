import { readFileSync } from "node:fs";
import type { Cluster, Fleet, Supercluster } from "../../src/model/fleet.ts";
import type { Step } from "../../src/model/step.ts";
import { parseFleetText } from "../../src/model/fleet-file.ts";

/** Fleets for planner tests: the examples, and small builders for generated ones. */
export function loadExample(name: string): Fleet {
  const path = new URL(`../../examples/${name}`, import.meta.url).pathname;
  const r = parseFleetText(readFileSync(path, "utf8"), path);
  if (!r.ok) throw new Error(`bad example ${name}`);
  return r.fleet;
}

export function matrixCluster(
  name: string,
  n: number,
  version = "3.5.0",
  base = 1,
  opts: Partial<Cluster> = {},
): Cluster {
  return {
    name,
    pack: "polyserve-matrix",
    version,
    capacity: 1,
    estimates: {},
    servers: Array.from({ length: n }, (_, i) => ({
      name: `${name}-s${i + 1}`,
      address: `10.${base >> 8}.${base & 255}.${i + 1}`,
      interfaces: [`10.${base >> 8}.${base & 255}.${i + 1}`],
      version,
      capacity: 1,
    })),
    filesystems: [],
    ...opts,
  };
}

/**
 * A matrix of `n` servers on `version` whose addresses are scrambled by `shuffle` (10.0.<base>.x),
 * so that M2's order is not the file's (servers that land on one address are dropped); with
 * `fs`, a filesystem fs1 mounted on every server; `capacity` gives server k's weight.
 */
export function scrambledMatrix(
  n: number,
  version: string,
  base: number,
  shuffle: number,
  options: { fs?: boolean; capacity?: (k: number) => number } = {},
): Cluster {
  const c = matrixCluster("mx", n, version, base);
  c.servers = c.servers.map((s, k) => {
    const address = `10.0.${base}.${((k * 7 + shuffle) % 250) + 1}`;
    return {
      ...s,
      address,
      interfaces: [address],
      ...(options.capacity ? { capacity: options.capacity(k) } : {}),
    };
  });
  const seen = new Set<string>();
  c.servers = c.servers.filter((s) => !seen.has(s.address) && seen.add(s.address));
  if (options.fs) c.filesystems = [{ name: "fs1", mountedOn: c.servers.map((s) => s.name) }];
  return c;
}

export function genericCluster(
  name: string,
  n: number,
  version = "2.4.1",
  base = 1,
  opts: Partial<Cluster> = {},
): Cluster {
  return { ...matrixCluster(name, n, version, base), pack: "generic", ...opts };
}

export function dmaSupercluster(
  name: string,
  sizes: number[],
  version = "10.0.1",
  base = 100,
  capacities?: number[],
): { clusters: Cluster[]; supercluster: Supercluster } {
  const clusters: Cluster[] = sizes.map((n, k) => ({
    name: `${name}-c${k + 1}`,
    pack: "polycom-dma",
    version,
    capacity: capacities?.[k] ?? 100,
    estimates: {},
    supercluster: name,
    servers: Array.from({ length: n }, (_, i) => ({
      name: `${name}-c${k + 1}-${i + 1}`,
      address: `10.${(base + k) >> 8}.${(base + k) & 255}.${i + 1}`,
      interfaces: [`10.${(base + k) >> 8}.${(base + k) & 255}.${i + 1}`],
      version,
      capacity: 1,
    })),
    filesystems: [],
  }));
  const territories = clusters.map((c, k) => ({
    name: `${name}-t${k + 1}`,
    primary: c.name,
    ...(clusters.length > 1 ? { backup: clusters[(k + 1) % clusters.length]!.name } : {}),
  }));
  return {
    clusters,
    supercluster: { name, pack: "polycom-dma", clusters: clusters.map((c) => c.name), territories },
  };
}

export function fleetOf(clusters: Cluster[], superclusters: Supercluster[] = [], capacityFloor = 0.6): Fleet {
  return { name: "test", defaults: { capacityFloor, maxMixedWindow: 14400 }, clusters, superclusters };
}

/**
 * A plan of several passes with pass 2 begun early: its first server starts beside the last
 * server of pass 1 (a copy; for the verifier to refuse).
 */
export function secondPassBegunEarly(plan: readonly Step[]): Step[] {
  const steps = structuredClone(plan) as Step[];
  const second = steps.filter((s) => s.pass?.n === 2);
  const lastFirst = steps.filter((s) => s.pass?.n === 1 && s.action === "disable").at(-1)!;
  const shift = second[0]!.start - lastFirst.start;
  for (const s of second) {
    s.start -= shift;
    s.end -= shift;
  }
  second[0]!.after = lastFirst.after;
  return steps;
}

/** A plan of several passes with pass 2's first and last servers traded (a copy: out of M2's order). */
export function secondPassOutOfOrder(plan: readonly Step[]): Step[] {
  const steps = structuredClone(plan) as Step[];
  const pass2 = steps.filter((s) => s.pass?.n === 2);
  const top = pass2[0]!.server!;
  const bottom = pass2.at(-1)!.server!;
  for (const s of pass2) s.server = s.server === top ? bottom : s.server === bottom ? top : s.server;
  return steps;
}
