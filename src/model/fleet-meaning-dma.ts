import { superclusterLineage } from "./fleet.ts";
import { oneOf } from "./fleet-names.ts";
import type { Path, Reporter } from "./fleet-reporter.ts";
import type { FleetFile } from "./fleet-schema.ts";

type FleetFileSupercluster = NonNullable<FleetFile["superclusters"]>[number];
type FleetFileTerritory = NonNullable<FleetFileSupercluster["territories"]>[number];

/**
 * The checks of meaning for DMA superclusters (D1, D4–D6): the clusters that say they left one,
 * then each supercluster's name, size, members and territories. `clusterIndex`: name → index.
 */
export function checkSuperclusters(rep: Reporter, f: FleetFile, clusterIndex: Map<string, number>): void {
  const lineagesOf = clusterLineages(f);
  checkLeftSuperclusters(rep, f);
  const scNames = new Set<string>();
  const memberOf = new Map<string, string>();
  f.superclusters?.forEach((sc, si) => {
    const at = ["superclusters", si] as const;
    if (scNames.has(sc.name))
      rep.add(
        "ROLLGATE_E_FLEET_DUPLICATE_NAME",
        [...at, "name"],
        `supercluster name "${sc.name}" is used twice`,
        "a unique supercluster name",
      );
    scNames.add(sc.name);
    if (sc.clusters.length > 5)
      rep.add(
        "ROLLGATE_E_FLEET_SUPERCLUSTER_SIZE",
        [...at, "clusters"],
        `a supercluster has at most five clusters, this one ${sc.clusters.length} (D1)`,
        "at most 5 clusters",
      );
    const members = checkMembers(rep, f, sc, at, clusterIndex, memberOf);
    checkTerritories(rep, f, sc, at, { clusterIndex, members, lineagesOf });
  });
}

/**
 * The lineages each cluster belongs to (listed in a supercluster of it, or left one, D6): a
 * territory's design may name a cluster of its lineage that is elsewhere for now.
 */
function clusterLineages(f: FleetFile): Map<string, Set<string>> {
  const lineagesOf = new Map<string, Set<string>>();
  const addLineage = (cn: string, sc: string) =>
    lineagesOf.set(cn, new Set([...(lineagesOf.get(cn) ?? []), superclusterLineage(sc)]));
  for (const sc of f.superclusters ?? []) for (const cn of sc.clusters) addLineage(cn, sc.name);
  for (const c of f.clusters) if (c.leftSupercluster) addLineage(c.name, c.leftSupercluster);
  return lineagesOf;
}

/** leftSupercluster names a supercluster of the file's lineages, on a DMA cluster (D6). */
function checkLeftSuperclusters(rep: Reporter, f: FleetFile): void {
  const fileLineages = new Set((f.superclusters ?? []).map((sc) => superclusterLineage(sc.name)));
  f.clusters.forEach((c, ci) => {
    if (c.leftSupercluster === undefined) return;
    if (c.pack !== "polycom-dma")
      rep.add(
        "ROLLGATE_E_FLEET_UNKNOWN_SUPERCLUSTER",
        ["clusters", ci, "leftSupercluster"],
        `leftSupercluster is for a DMA cluster; ${c.name} uses pack ${c.pack}`,
        "no leftSupercluster",
      );
    else if (!fileLineages.has(superclusterLineage(c.leftSupercluster)))
      rep.add(
        "ROLLGATE_E_FLEET_UNKNOWN_SUPERCLUSTER",
        ["clusters", ci, "leftSupercluster"],
        `${c.name} says it left supercluster "${c.leftSupercluster}", which is of no lineage of this file (D6: a cluster between superclusters stays of the lineage it left)`,
        (f.superclusters ?? []).length > 0
          ? `one of ${(f.superclusters ?? []).map((s) => s.name).join(", ")}`
          : "a supercluster of the file",
      );
  });
}

/**
 * A supercluster's members: clusters that exist (`clusterIndex`), each listed once, in no other
 * supercluster (`memberOf`: cluster → its supercluster), of the supercluster's pack (D1). Returns
 * the names of the members that exist.
 */
function checkMembers(
  rep: Reporter,
  f: FleetFile,
  sc: FleetFileSupercluster,
  at: Path,
  clusterIndex: Map<string, number>,
  memberOf: Map<string, string>,
): Set<string> {
  const members = new Set<string>();
  sc.clusters.forEach((cn, mi) => {
    const ci = clusterIndex.get(cn);
    if (ci === undefined) {
      rep.missing(
        "ROLLGATE_E_FLEET_UNKNOWN_CLUSTER",
        [...at, "clusters", mi],
        { kind: "cluster", name: cn },
        `unknown cluster "${cn}"`,
        oneOf(clusterIndex, cn),
      );
      return;
    }
    if (members.has(cn))
      rep.add(
        "ROLLGATE_E_FLEET_DUPLICATE_NAME",
        [...at, "clusters", mi],
        `cluster "${cn}" is listed twice`,
        "each member once",
      );
    members.add(cn);
    const owner = memberOf.get(cn);
    if (owner && owner !== sc.name)
      rep.add(
        "ROLLGATE_E_FLEET_CLUSTER_SHARED",
        [...at, "clusters", mi],
        `cluster "${cn}" is already a member of supercluster "${owner}"`,
        "a cluster in at most one supercluster",
      );
    else memberOf.set(cn, sc.name);
    const pack = f.clusters[ci]!.pack;
    if (pack !== sc.pack)
      rep.add(
        "ROLLGATE_E_FLEET_SUPERCLUSTER_PACK",
        [...at, "clusters", mi],
        `cluster "${cn}" uses pack ${pack}, the supercluster ${sc.pack} (D1: all of one pack)`,
        `a ${sc.pack} cluster`,
      );
  });
  return members;
}

/** What a supercluster's territories are checked against. */
interface Membership {
  /** cluster name → index in the file */
  clusterIndex: Map<string, number>;
  /** the supercluster's listed members that exist */
  members: Set<string>;
  /** cluster name → the lineages it belongs to (see `clusterLineages`) */
  lineagesOf: Map<string, Set<string>>;
}

/** A supercluster's territories: unique names, their design's and their assignment's clusters. */
function checkTerritories(
  rep: Reporter,
  f: FleetFile,
  sc: FleetFileSupercluster,
  at: Path,
  m: Membership,
): void {
  const terrNames = new Set<string>();
  const knownMembers = sc.clusters.filter((cn) => m.clusterIndex.has(cn));
  // members now: a listed cluster that says it left this very supercluster is not one (D5/D6)
  const left = new Set(f.clusters.filter((c) => c.leftSupercluster === sc.name).map((c) => c.name));
  const current = knownMembers.filter((cn) => !left.has(cn));
  sc.territories?.forEach((t, ti) => {
    const tat = [...at, "territories", ti] as const;
    if (terrNames.has(t.name))
      rep.add(
        "ROLLGATE_E_FLEET_DUPLICATE_NAME",
        [...tat, "name"],
        `territory "${t.name}" is listed twice`,
        "a unique territory name",
      );
    terrNames.add(t.name);
    checkDesign(rep, sc, t, tat, m, knownMembers);
    checkAssignment(rep, sc, t, tat, m, current);
    if (t.assigned?.backup !== undefined && t.assigned.backup === t.assigned.primary)
      rep.add(
        "ROLLGATE_E_FLEET_NOT_MEMBER",
        [...tat, "assigned", "backup"],
        "the backup cluster is the primary cluster",
        "a backup other than the primary",
      );
    if (t.backup !== undefined && t.backup === t.primary)
      rep.add(
        "ROLLGATE_E_FLEET_NOT_MEMBER",
        [...tat, "backup"],
        "the backup cluster is the primary cluster",
        "a backup other than the primary",
      );
  });
}

/** A territory's design (primary, backup): members of the supercluster, or of its lineage (D4/D6). */
function checkDesign(
  rep: Reporter,
  sc: FleetFileSupercluster,
  t: FleetFileTerritory,
  tat: Path,
  m: Membership,
  knownMembers: readonly string[],
): void {
  const { clusterIndex, members, lineagesOf } = m;
  for (const role of ["primary", "backup"] as const) {
    const cn = t[role];
    if (cn === undefined) continue;
    if (!clusterIndex.has(cn))
      rep.missing(
        "ROLLGATE_E_FLEET_UNKNOWN_CLUSTER",
        [...tat, role],
        { kind: "cluster", name: cn },
        `unknown cluster "${cn}"`,
        knownMembers.length > 0
          ? `a member of ${sc.name}: ${knownMembers.join(", ")}`
          : `a member of ${sc.name} (none of its clusters exists)`,
      );
    else if (!members.has(cn)) {
      // the design may name a cluster of the lineage that is elsewhere for now, when the file
      // says where the territory is assigned meanwhile (an upgrade part way, D4/D6)
      const sibling = lineagesOf.get(cn)?.has(superclusterLineage(sc.name)) ?? false;
      if (!sibling || t.assigned === undefined)
        rep.add(
          "ROLLGATE_E_FLEET_NOT_MEMBER",
          [...tat, role],
          `cluster "${cn}" is not a member of supercluster ${sc.name}`,
          sibling
            ? `one of ${knownMembers.join(", ")}, or (${cn} is of ${superclusterLineage(sc.name)}, elsewhere for now) an "assigned" primary/backup among them`
            : `one of ${knownMembers.join(", ")}`,
        );
    }
  }
}

/** Where a territory is assigned meanwhile (primary, backup): clusters that are members now. */
function checkAssignment(
  rep: Reporter,
  sc: FleetFileSupercluster,
  t: FleetFileTerritory,
  tat: Path,
  m: Membership,
  current: readonly string[],
): void {
  for (const role of ["primary", "backup"] as const) {
    const cn = t.assigned?.[role];
    if (cn === undefined || current.includes(cn)) continue;
    if (!m.clusterIndex.has(cn)) {
      rep.missing(
        "ROLLGATE_E_FLEET_UNKNOWN_CLUSTER",
        [...tat, "assigned", role],
        { kind: "cluster", name: cn },
        `unknown cluster "${cn}"`,
        current.length > 0 ? `a member of ${sc.name}: ${current.join(", ")}` : `a member of ${sc.name}`,
      );
      continue;
    }
    rep.add(
      "ROLLGATE_E_FLEET_NOT_MEMBER",
      [...tat, "assigned", role],
      `cluster "${cn}" is not a member of supercluster ${sc.name} now`,
      current.length > 0 ? `one of ${current.join(", ")}` : `a member of ${sc.name} (none is, now)`,
    );
  }
}
