import type { Fleet, Territory } from "./fleet.ts";
import { superclusterLineage } from "./fleet.ts";
import type { FleetChange, ObservedCluster } from "./fleet-sync.ts";
import { pathText } from "./fleet-yaml-edit.ts";

/** A supercluster as its clusters report it: members (the founder first) and territories. */
export interface Seen {
  members: string[];
  territories: Territory[];
}

/** What a review of territories reads (the fleet, what was observed), and where it notes. */
export interface Observed {
  fleet: Fleet;
  /** what each cluster reports, by cluster name */
  byName: ReadonlyMap<string, ObservedCluster>;
  /** the superclusters the clusters report, by name */
  seen: ReadonlyMap<string, Seen>;
  notes: FleetChange[];
}

/** The clusters of a lineage: members (in the file or as observed) or clusters that left one of it. */
function lineageClusters(obs: Observed, lineage: string): Set<string> {
  const out = new Set<string>();
  for (const c of obs.fleet.clusters) {
    const o = obs.byName.get(c.name);
    const scs = [c.supercluster, c.leftSupercluster, o?.supercluster ?? undefined];
    if (scs.some((s) => s !== undefined && superclusterLineage(s) === lineage)) out.add(c.name);
  }
  return out;
}

/** Where the named clusters, none a member, are: another supercluster of the lineage, or none (between leave and join). */
function whereNow(obs: Observed, clusters: string[], lineage: string): string {
  const inOne = clusters.filter((c) => obs.byName.get(c)?.supercluster !== null);
  const inNone = clusters.filter((c) => !inOne.includes(c));
  const verb = (xs: string[]) => (xs.length === 1 ? "is" : "are");
  return [
    inOne.length ? `${inOne.join(", ")} ${verb(inOne)} in another supercluster of ${lineage}` : "",
    inNone.length
      ? `${inNone.join(", ")} ${verb(inNone)} in no supercluster (between leaving one of ${lineage} and joining one)`
      : "",
  ]
    .filter(Boolean)
    .join(" and ");
}

/**
 * The file's territories are the operator's design (primary/backup per territory): kept as the
 * file has them; what the servers assign now is only reported (a temporary reassignment).
 */
export function reviewTerritories(
  obs: Observed,
  index: number,
  name: string,
  fileTerr: Territory[],
  members: readonly string[],
): Territory[] {
  const lineage = superclusterLineage(name);
  const inLineage = lineageClusters(obs, lineage);
  const now = new Map<string, Territory>();
  for (const [n, e] of obs.seen)
    if (superclusterLineage(n) === lineage)
      for (const t of e.territories) if (!now.has(t.name)) now.set(t.name, t);
  const keep: Territory[] = [];
  for (const t0 of fileTerr) {
    const s = now.get(t0.name);
    // the design (primary/backup) stays; `assigned` says where the servers have it meanwhile
    const { assigned: _was, ...t } = t0;
    const named = [t.primary, t.backup].filter((c): c is string => c !== undefined);
    const sValid =
      s !== undefined && [s.primary, s.backup].every((c) => c === undefined || members.includes(c));
    const sameAsDesign = s !== undefined && s.primary === t.primary && (s.backup ?? "") === (t.backup ?? "");
    if (named.every((c) => inLineage.has(c)) && !named.every((c) => members.includes(c))) {
      // a named cluster is in a sibling supercluster of the lineage mid-upgrade: the design
      // is kept, with where the servers assign it now (D4/D6; apply restores the design)
      if (sValid)
        keep.push({
          ...t,
          assigned: { primary: s.primary, ...(s.backup ? { backup: s.backup } : {}) },
        });
      obs.notes.push({
        path: pathText(["superclusters", index, "territories"]),
        detail: `${name}: territory ${t.name} is designed ${t.primary}${t.backup ? `/${t.backup}` : ""}, but ${whereNow(
          obs,
          named.filter((c) => !members.includes(c)),
          lineage,
        )} for now: ${sValid ? `the design kept, with assigned: ${s.primary}${s.backup ? `/${s.backup}` : ""} (where the servers have it now; apply restores the design)` : "written out (the servers assign it to none of its members); put the design back once the upgrade is done"}`,
      });
      continue;
    }
    keep.push(
      sValid && !sameAsDesign
        ? { ...t, assigned: { primary: s.primary, ...(s.backup ? { backup: s.backup } : {}) } }
        : t,
    );
    const gone = [t.primary, t.backup].filter((c): c is string => c !== undefined && !inLineage.has(c));
    if (gone.length)
      obs.notes.push({
        path: pathText(["superclusters", index, "territories"]),
        detail: `${name}: territory ${t.name} names ${gone.join(", ")}, no longer a cluster of ${lineage}: edit its primary/backup in the file (not changed)`,
      });
    if (!sameAsDesign)
      obs.notes.push({
        path: pathText(["superclusters", index, "territories"]),
        detail: `${name}: territory ${t.name} is ${s ? `assigned to ${s.primary}${s.backup ? `/${s.backup}` : ""}` : "unassigned"} on the servers now; the file's design ${t.primary}${t.backup ? `/${t.backup}` : ""} kept (an upgrade's apply restores it; after an abort with nothing left to upgrade, \`rollgate abort FLEET --return-to-service\` does)${sValid ? ", with assigned: where the servers have it" : ""}`,
      });
  }
  return keep;
}
