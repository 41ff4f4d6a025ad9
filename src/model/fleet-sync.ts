import { isMap, isSeq, parseDocument, type Document, type YAMLMap } from "yaml";
import { RollgateError } from "./errors.ts";
import type { Cluster, Fleet, Territory } from "./fleet.ts";
import { parseFleetText } from "./fleet-file.ts";
import { keepStyle } from "./fleet-line-diff.ts";
import { syncSuperclusters } from "./fleet-sync-dma.ts";
import { deleteKey, deref, pathText, scalarText, setKey, withDocument } from "./fleet-yaml-edit.ts";

export { lineDiff } from "./fleet-line-diff.ts";

/**
 * `rollgate fleet sync`: the fleet file brought up to what the servers report (G5), as text, with
 * its comments and layout kept (the `yaml` package's Document API edits the nodes in place). Pure:
 * the shell observes (run/fleet-sync.ts) and writes.
 *
 * What is synced: every server's release (the cluster's `version`, and a server's own `version`
 * where it differs from its cluster's), and for DMA clusters the superclusters: their names (the
 * new supercluster of an upgrade is `<lineage>@<release>`, D6) and members (founder first, D10).
 * Territories are the operator's design: kept as the file has them; what the servers assign now
 * is a note, not a change. A supercluster that no longer exists is renamed in place when a
 * supercluster of its lineage takes its place; one every member left (none in another yet) is
 * kept as it is; else it is removed; a new one is appended.
 */
export interface ObservedCluster {
  cluster: string;
  /** Release per server, as each reports it. */
  releases: Record<string, string>;
  /** M11: mode per server, as each reports it (a matrix that has modes). */
  modes?: Record<string, string>;
  /** DMA: the supercluster the cluster is a member of (null: none); undefined when not reported. */
  supercluster?: string | null;
  /** DMA: the supercluster's members as the cluster sees them (its founder first). */
  members?: string[];
  /** DMA: the supercluster's territories as the cluster sees them. */
  territories?: Territory[];
}

export interface FleetChange {
  /** Where in the file, as a YAML path ("clusters[0].version"). */
  path: string;
  detail: string;
}

export interface FleetSyncResult {
  text: string;
  changes: FleetChange[];
  /**
   * What the servers report differently from the file without it being written: a territory the
   * servers assign now to other clusters than the file's design (a temporary reassignment: mid-
   * upgrade, after an abort, a maintenance window's record step), or a territory that names a
   * cluster no longer in its supercluster's lineage (the operator decides; sync invents nothing).
   */
  notes: FleetChange[];
}

export function syncFleetText(
  text: string,
  fleet: Fleet,
  observed: readonly ObservedCluster[],
): FleetSyncResult {
  const doc = parseDocument(text, { keepSourceTokens: true });
  return withDocument(doc, () => syncDoc(text, doc, fleet, observed));
}

function syncDoc(
  text: string,
  doc: Document,
  fleet: Fleet,
  observed: readonly ObservedCluster[],
): FleetSyncResult {
  const changes: FleetChange[] = [];
  const notes: FleetChange[] = [];
  const clustersNode = deref(doc.get("clusters", true));
  if (!isSeq(clustersNode))
    throw new RollgateError("ROLLGATE_E_FLEET_SCHEMA", "the fleet file has no clusters list");
  const byName = new Map(observed.map((o) => [o.cluster, o]));
  // releases
  clustersNode.items.forEach((item, ci) => {
    const cn = deref(item);
    if (!isMap(cn)) return;
    const name = scalarText(cn.get("name", true));
    const cluster = fleet.clusters.find((c) => c.name === name);
    const obs = name === undefined ? undefined : byName.get(name);
    if (!cluster || !obs) return;
    syncCluster(doc, cn, ci, cluster, obs, changes);
  });
  syncSuperclusters(doc, fleet, byName, changes, notes);
  return finish(text, doc, changes, notes);
}

/** One cluster of the file (`cn`, at `ci`): its release, its servers' own, where it left a supercluster. */
function syncCluster(
  doc: Document,
  cn: YAMLMap,
  ci: number,
  cluster: Cluster,
  obs: ObservedCluster,
  changes: FleetChange[],
): void {
  const name = cluster.name;
  const releases = cluster.servers.map((s) => obs.releases[s.name] ?? s.version);
  // the cluster's version: the release most of its servers run (the oldest on a tie)
  const count = new Map<string, number>();
  for (const r of releases) count.set(r, (count.get(r) ?? 0) + 1);
  const common = [...count].sort((a, b) => b[1] - a[1])[0]![0];
  const was = scalarText(cn.get("version", true));
  if (was !== common) {
    setKey(doc, cn, "version", common);
    changes.push({
      path: pathText(["clusters", ci, "version"]),
      detail: `${name}: version ${was} → ${common}`,
    });
  }
  // a DMA cluster between superclusters keeps the name of the one it left (its lineage, D6)
  if (cluster.pack === "polycom-dma" && obs.supercluster !== undefined) {
    const had = scalarText(cn.get("leftSupercluster", true));
    const left = obs.supercluster === null ? (cluster.supercluster ?? cluster.leftSupercluster) : undefined;
    if (left !== undefined && had !== left) {
      setKey(doc, cn, "leftSupercluster", left);
      changes.push({
        path: pathText(["clusters", ci, "leftSupercluster"]),
        detail: `${name}: left ${left} and is a member of no supercluster`,
      });
    } else if (left === undefined && had !== undefined) {
      deleteKey(doc, cn, "leftSupercluster");
      changes.push({
        path: pathText(["clusters", ci, "leftSupercluster"]),
        detail: `${name}: a member of ${obs.supercluster} again (leftSupercluster ${had} removed)`,
      });
    }
  }
  const serversNode = deref(cn.get("servers", true));
  if (isSeq(serversNode)) syncServers(doc, serversNode.items, ci, cluster, obs, common, was, changes);
  if (cluster.mode !== undefined && obs.modes && isSeq(serversNode))
    syncModes(doc, cn, serversNode.items, ci, cluster, obs.modes, changes);
}

/**
 * M11: a matrix's `mode` (the mode most of its servers run, the file's own on a tie) and a server's
 * own `mode` where it runs in another, as the servers report them.
 */
function syncModes(
  doc: Document,
  cn: YAMLMap,
  items: readonly unknown[],
  ci: number,
  cluster: Cluster,
  modes: Record<string, string>,
  changes: FleetChange[],
): void {
  const of = (s: Cluster["servers"][number]) => modes[s.name] ?? s.mode ?? cluster.mode!;
  const count = new Map<string, number>([[cluster.mode!, 0]]);
  for (const s of cluster.servers) count.set(of(s), (count.get(of(s)) ?? 0) + 1);
  const common = [...count].sort((a, b) => b[1] - a[1])[0]![0];
  const was = cluster.mode!;
  if (common !== was) {
    setKey(doc, cn, "mode", common);
    changes.push({
      path: pathText(["clusters", ci, "mode"]),
      detail: `${cluster.name}: mode ${was} → ${common}`,
    });
  }
  items.forEach((sitem, si) => {
    const sn = deref(sitem);
    if (!isMap(sn)) return;
    const server = cluster.servers.find((s) => s.name === scalarText(sn.get("name", true)));
    if (!server) return;
    const mode = of(server);
    const own = scalarText(sn.get("mode", true));
    const path = pathText(["clusters", ci, "servers", si, "mode"]);
    if (mode === common) {
      if (own !== undefined) {
        deleteKey(doc, sn, "mode");
        changes.push({
          path,
          detail: `${server.name}: runs its matrix's mode ${common} (its own mode ${own} removed)`,
        });
      }
    } else if (own !== mode) {
      setKey(doc, sn, "mode", mode);
      changes.push({
        path,
        detail:
          own === undefined && mode === was
            ? `${server.name}: runs in mode ${mode}, its own now that its matrix's is ${common}`
            : `${server.name}: mode ${own ?? was} → ${mode}`,
      });
    }
  });
}

/**
 * The servers of a cluster of the file: a server's own `version` where it runs another release
 * than the cluster's (`common`; `was`: the cluster's version in the file), else none.
 */
function syncServers(
  doc: Document,
  items: readonly unknown[],
  ci: number,
  cluster: Cluster,
  obs: ObservedCluster,
  common: string,
  was: string | undefined,
  changes: FleetChange[],
): void {
  items.forEach((sitem, si) => {
    const sn = deref(sitem);
    if (!isMap(sn)) return;
    const sname = scalarText(sn.get("name", true));
    const server = cluster.servers.find((s) => s.name === sname);
    if (!server) return;
    const release = obs.releases[server.name] ?? server.version;
    const own = scalarText(sn.get("version", true));
    if (release === common) {
      if (own !== undefined) {
        deleteKey(doc, sn, "version");
        changes.push({
          path: pathText(["clusters", ci, "servers", si, "version"]),
          detail: `${sname}: runs its cluster's ${common} (its own version ${own} removed)`,
        });
      }
    } else if (own !== release) {
      setKey(doc, sn, "version", release);
      changes.push({
        path: pathText(["clusters", ci, "servers", si, "version"]),
        detail:
          own === undefined && was === release
            ? `${sname}: still runs ${release}, not its cluster's ${common} (its own version written)`
            : `${sname}: version ${own ?? was} → ${release}`,
      });
    }
  });
}

function finish(
  original: string,
  doc: Document,
  changes: FleetChange[],
  notes: FleetChange[] = [],
): FleetSyncResult {
  const text = changes.length === 0 ? original : keepStyle(original, doc.toString({ lineWidth: 0 }));
  // what is written must be a valid fleet file of the same fleet
  const check = parseFleetText(text);
  if (!check.ok)
    throw new RollgateError(
      "ROLLGATE_E_FLEET_SCHEMA",
      `the fleet file brought up to what the servers report would not be valid: ${check.diagnostics.map((d) => d.message).join("; ")}`,
    );
  return { text, changes, notes };
}
