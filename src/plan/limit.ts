import { RollgateError } from "../model/errors.ts";
import { type Fleet, PACK_NAMES, type PackName, superclusterLineage } from "../model/fleet.ts";
import { closest } from "../model/fleet-names.ts";
import { dmaLineages } from "../rules/context.ts";
import type { LeftAlone } from "./types.ts";
import { compatible } from "./versions.ts";

/**
 * `--limit NAME` (repeatable): plan and touch only a subset of the fleet (docs/planning.md, "A
 * subset at a time"). Each NAME is a cluster (a matrix is one cluster), a supercluster (its whole
 * lineage: sc-east with sc-east@10.1.0 and the clusters between them), or a rule pack
 * (`polyserve-matrix` or `matrix`, `polycom-dma` or `dma`, `generic`). The selection is the union.
 * Pure: no I/O, no clock.
 */

/** The short names of the packs a limit may use beside their full names. */
const PACK_ALIASES: Record<string, PackName> = { matrix: "polyserve-matrix", dma: "polycom-dma" };

export const NOT_IN_LIMIT = "not in --limit";

/** The clusters the limit values name (bad input, exit 2, for a name that is none of the above). */
export function resolveLimit(fleet: Fleet, limits: readonly string[]): Set<string> {
  const selected = new Set<string>();
  for (const raw of limits) {
    const name = raw.trim();
    if (name === "" || name === "cluster:" || name === "pack:")
      throw new RollgateError(
        "ROLLGATE_E_PLAN_BAD_LIMIT",
        `--limit ${JSON.stringify(raw)}: the name is empty or blank; a limit names a cluster, supercluster or rule pack of fleet ${fleet.name}`,
        { details: { limit: raw } },
      );
    for (const c of limitedClusters(fleet, name)) selected.add(c);
  }
  return selected;
}

/** The pack a limit value names as a pack (its full name or short alias), if any. */
function packNamed(name: string): PackName | undefined {
  return (
    PACK_ALIASES[name] ?? ((PACK_NAMES as readonly string[]).includes(name) ? (name as PackName) : undefined)
  );
}

function limitedClusters(fleet: Fleet, value: string): string[] {
  // `pack:NAME` and `cluster:NAME` pick one meaning of a name that is both (a cluster called `dma`)
  if (value.startsWith("pack:")) {
    const name = value.slice("pack:".length).trim();
    const pack = packNamed(name);
    if (pack === undefined)
      throw new RollgateError(
        "ROLLGATE_E_PLAN_BAD_LIMIT",
        `--limit ${value}: "${name}" is not a rule pack (${[...PACK_NAMES, ...Object.keys(PACK_ALIASES)].join(", ")})`,
        { details: { limit: value } },
      );
    return fleet.clusters.filter((c) => c.pack === pack).map((c) => c.name);
  }
  if (value.startsWith("cluster:")) {
    const name = value.slice("cluster:".length).trim();
    if (fleet.clusters.some((c) => c.name === name) || fleet.superclusters.some((s) => s.name === name))
      return byName(fleet, name);
    throw new RollgateError(
      "ROLLGATE_E_PLAN_BAD_LIMIT",
      `--limit ${value}: "${name}" is not a cluster or supercluster of fleet ${fleet.name}`,
      { details: { limit: value } },
    );
  }
  const name = value;
  const pack = packNamed(name);
  const isCluster = fleet.clusters.some((c) => c.name === name);
  const isSupercluster = fleet.superclusters.some((s) => s.name === name);
  if (pack !== undefined && (isCluster || isSupercluster)) {
    const what = isCluster ? "cluster" : "supercluster";
    throw new RollgateError(
      "ROLLGATE_E_PLAN_BAD_LIMIT",
      `--limit ${name}: "${name}" is both a ${what} of fleet ${fleet.name} and the rule pack ${pack}; say which: --limit cluster:${name} (the ${what}) or --limit pack:${name} (every cluster of ${pack})`,
      { details: { limit: name, [what]: name, pack } },
    );
  }
  if (isCluster || isSupercluster) return byName(fleet, name);
  if (pack !== undefined) return fleet.clusters.filter((c) => c.pack === pack).map((c) => c.name);
  return refuseUnknown(fleet, name);
}

/** A cluster, or a supercluster's whole lineage. */
function byName(fleet: Fleet, name: string): string[] {
  if (fleet.clusters.some((c) => c.name === name)) return [name];
  {
    const lineage = superclusterLineage(name);
    const inLineage = new Map<string, string>(fleet.clusters.map((c) => [c.name, "0"]));
    const clusters = new Set(
      fleet.superclusters.filter((s) => superclusterLineage(s.name) === lineage).flatMap((s) => s.clusters),
    );
    for (const c of fleet.clusters)
      if (c.leftSupercluster && superclusterLineage(c.leftSupercluster) === lineage) clusters.add(c.name);
    for (const [c, l] of dmaLineages(fleet, inLineage)) if (l === lineage) clusters.add(c);
    return [...clusters];
  }
}

function refuseUnknown(fleet: Fleet, name: string): never {
  const server = fleet.clusters.find((c) => c.servers.some((s) => s.name === name));
  if (server !== undefined)
    throw new RollgateError(
      "ROLLGATE_E_PLAN_BAD_LIMIT",
      `--limit ${name}: ${name} is a server of cluster ${server.name}; a limit names a whole cluster, supercluster or pack (the servers of a cluster are upgraded together, in their order: M2, G2): use --limit ${server.name}`,
      { details: { limit: name, cluster: server.name } },
    );
  const known = [
    ...fleet.clusters.map((c) => c.name),
    ...fleet.superclusters.map((s) => s.name),
    ...PACK_NAMES,
    ...Object.keys(PACK_ALIASES),
  ];
  const near = closest(name, known);
  throw new RollgateError(
    "ROLLGATE_E_PLAN_BAD_LIMIT",
    `--limit ${name}: "${name}" is not a cluster, supercluster or rule pack of fleet ${fleet.name}${near ? ` (did you mean ${near}?)` : ""}`,
    { details: { limit: name, ...(near ? { suggestion: near } : {}) } },
  );
}

/**
 * The targets of the clusters in the limit only. A supercluster moves as one (D2: its clusters
 * always run compatible releases; D4/D10: an incompatible upgrade takes them out one by one into a
 * new supercluster founded by the first), so a limit that takes some of a lineage's clusters and
 * leaves others that the targets would upgrade is refused with the rule: D2 for an incompatible
 * release, D6/D10 for a lineage part way through its upgrade (two superclusters side by side),
 * D3/G3 for a patch (the supercluster is one capacity domain, planned as a whole).
 */
export function limitTargets(
  fleet: Fleet,
  byCluster: ReadonlyMap<string, string>,
  limit: ReadonlySet<string>,
): Map<string, string> {
  const lineages = dmaLineages(fleet, byCluster);
  const byLineage = new Map<string, string[]>();
  for (const [c, l] of lineages) if (byCluster.has(c)) byLineage.set(l, [...(byLineage.get(l) ?? []), c]);
  const clusterByName = new Map(fleet.clusters.map((c) => [c.name, c]));
  for (const [lineage, members] of byLineage) {
    const inside = members.filter((c) => limit.has(c));
    const outside = members.filter((c) => !limit.has(c));
    if (inside.length === 0 || outside.length === 0) continue;
    const scs = fleet.superclusters.filter((s) => superclusterLineage(s.name) === lineage).map((s) => s.name);
    const partDone = scs.length > 1 || members.some((c) => clusterByName.get(c)!.supercluster === undefined);
    const incompatible = members.some((n) => {
      const c = clusterByName.get(n)!;
      const t = byCluster.get(n)!;
      return c.servers.some((s) => !compatible(fleet, c, s.version, t));
    });
    const rule = partDone ? "D6" : incompatible ? "D2" : "D3";
    const why =
      rule === "D6"
        ? `supercluster ${scs.join(" and ")} is part way through its upgrade: the clusters still to move join the founder of the new one (D6, D10), so they are planned together`
        : rule === "D2"
          ? `the upgrade to ${byCluster.get(inside[0]!)} is incompatible, and the clusters of a supercluster always run compatible releases (D2): each leaves with its territories reassigned (D4) and joins the founder of the new supercluster (D10), all of them in one run`
          : `a supercluster is one capacity domain (G3) whose patch is planned as a whole (D3): the reassignment of its territories spans every cluster`;
    throw new RollgateError(
      "ROLLGATE_E_PLAN_LIMIT_SPLITS_SUPERCLUSTER",
      `${rule}: --limit takes ${inside.join(", ")} but not ${outside.join(", ")} of supercluster ${scs.join(" and ")}; ${why}. Use --limit ${scs[0]} (the whole supercluster)`,
      { details: { rule, supercluster: scs[0], inside, outside } },
    );
  }
  const out = new Map<string, string>();
  for (const [c, t] of byCluster) if (limit.has(c)) out.set(c, t);
  return out;
}

export const NO_TARGET = "in --limit, but no --to target";

/** The clusters a limited plan leaves alone, each with why: outside the limit, or given no target. */
export function leftAlone(
  fleet: Fleet,
  limit: ReadonlySet<string>,
  targets: Readonly<Record<string, string>>,
): LeftAlone[] {
  return fleet.clusters
    .filter((c) => targets[c.name] === undefined)
    .map((c) => ({
      cluster: c.name,
      ...(c.supercluster ? { supercluster: c.supercluster } : {}),
      reason: limit.has(c.name) ? NO_TARGET : NOT_IN_LIMIT,
    }));
}
