import { RollgateError } from "../model/errors.ts";
import { type Fleet, PACK_NAMES, superclusterLineage } from "../model/fleet.ts";
import { dmaLineages } from "../rules/context.ts";
import { isVersionString } from "../model/version.ts";
import { limitTargets } from "./limit.ts";
import { cmpVersions } from "./versions.ts";

/**
 * `--to` values: a bare release ("3.5.1") applies to every cluster; "NAME=RELEASE" applies to a
 * cluster, a supercluster's clusters, or every cluster of a pack ("polycom-dma=10.1.0"). A more
 * specific selector wins (cluster over supercluster over pack over bare).
 */
export interface ResolvedTargets {
  /** Target release per cluster that gets upgraded. */
  byCluster: Map<string, string>;
  /** What the plan's `target` field says: the release, or the selectors joined by commas. */
  label: string;
}

export function resolveTargets(
  fleet: Fleet,
  specs: readonly string[],
  limit?: ReadonlySet<string>,
): ResolvedTargets {
  if (specs.length === 0) throw new RollgateError("ROLLGATE_E_PLAN_BAD_TARGET", "--to VERSION is required");
  if (limit !== undefined) refuseOutsideLimit(fleet, specs, limit);
  const all = mostSpecific(fleet, selectorLayers(fleet, specs));
  // --limit: only the clusters it names keep their target (a supercluster whole, plan/limit.ts)
  const byCluster = limit === undefined ? all : limitTargets(fleet, all, limit);
  const lineages = dmaLineages(fleet, byCluster);
  refuseNotNewer(fleet, specs, byCluster, lineages);
  refuseSplitLineages(fleet, byCluster, lineages);
  const label = specs.length === 1 && !specs[0]!.includes("=") ? specs[0]!.trim() : specs.join(",");
  return { byCluster, label };
}

/**
 * With --limit, a `--to CLUSTER=V` (or `SUPERCLUSTER=V`) that names only clusters outside the
 * limit is refused rather than dropped: it says the user meant that cluster to move. A bare
 * `--to V` or `PACK=V` reaching outside the limit is fine: the clusters outside are left alone.
 */
function refuseOutsideLimit(fleet: Fleet, specs: readonly string[], limit: ReadonlySet<string>): void {
  for (const spec of specs) {
    const eq = spec.indexOf("=");
    if (eq < 0) continue;
    const name = spec.slice(0, eq).trim();
    const release = spec.slice(eq + 1).trim();
    if (!isVersionString(release)) continue;
    const isCluster = fleet.clusters.some((c) => c.name === name);
    if (!isCluster && !fleet.superclusters.some((s) => s.name === name)) continue;
    const { clusters } = selectedClusters(fleet, spec, name, release);
    if (clusters.some((c) => limit.has(c))) continue;
    throw new RollgateError(
      "ROLLGATE_E_PLAN_BAD_LIMIT",
      `--to ${spec.trim()}: ${isCluster ? "cluster" : "supercluster"} ${name} is outside the --limit (which takes ${[...limit].join(", ") || "no cluster"}); add --limit ${name} or drop this --to`,
      { details: { target: spec.trim(), cluster: name, limit: [...limit] } },
    );
  }
}

/** Each selector's release per cluster, by layer: bare, pack, supercluster, cluster. */
function selectorLayers(fleet: Fleet, specs: readonly string[]): Array<Map<string, string>> {
  const layers: Array<Map<string, string>> = [new Map(), new Map(), new Map(), new Map()]; // bare, pack, sc, cluster
  for (const spec of specs) {
    const eq = spec.indexOf("=");
    const name = eq < 0 ? undefined : spec.slice(0, eq).trim();
    const release = (eq < 0 ? spec : spec.slice(eq + 1)).trim();
    if (!isVersionString(release))
      throw new RollgateError(
        "ROLLGATE_E_PLAN_BAD_TARGET",
        `--to ${spec}: "${release}" is not a release (expected a dotted number such as 3.5.1, or NAME=3.5.1)`,
      );
    const { clusters, layer } = selectedClusters(fleet, spec, name, release);
    for (const c of clusters) {
      const prev = layers[layer]!.get(c);
      if (prev !== undefined && prev !== release)
        throw new RollgateError(
          "ROLLGATE_E_PLAN_BAD_TARGET",
          `--to gives ${c} two targets: ${prev} and ${release}`,
        );
      layers[layer]!.set(c, release);
    }
  }
  return layers;
}

/** The clusters one `--to` selector names, and its layer (0 bare, 1 pack, 2 supercluster, 3 cluster). */
function selectedClusters(
  fleet: Fleet,
  spec: string,
  name: string | undefined,
  release: string,
): { clusters: string[]; layer: number } {
  if (name === undefined) return { clusters: fleet.clusters.map((c) => c.name), layer: 0 };
  if (fleet.clusters.some((c) => c.name === name)) return { clusters: [name], layer: 3 };
  if (fleet.superclusters.some((s) => s.name === name)) {
    // a supercluster stands for its lineage (D2: sc-east and sc-east@10.1.0 part way through
    // an upgrade move together), with the clusters that left it in no supercluster yet
    const lineage = superclusterLineage(name);
    const clusters = fleet.superclusters
      .filter((s) => superclusterLineage(s.name) === lineage)
      .flatMap((s) => s.clusters);
    const provisional = new Map<string, string>(fleet.clusters.map((c) => [c.name, release]));
    for (const [c, l] of dmaLineages(fleet, provisional))
      if (l === lineage && !clusters.includes(c)) clusters.push(c);
    return { clusters, layer: 2 };
  }
  if ((PACK_NAMES as readonly string[]).includes(name))
    return { clusters: fleet.clusters.filter((c) => c.pack === name).map((c) => c.name), layer: 1 };
  throw new RollgateError(
    "ROLLGATE_E_PLAN_BAD_TARGET",
    `--to ${spec}: "${name}" is not a cluster, supercluster or rule pack of fleet ${fleet.name}`,
  );
}

/** The target of each cluster: its most specific selector's (cluster over supercluster over pack over bare). */
function mostSpecific(fleet: Fleet, layers: Array<Map<string, string>>): Map<string, string> {
  const byCluster = new Map<string, string>();
  for (const c of fleet.clusters) {
    for (let l = 3; l >= 0; l--) {
      const t = layers[l]!.get(c.name);
      if (t !== undefined) {
        byCluster.set(c.name, t);
        break;
      }
    }
  }
  return byCluster;
}

/**
 * Every server must be older than its target (an upgrade, not a downgrade or a no-op), except
 * in a supercluster part way through its upgrade (G5: an abort, a cluster upgraded by hand): a
 * DMA cluster of a lineage whose other clusters are still below the target is planned from
 * where it stands (docs/planning.md, "A supercluster part way").
 */
function refuseNotNewer(
  fleet: Fleet,
  specs: readonly string[],
  byCluster: Map<string, string>,
  lineages: Map<string, string>,
): void {
  const behind = new Set<string>();
  for (const c of fleet.clusters) {
    const t = byCluster.get(c.name);
    const l = lineages.get(c.name);
    if (t === undefined || l === undefined) continue;
    // still below the target, or out of every supercluster (it left one and joined or founded
    // none yet: an abort after its leave, say every cluster of a maintenance window, D5/D6)
    if (c.servers.some((s) => cmpVersions(s.version, t) < 0) || c.supercluster === undefined) behind.add(l);
  }
  for (const c of fleet.clusters) {
    const t = byCluster.get(c.name);
    if (t === undefined) continue;
    const l = lineages.get(c.name);
    if (l !== undefined && behind.has(l) && c.servers.every((s) => cmpVersions(s.version, t) <= 0)) continue;
    // M11: a matrix on the target whose declared mode pass is not done yet still has a pass to go
    if (c.servers.every((s) => cmpVersions(s.version, t) === 0) && modePassPending(c)) continue;
    const newest = c.servers.reduce(
      (v, s) => (cmpVersions(s.version, v) > 0 ? s.version : v),
      c.servers[0]!.version,
    );
    const oldest = c.servers.reduce(
      (v, s) => (cmpVersions(s.version, v) < 0 ? s.version : v),
      c.servers[0]!.version,
    );
    if (cmpVersions(oldest, t) >= 0 || cmpVersions(newest, t) > 0) {
      const bare = specs.every((s) => !s.includes("="));
      throw new RollgateError(
        "ROLLGATE_E_PLAN_TARGET_NOT_NEWER",
        `cluster ${c.name} runs ${cmpVersions(newest, t) > 0 ? newest : oldest}: the target ${t} is not newer` +
          (bare && fleet.clusters.length > 1
            ? "; to upgrade only some clusters, use --to CLUSTER=VERSION or --to PACK=VERSION"
            : ""),
        { details: { cluster: c.name, current: oldest, target: t } },
      );
    }
  }
}

/** M11: a declared mode pass some server of the matrix has not had yet (its mode is not the pass's). */
export function modePassPending(c: Fleet["clusters"][number]): boolean {
  const last = [...(c.passes ?? [])].reverse().find((p) => p.kind === "mode");
  return last?.kind === "mode" && c.servers.some((s) => s.mode !== last.mode);
}

/** The clusters of a supercluster, and of its lineage (sc-east, sc-east@10.1.0, the clusters between them), move together (D2). */
function refuseSplitLineages(
  fleet: Fleet,
  byCluster: Map<string, string>,
  lineages: Map<string, string>,
): void {
  const byLineage = new Map<string, string[]>();
  for (const [c, l] of lineages) byLineage.set(l, [...(byLineage.get(l) ?? []), c]);
  for (const [l, members] of byLineage) {
    const ts = new Set(members.map((c) => byCluster.get(c) ?? "(none)"));
    const names = fleet.superclusters.filter((s) => superclusterLineage(s.name) === l).map((s) => s.name);
    if (ts.size > 1)
      throw new RollgateError(
        "ROLLGATE_E_PLAN_BAD_TARGET",
        `the clusters of supercluster ${names.join(" and ")} get different targets (${[...ts].join(", ")}): they are upgraded together (D2)${names.length > 1 || members.length > names.length ? `; ${names.join(" and ")} are one supercluster part way through its upgrade: name ${names[0]} (--to ${names[0]}=RELEASE) or give a bare --to RELEASE` : ""}`,
      );
  }
}
