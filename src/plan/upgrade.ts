import { type Cluster, type Fleet, type Supercluster, superclusterLineage } from "../model/fleet.ts";
import type { Strategy } from "../model/step.ts";
import { dmaLineages } from "../rules/context.ts";
import { isWindowRest } from "./dma.ts";
import { resolveTargets } from "./targets.ts";
import { compatible } from "./versions.ts";

/** An upgrade of the fleet to its targets, sorted by how each domain is planned. */
export interface Upgrade {
  fleet: Fleet;
  targets: Map<string, string>;
  label: string;
  /** DMA superclusters (with their clusters) whose upgrade is incompatible (D2), or compatible. */
  incompatible: Array<{ name: string; clusters: Cluster[] }>;
  compatible: Array<{ name: string; clusters: Cluster[] }>;
  /**
   * DMA superclusters part way through an incremental upgrade (G5, D6): the lineage's
   * superclusters (old and new) and every cluster of it, in the new supercluster, in the old one
   * or in none between them (rules/context.ts `dmaLineages`).
   */
  partDone: Array<{ lineage: string; superclusters: Supercluster[]; clusters: Cluster[] }>;
  standaloneDma: Cluster[];
  rolling: Cluster[];
  applicable: Strategy[];
}

/** Resolves the targets and sorts the fleet's domains by the procedure each needs, and the strategies that apply. */
export function analyse(fleet: Fleet, to: string | readonly string[], limit?: ReadonlySet<string>): Upgrade {
  const { byCluster, label } = resolveTargets(fleet, typeof to === "string" ? [to] : to, limit);
  const u: Upgrade = {
    fleet,
    targets: byCluster,
    label,
    incompatible: [],
    compatible: [],
    partDone: [],
    standaloneDma: [],
    rolling: [],
    applicable: [],
  };
  const byName = new Map(fleet.clusters.map((c) => [c.name, c]));
  const lineages = dmaLineages(fleet, byCluster);
  const seen = new Set<string>();
  for (const sc of fleet.superclusters) {
    const clusters = sc.clusters.map((n) => byName.get(n)!);
    // a lineage with two superclusters (sc-east and sc-east@10.1.0), or with clusters between
    // them, is part way through its upgrade: planned from where it stands (G5); so is one that
    // every member left (an aborted maintenance window, D5: none is a member now)
    const lineage = superclusterLineage(sc.name);
    const scs = fleet.superclusters.filter((x) => superclusterLineage(x.name) === lineage);
    const between = fleet.clusters.filter(
      (c) => c.supercluster === undefined && lineages.get(c.name) === lineage,
    );
    const first = clusters[0] ?? between[0];
    const target = first && byCluster.get(first.name);
    if (target === undefined) continue;
    if (scs.length > 1 || between.length > 0) {
      if (seen.has(lineage)) continue;
      seen.add(lineage);
      // the new supercluster's clusters first (its founder leads), then the old one's, then the rest
      const newName = `${lineage}@${target}`;
      const ordered = [...scs].sort((a, b) => Number(b.name === newName) - Number(a.name === newName));
      u.partDone.push({
        lineage,
        superclusters: scs,
        clusters: [...ordered.flatMap((x) => x.clusters.map((n) => byName.get(n)!)), ...between],
      });
      continue;
    }
    const patch = clusters.every((c) => c.servers.every((s) => compatible(fleet, c, s.version, target)));
    (patch ? u.compatible : u.incompatible).push({ name: sc.name, clusters });
  }
  for (const c of fleet.clusters) {
    if (!byCluster.has(c.name) || c.supercluster !== undefined || lineages.has(c.name)) continue;
    if (c.pack === "polycom-dma") u.standaloneDma.push(c);
    else u.rolling.push(c);
  }
  if (u.incompatible.length > 0) u.applicable = ["incremental", "maintenance-window"];
  // the rest of a maintenance window (every cluster of each lineage out of every supercluster, D5)
  // is what either strategy carries on with: the operator's own --strategy is not refused
  else if (u.partDone.length > 0 && u.partDone.every((p) => isWindowRest(p.clusters)))
    u.applicable = ["maintenance-window", "incremental"];
  else if (u.partDone.length > 0) u.applicable = ["incremental"];
  else if (u.compatible.length > 0 || u.standaloneDma.length > 0) u.applicable = ["patch"];
  // M12's alternatives for matrices, the full stop and the two halves, only when asked (auto never
  // takes an outage it was not told to, nor leaves one at a time: docs/planning.md)
  else
    u.applicable = u.rolling.some((c) => c.pack === "polyserve-matrix")
      ? ["rolling", "all-at-once", "two-halves"]
      : ["rolling"];
  return u;
}
