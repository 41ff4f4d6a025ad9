import { compareAddresses } from "../model/address.ts";
import { type CompatibilityPolicy, isCompatible } from "../model/compatibility.ts";
import { type Cluster, type Fleet, type PackName, type Server, superclusterLineage } from "../model/fleet.ts";
import { compareVersions } from "../model/version.ts";

/**
 * What the rules need to know besides the fleet's state: the target release of each cluster, the
 * upgrade order of each cluster's servers (M2 / G2), the compatibility policy (G1) and the capacity
 * floor (G3). Built once per plan with `ruleContext`; the planner, the verifier and the engine
 * share it.
 */
export interface RuleContext {
  fleet: Fleet;
  /** Target release per cluster name; clusters absent here are not upgraded. */
  targets: ReadonlyMap<string, string>;
  /** G3: fraction of capacity (per domain) that stays in service at every instant. */
  capacityFloor: number;
  /** Upgrade rank of every server within its cluster: 0 goes first (M2 / G2). */
  rank: ReadonlyMap<string, number>;
  /** Capacity domain of every cluster: its supercluster's lineage (dmaLineages), else its own name (G3). */
  domainOf: ReadonlyMap<string, string>;
  /** The clusters of every capacity domain. */
  domainClusters: ReadonlyMap<string, readonly string[]>;
  clusters: ReadonlyMap<string, Cluster>;
}

/** The packs' default compatibility policies (G1); DMA's is D2's "same major.minor". */
export const PACK_COMPATIBILITY: Record<PackName, CompatibilityPolicy> = {
  "polyserve-matrix": { kind: "same-major-minor" },
  "polycom-dma": { kind: "same-major-minor" },
  generic: { kind: "same-major" },
};

/** G3 default: servers of one cluster out of service at once, per pack (M1: one for a matrix). */
export const PACK_MAX_UNAVAILABLE: Record<PackName, number> = {
  "polyserve-matrix": 1,
  "polycom-dma": 2,
  generic: 1,
};

/** G1: the policy in force for a cluster: its own, else the fleet's, else its pack's. */
export function policyFor(fleet: Fleet, cluster: Cluster): CompatibilityPolicy {
  return cluster.compatibility ?? fleet.defaults.compatibility ?? PACK_COMPATIBILITY[cluster.pack];
}

export function compatibleIn(fleet: Fleet, cluster: Cluster, a: string, b: string): boolean {
  return isCompatible(a, b, policyFor(fleet, cluster));
}

/** G3: the most servers of a cluster that may be out of service at once. */
export function maxUnavailable(cluster: Cluster): number {
  if (cluster.pack === "polyserve-matrix") return 1; // M1, whatever the file says
  return cluster.maxUnavailable ?? PACK_MAX_UNAVAILABLE[cluster.pack];
}

/**
 * The servers of a cluster in upgrade order. Matrix: M2, numerically highest matrix-known address
 * first. Generic: G2 as declared (default: address descending). DMA: every server at once (D7), in
 * file order.
 */
export function upgradeOrder(cluster: Cluster): Server[] {
  // asked for every cluster by the planner and by every rule context: sorted once per cluster
  const hit = ORDERS.get(cluster);
  if (hit && hit.servers === cluster.servers && hit.order === cluster.order) return [...hit.sorted];
  const sorted = sortForUpgrade(cluster);
  ORDERS.set(cluster, { servers: cluster.servers, order: cluster.order, sorted });
  return [...sorted];
}

const ORDERS = new WeakMap<Cluster, { servers: Server[]; order: Cluster["order"]; sorted: Server[] }>();

function sortForUpgrade(cluster: Cluster): Server[] {
  const byAddressDesc = (a: Server, b: Server) => compareAddresses(b.address, a.address);
  const servers = [...cluster.servers];
  if (cluster.pack === "polyserve-matrix") return servers.sort(byAddressDesc);
  if (cluster.pack === "polycom-dma") return servers;
  const order = cluster.order ?? { by: "address", direction: "descending" };
  switch (order.by) {
    case "address":
      return servers.sort(order.direction === "descending" ? byAddressDesc : (a, b) => -byAddressDesc(a, b));
    case "name":
      return servers.sort((a, b) => a.name.localeCompare(b.name, "en", { numeric: true }));
    case "role": {
      const lastIndex = (s: Server) => {
        const i = s.role === undefined ? -1 : order.last.indexOf(s.role);
        return i < 0 ? -1 : i;
      };
      return servers.sort(byAddressDesc).sort((a, b) => lastIndex(a) - lastIndex(b) || byAddressDesc(a, b));
    }
    case "list": {
      const pos = new Map(order.servers.map((n, i) => [n, i]));
      return servers.sort((a, b) => (pos.get(a.name) ?? 0) - (pos.get(b.name) ?? 0));
    }
  }
}

/**
 * The lineage (the supercluster of the fleet file it descends from, `superclusterLineage`) of every
 * DMA cluster that has one. A supercluster part way through an incremental upgrade (D6: an abort,
 * or a cluster upgraded by hand) has up to two superclusters of one lineage in the fleet file
 * (`sc-east` and `sc-east@10.1.0`) and may have clusters that left the old one, were upgraded and
 * have not joined or founded the new one yet: a DMA cluster in no supercluster that already runs
 * its target, when exactly one lineage is being upgraded to that target, is taken as one of its
 * clusters (G5: the fleet as it stands), and so is one whose `leftSupercluster` names the
 * supercluster it left (whatever it runs). Any other cluster in no supercluster is a cluster on its
 * own (the basic procedure, D7).
 */
export function dmaLineages(fleet: Fleet, targets: ReadonlyMap<string, string>): Map<string, string> {
  const out = new Map<string, string>();
  const behind = new Map<string, Set<string>>(); // target → lineages with a cluster still below it
  for (const c of fleet.clusters) {
    if (c.pack !== "polycom-dma" || c.supercluster === undefined) continue;
    const lineage = superclusterLineage(c.supercluster);
    out.set(c.name, lineage);
    const t = targets.get(c.name);
    if (t !== undefined && c.servers.some((s) => compareVersions(s.version, t) < 0)) {
      const set = behind.get(t) ?? new Set<string>();
      set.add(lineage);
      behind.set(t, set);
    }
  }
  for (const c of fleet.clusters) {
    if (c.pack !== "polycom-dma" || c.supercluster !== undefined) continue;
    // the file says which supercluster it left (rollgate fleet sync writes it)
    if (c.leftSupercluster !== undefined) {
      out.set(c.name, superclusterLineage(c.leftSupercluster));
      continue;
    }
    const t = targets.get(c.name);
    if (t === undefined || !c.servers.every((s) => compareVersions(s.version, t) === 0)) continue;
    const lineages = behind.get(t);
    if (lineages?.size === 1) out.set(c.name, [...lineages][0]!);
  }
  return out;
}

export function ruleContext(fleet: Fleet, targets: ReadonlyMap<string, string>): RuleContext {
  const rank = new Map<string, number>();
  const domainOf = new Map<string, string>();
  const clusters = new Map<string, Cluster>();
  const domainClusters = new Map<string, string[]>();
  const lineages = dmaLineages(fleet, targets);
  for (const c of fleet.clusters) {
    clusters.set(c.name, c);
    // a supercluster's lineage is one capacity domain (G3), both superclusters of an upgrade
    const d = lineages.get(c.name) ?? c.name;
    domainOf.set(c.name, d);
    const list = domainClusters.get(d);
    if (list) list.push(c.name);
    else domainClusters.set(d, [c.name]);
    for (const [i, s] of upgradeOrder(c).entries()) rank.set(s.name, i);
  }
  return {
    fleet,
    targets,
    capacityFloor: fleet.defaults.capacityFloor,
    rank,
    domainOf,
    domainClusters,
    clusters,
  };
}

/** True when `release` is older than the cluster's target (the server still has work to do). */
export function isOld(ctx: RuleContext, cluster: string, release: string): boolean {
  const t = ctx.targets.get(cluster);
  return t !== undefined && compareVersions(release, t) < 0;
}
