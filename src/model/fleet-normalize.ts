import { canonicalAddress } from "./address.ts";
import type { CompatibilityPolicy } from "./compatibility.ts";
import { parseDuration } from "./duration.ts";
import {
  DEFAULT_CAPACITY_FLOOR,
  DEFAULT_MAX_MIXED_WINDOW,
  type Cluster,
  type Fleet,
  type OrderSpec,
  plainTerritory,
  type Supercluster,
} from "./fleet.ts";
import type { FleetFile, FleetFileCluster, FleetFileCompatibility, FleetFileOrder } from "./fleet-schema.ts";

function toPolicy(c: FleetFileCompatibility | undefined): CompatibilityPolicy | undefined {
  if (c === undefined) return undefined;
  if (c === "same-major-minor" || c === "same-major") return { kind: c };
  if ("minorDistance" in c) return { kind: "minor-distance", max: c.minorDistance };
  return { kind: "table", pairs: c.table.map(([a, b]) => [a, b] as const) };
}

function toOrder(o: FleetFileOrder | undefined): OrderSpec | undefined {
  if (o === undefined) return undefined;
  if (o === "address-descending") return { by: "address", direction: "descending" };
  if (o === "address-ascending") return { by: "address", direction: "ascending" };
  if (o === "name") return { by: "name" };
  if ("roleLast" in o) return { by: "role", last: o.roleLast };
  return { by: "list", servers: o.list };
}

function normalizeCluster(c: FleetFileCluster, supercluster: string | undefined): Cluster {
  const estimates: Record<string, number> = {};
  for (const [k, v] of Object.entries(c.estimates ?? {}))
    if (v !== undefined) estimates[k] = parseDuration(v)!;
  const out: Cluster = {
    name: c.name,
    pack: c.pack,
    version: c.version,
    capacity: c.capacity ?? 1,
    estimates,
    // addresses in canonical form (RFC 5952 for IPv6), so that every later comparison agrees
    servers: c.servers.map((s) => ({
      name: s.name,
      address: canonicalAddress(s.address)!,
      interfaces: (s.interfaces ?? [s.address]).map((i) => canonicalAddress(i)!),
      version: s.version ?? c.version,
      capacity: s.capacity ?? 1,
      ...(s.role !== undefined ? { role: s.role } : {}),
      ...((s.mode ?? c.mode) !== undefined ? { mode: (s.mode ?? c.mode)! } : {}),
    })),
    filesystems: (c.filesystems ?? []).map((fs) => ({ name: fs.name, mountedOn: [...fs.mountedOn] })),
  };
  if (c.driver) {
    out.driver = {};
    if (c.driver.http)
      out.driver.http = {
        url: c.driver.http.url,
        ...(c.driver.http.timeout ? { timeout: parseDuration(c.driver.http.timeout)! } : {}),
      };
    if (c.driver.exec) {
      out.driver.exec = { commands: c.driver.exec.commands };
      if (c.driver.exec.timeout) out.driver.exec.timeout = parseDuration(c.driver.exec.timeout)!;
    }
    if (c.driver.ssh) {
      const { timeout, ...rest } = c.driver.ssh;
      out.driver.ssh = { ...rest };
      if (timeout) out.driver.ssh.timeout = parseDuration(timeout)!;
    }
  }
  if (c.maxUnavailable !== undefined) out.maxUnavailable = c.maxUnavailable;
  if (c.mode !== undefined) out.mode = c.mode;
  if (c.passes)
    out.passes = c.passes.map((p) =>
      p === "release" ? { kind: "release" as const } : { kind: "mode" as const, mode: p.mode },
    );
  const order = toOrder(c.order);
  if (order) out.order = order;
  const compat = toPolicy(c.compatibility);
  if (compat) out.compatibility = compat;
  if (supercluster) out.supercluster = supercluster;
  else if (c.leftSupercluster) out.leftSupercluster = c.leftSupercluster;
  return out;
}

/** A fleet file that passed every check → a `Fleet`: defaults filled in, durations in seconds. */
export function normalize(f: FleetFile): Fleet {
  // a listed member marked as having left this very supercluster is in none now (D5/D6: an abort
  // after the clusters left; the file keeps the supercluster's design, its territories)
  const leftOf = new Map(f.clusters.map((c) => [c.name, c.leftSupercluster]));
  const hasLeft = (cluster: string, sc: string) => leftOf.get(cluster) === sc;
  const memberOf = new Map<string, string>();
  for (const sc of f.superclusters ?? [])
    for (const c of sc.clusters) if (!hasLeft(c, sc.name)) memberOf.set(c, sc.name);
  const superclusters: Supercluster[] = (f.superclusters ?? []).map((sc) => {
    const former = sc.clusters.filter((c) => hasLeft(c, sc.name));
    return {
      name: sc.name,
      pack: sc.pack,
      clusters: sc.clusters.filter((c) => !hasLeft(c, sc.name)),
      ...(former.length > 0 ? { formerMembers: former } : {}),
      territories: (sc.territories ?? []).map(plainTerritory),
    };
  });
  const compat = toPolicy(f.defaults?.compatibility);
  return {
    name: f.fleet,
    defaults: {
      capacityFloor: f.defaults?.capacityFloor ?? DEFAULT_CAPACITY_FLOOR,
      maxMixedWindow: f.defaults?.maxMixedWindow
        ? parseDuration(f.defaults.maxMixedWindow)!
        : DEFAULT_MAX_MIXED_WINDOW,
      ...(compat ? { compatibility: compat } : {}),
    },
    clusters: f.clusters.map((c) => normalizeCluster(c, memberOf.get(c.name))),
    superclusters,
    ...(f.notify?.length
      ? {
          notify: f.notify.map((w) => ({
            url: w.url,
            format: w.format ?? "json",
            ...(w.secretEnv !== undefined ? { secretEnv: w.secretEnv } : {}),
            ...(w.events ? { events: [...new Set(w.events)] } : {}),
          })),
        }
      : {}),
  };
}
