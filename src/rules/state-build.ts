import { type Fleet, superclusterLineage } from "../model/fleet.ts";
import type { Step } from "../model/step.ts";
import { compareVersions } from "../model/version.ts";
import { dmaLineages } from "./context.ts";
import type { FilesystemRecord, FleetState, ServerRecord, TerritoryRecord } from "./state-types.ts";

type FleetCluster = Fleet["clusters"][number];
type FleetSupercluster = Fleet["superclusters"][number];

/**
 * The fleet as the fleet file describes it: everything running, in service, in its supercluster.
 * With the plan's `steps`, a cluster whose upgrade takes several passes (M8's chain) starts in its
 * first pass: "new" means that pass's release from the first instant (the later passes are
 * entered by their first step, state-effects.ts).
 */
export function initialState(
  fleet: Fleet,
  targets: ReadonlyMap<string, string> = new Map(),
  steps: readonly Step[] = [],
): FleetState {
  const s: FleetState = {
    targets: new Map(targets),
    targetModes: new Map(),
    passOf: new Map(),
    rollbackFrom: rollbacksOf(fleet, targets),
    fullStop: new Set(steps.filter((x) => x.fullStop).map((x) => x.cluster)),
    firstHalf: firstHalvesOf(steps),
    servers: new Map(),
    clusters: new Map(),
    superclusters: new Map(),
    territories: new Map(),
    filesystems: new Map(),
    finalized: new Set(),
    serversOf: new Map(),
    territoriesOf: new Map(),
    filesystemsOf: new Map(),
  };
  const seen = new Set<string>();
  for (const step of steps) {
    if (seen.has(step.cluster)) continue;
    seen.add(step.cluster);
    if (step.pass === undefined) continue;
    s.targets.set(step.cluster, step.pass.to);
    if (step.pass.mode !== undefined) s.targetModes.set(step.cluster, step.pass.mode);
    s.passOf.set(step.cluster, step.pass.n);
  }
  const lineages = dmaLineages(fleet, targets);
  for (const c of fleet.clusters) addCluster(s, c, lineages.get(c.name));
  for (const sc of fleet.superclusters) addSupercluster(s, sc);
  return s;
}

/** M12's two halves: the servers of each matrix's first half, from the plan's steps. */
function firstHalvesOf(steps: readonly Step[]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const x of steps) {
    if (x.half === undefined) continue;
    let set = out.get(x.cluster);
    if (!set) {
      set = new Set();
      out.set(x.cluster, set);
    }
    if (x.half === 1 && x.server !== undefined) set.add(x.server);
  }
  return out;
}

/**
 * The clusters (matrix, generic) whose target is older than a release the file gives one of their
 * servers: they are being rolled back from that (their newest) release. An upgrade has none.
 */
function rollbacksOf(fleet: Fleet, targets: ReadonlyMap<string, string>): Map<string, string> {
  const out = new Map<string, string>();
  for (const c of fleet.clusters) {
    const t = targets.get(c.name);
    if (t === undefined || c.pack === "polycom-dma") continue;
    let newest: string | undefined;
    for (const s of c.servers) if (compareVersions(s.version, newest ?? t) > 0) newest = s.version;
    if (newest !== undefined) out.set(c.name, newest);
  }
  return out;
}

/** A cluster of the fleet file: its servers, itself, its filesystems. */
function addCluster(s: FleetState, c: FleetCluster, lineage: string | undefined): void {
  const list: ServerRecord[] = [];
  for (const sv of c.servers) {
    const rec: ServerRecord = {
      name: sv.name,
      cluster: c.name,
      address: sv.address,
      capacity: sv.capacity,
      release: sv.version,
      ...(sv.mode !== undefined ? { mode: sv.mode } : {}),
      running: true,
      disabled: false,
      backedUp: false,
    };
    s.servers.set(sv.name, rec);
    list.push(rec);
  }
  s.serversOf.set(c.name, list);
  s.clusters.set(c.name, {
    name: c.name,
    pack: c.pack,
    capacity: c.capacity,
    release: c.servers[0]?.version ?? c.version,
    supercluster: c.supercluster,
    lineage: lineage ?? c.supercluster,
    inService: true,
    verified: true,
  });
  const fss: FilesystemRecord[] = c.filesystems.map((fs) => ({
    key: `${c.name}/${fs.name}`,
    cluster: c.name,
    name: fs.name,
    mountedOn: new Set(fs.mountedOn),
    mountOn: new Set(fs.mountedOn),
    newOnly: false,
  }));
  for (const fs of fss) s.filesystems.set(fs.key, fs);
  s.filesystemsOf.set(c.name, fss);
}

/** A supercluster of the fleet file, and its territories (per lineage). */
function addSupercluster(s: FleetState, sc: FleetSupercluster): void {
  // superclusters of one lineage (sc-east, sc-east@10.1.0: an upgrade part way, D6) share it;
  // a new supercluster's founder is its first cluster (D10: the others joined it)
  const lineage = superclusterLineage(sc.name);
  s.superclusters.set(sc.name, {
    name: sc.name,
    lineage,
    ...(lineage !== sc.name && sc.clusters[0] !== undefined ? { founder: sc.clusters[0] } : {}),
    members: new Set(sc.clusters),
  });
  // every listed member left it (a maintenance window aborted after its leaves, D5): its
  // territories were recorded and taken off it (the window's record step); the file keeps them
  // as the design to restore
  const recorded = sc.clusters.length === 0 && (sc.formerMembers?.length ?? 0) > 0;
  const ts: TerritoryRecord[] = sc.territories.map((t) => ({
    key: `${sc.name}/${t.name}`,
    name: t.name,
    lineage,
    // where it is now: as recorded (none), as assigned for a while mid-upgrade, or its design
    ...(recorded
      ? {}
      : t.assigned
        ? { primary: t.assigned.primary, backup: t.assigned.backup }
        : { primary: t.primary, backup: t.backup }),
    original: { primary: t.primary, ...(t.backup ? { backup: t.backup } : {}) },
  }));
  for (const t of ts) s.territories.set(t.key, t);
  s.territoriesOf.set(lineage, [...(s.territoriesOf.get(lineage) ?? []), ...ts]);
}

/** A deep copy (for callers that want `applyStep` without touching their state). */
export function cloneState(state: FleetState): FleetState {
  const s: FleetState = {
    servers: new Map(),
    clusters: new Map(),
    superclusters: new Map(),
    territories: new Map(),
    filesystems: new Map(),
    finalized: new Set(state.finalized),
    serversOf: new Map(),
    territoriesOf: new Map(),
    filesystemsOf: new Map(),
    targets: new Map(state.targets),
    targetModes: new Map(state.targetModes),
    passOf: new Map(state.passOf),
    rollbackFrom: state.rollbackFrom,
    fullStop: state.fullStop,
    firstHalf: state.firstHalf,
  };
  for (const [k, list] of state.serversOf) {
    const copy = list.map((r) => ({ ...r }));
    for (const r of copy) s.servers.set(r.name, r);
    s.serversOf.set(k, copy);
  }
  for (const [k, c] of state.clusters) s.clusters.set(k, { ...c });
  for (const [k, sc] of state.superclusters) s.superclusters.set(k, { ...sc, members: new Set(sc.members) });
  for (const [k, list] of state.territoriesOf) {
    const copy = list.map((t) => ({ ...t, original: { ...t.original } }));
    for (const t of copy) s.territories.set(t.key, t);
    s.territoriesOf.set(k, copy);
  }
  for (const [k, list] of state.filesystemsOf) {
    const copy = list.map((f) => ({ ...f, mountedOn: new Set(f.mountedOn) }));
    for (const f of copy) s.filesystems.set(f.key, f);
    s.filesystemsOf.set(k, copy);
  }
  return s;
}
