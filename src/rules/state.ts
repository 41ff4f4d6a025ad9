import { type Fleet, superclusterLineage } from "../model/fleet.ts";
import { dmaLineages } from "./context.ts";
import type { Step } from "../model/step.ts";

/**
 * The abstract fleet the rules judge: what each server, cluster, supercluster and territory is
 * doing. The planner and the verifier replay plans over it; the engine can keep one in step with
 * what it observes and ask the rules why a step must wait.
 *
 * Step effects come in two halves: `startStep` (what is true while the step runs: a stopping
 * server has left the matrix, an installing server's release is uncertain) and `finishStep` (what
 * is true once it is done). Both mutate the state in place and return an `Undo`, so the verifier
 * can look at a branch (a failed step) and come back without copying the fleet.
 */
export interface ServerRecord {
  name: string;
  cluster: string;
  address: string;
  capacity: number;
  /** The release installed. */
  release: string;
  /** An install in flight (or failed): the release is `release` or this one. */
  installing?: string;
  /** The server's software runs; for a matrix, the server is in the matrix. */
  running: boolean;
  /** M9: disabled (virtual services moved away); re-enabled when its verify step is done. */
  disabled: boolean;
  /** M9: configuration backed up during this upgrade. */
  backedUp: boolean;
}

export interface ClusterRecord {
  name: string;
  pack: Fleet["clusters"][number]["pack"];
  capacity: number;
  /** DMA: the release of the cluster's servers (the install runs on all of them, D7). */
  release: string;
  installing?: string;
  /** DMA: the supercluster the cluster is a member of now (the new one is "<name>@<release>"). */
  supercluster?: string;
  /** DMA: the supercluster of the fleet file the cluster belongs to (its capacity domain). */
  lineage?: string;
  /** DMA: taking new conferences (false from busy-out until return-to-service). */
  inService: boolean;
  /** DMA: D8 checks passed on the current release. */
  verified: boolean;
}

export interface SuperclusterRecord {
  name: string;
  /** The supercluster of the fleet file this one descends from (itself for the original). */
  lineage: string;
  /** D10: the founding cluster (new superclusters only). */
  founder?: string;
  members: Set<string>;
}

export interface TerritoryRecord {
  /** "<supercluster>/<territory>" */
  key: string;
  name: string;
  lineage: string;
  /** Undefined while recorded and unassigned (D5). */
  primary?: string;
  backup?: string;
  original: { primary: string; backup?: string };
}

export interface FilesystemRecord {
  key: string;
  cluster: string;
  name: string;
  mountedOn: Set<string>;
  /** Servers that mount it when they run (from the fleet file). */
  mountOn: ReadonlySet<string>;
  /** M5: unmounted on the last old-release server while new-release servers had it mounted. */
  newOnly: boolean;
}

export interface FleetState {
  servers: Map<string, ServerRecord>;
  clusters: Map<string, ClusterRecord>;
  superclusters: Map<string, SuperclusterRecord>;
  territories: Map<string, TerritoryRecord>;
  filesystems: Map<string, FilesystemRecord>;
  /** Matrix clusters past M4's point of no return (the last old-release server left). */
  finalized: Set<string>;
  /** Servers of each cluster, in file order. */
  serversOf: Map<string, ServerRecord[]>;
  /** Territories per lineage (original supercluster). */
  territoriesOf: Map<string, TerritoryRecord[]>;
  /** Filesystems per cluster. */
  filesystemsOf: Map<string, FilesystemRecord[]>;
  /** Target release per cluster (what "old" and "new" mean for M3–M5); may be empty. */
  targets: ReadonlyMap<string, string>;
}

/** Restores what a state change altered. */
export type Undo = () => void;

/** The fleet as the fleet file describes it: everything running, in service, in its supercluster. */
export function initialState(fleet: Fleet, targets: ReadonlyMap<string, string> = new Map()): FleetState {
  const s: FleetState = {
    targets,
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
  const lineages = dmaLineages(fleet, targets);
  for (const c of fleet.clusters) {
    const list: ServerRecord[] = [];
    for (const sv of c.servers) {
      const rec: ServerRecord = {
        name: sv.name,
        cluster: c.name,
        address: sv.address,
        capacity: sv.capacity,
        release: sv.version,
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
      lineage: lineages.get(c.name) ?? c.supercluster,
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
  for (const sc of fleet.superclusters) {
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
  return s;
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
    targets: state.targets,
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

// ── mutation helpers that record their own undo ──────────────────────────────────────────────

const NO_UNDO: Undo = () => {};

class Journal {
  private readonly undos: Undo[] = [];
  /** `record` false: change in place and keep no undo (the verifier's main replay). */
  constructor(private readonly record = true) {}
  set<T extends object, K extends keyof T>(obj: T, key: K, value: T[K]): void {
    const had = Object.hasOwn(obj, key);
    const prev = obj[key];
    if (had && prev === value) return;
    obj[key] = value;
    if (!this.record) return;
    this.undos.push(() => {
      if (had) obj[key] = prev;
      else delete obj[key];
    });
  }
  add<T>(set: Set<T>, v: T): void {
    if (set.has(v)) return;
    set.add(v);
    if (!this.record) return;
    this.undos.push(() => set.delete(v));
  }
  remove<T>(set: Set<T>, v: T): void {
    if (!set.has(v)) return;
    set.delete(v);
    if (!this.record) return;
    this.undos.push(() => set.add(v));
  }
  put<K, V>(map: Map<K, V>, k: K, v: V): void {
    const had = map.has(k);
    const prev = map.get(k);
    map.set(k, v);
    if (!this.record) return;
    this.undos.push(() => (had ? map.set(k, prev as V) : map.delete(k)));
  }
  done(): Undo {
    if (!this.record) return NO_UNDO;
    const list = this.undos;
    return () => {
      for (let i = list.length - 1; i >= 0; i--) list[i]!();
    };
  }
}

/** The journal of in-place changes that keep no undo (it holds nothing, so one serves all). */
const NO_RECORD = new Journal(false);

/** Name of the new supercluster an incompatible upgrade founds (D6, D10): "sc-east@10.1.0". */
export function newSuperclusterName(lineage: string, release: string): string {
  // the second upgrade of sc-east@10.1.0 founds sc-east@10.2.0 (a valid fleet-file name, D6)
  return `${superclusterLineage(lineage)}@${release}`;
}

/** True when the server runs a release older than its cluster's target. */
export function onOldRelease(state: FleetState, server: ServerRecord): boolean {
  const t = state.targets.get(server.cluster);
  return t !== undefined && server.release !== t && server.installing !== t;
}

function onNewRelease(state: FleetState, server: ServerRecord): boolean {
  const t = state.targets.get(server.cluster);
  return t !== undefined && server.release === t;
}

/** M5 bookkeeping after the mounts of a filesystem changed. */
function updateNewOnly(state: FleetState, j: Journal, fs: FilesystemRecord): void {
  let oldMounted = false;
  let newMounted = false;
  for (const n of fs.mountedOn) {
    const r = state.servers.get(n);
    if (!r) continue;
    if (onNewRelease(state, r)) newMounted = true;
    else oldMounted = true;
  }
  if (!newMounted) j.set(fs, "newOnly", false);
  else if (!oldMounted) j.set(fs, "newOnly", true);
}

/** M4: once no old-release server is left in a matrix that has new-release members, it is final. */
function updateFinalized(state: FleetState, j: Journal, cluster: string): void {
  if (state.finalized.has(cluster) || state.clusters.get(cluster)?.pack !== "polyserve-matrix") return;
  let oldRunning = false;
  let newRunning = false;
  for (const r of state.serversOf.get(cluster) ?? []) {
    if (!r.running) continue;
    if (onNewRelease(state, r)) newRunning = true;
    else oldRunning = true;
  }
  if (newRunning && !oldRunning) j.add(state.finalized, cluster);
}

function unmountAll(state: FleetState, j: Journal, server: ServerRecord): void {
  for (const fs of state.filesystemsOf.get(server.cluster) ?? []) {
    if (!fs.mountedOn.has(server.name)) continue;
    j.remove(fs.mountedOn, server.name);
    updateNewOnly(state, j, fs);
  }
}

function mountAll(state: FleetState, j: Journal, server: ServerRecord): void {
  for (const fs of state.filesystemsOf.get(server.cluster) ?? []) {
    if (!fs.mountOn.has(server.name) || fs.mountedOn.has(server.name)) continue;
    j.add(fs.mountedOn, server.name);
    // mounting on an old-release server does not lift M5's lock; checks report it
    if (onNewRelease(state, server) && !fs.newOnly) updateNewOnly(state, j, fs);
  }
}

/**
 * The part of a step's effect that holds from the moment it starts: a server being disabled or
 * stopped is out of service, a server or cluster being installed has an uncertain release, a
 * cluster being busied out takes no new conferences.
 */
export function startStep(state: FleetState, step: Step, options: { undo?: boolean } = {}): Undo {
  const j = options.undo === false ? NO_RECORD : new Journal();
  const sv = step.server ? state.servers.get(step.server) : undefined;
  const cl = state.clusters.get(step.cluster);
  switch (step.action) {
    case "disable":
      if (sv) j.set(sv, "disabled", true);
      break;
    case "stop":
      if (sv) {
        j.set(sv, "running", false);
        unmountAll(state, j, sv);
        updateFinalized(state, j, sv.cluster);
      }
      break;
    case "install":
      if (sv) j.set(sv, "installing", step.release);
      else if (cl) {
        j.set(cl, "installing", step.release);
        j.set(cl, "verified", false);
        for (const r of state.serversOf.get(cl.name) ?? []) {
          j.set(r, "installing", step.release);
          j.set(r, "running", false);
        }
      }
      break;
    case "busy-out":
      if (cl) j.set(cl, "inService", false);
      break;
    default:
      break;
  }
  return j.done();
}

/** The part of a step's effect that holds once it is done. */
export function finishStep(state: FleetState, step: Step, options: { undo?: boolean } = {}): Undo {
  const j = options.undo === false ? NO_RECORD : new Journal();
  const sv = step.server ? state.servers.get(step.server) : undefined;
  const cl = state.clusters.get(step.cluster);
  switch (step.action) {
    case "disable":
      if (sv) j.set(sv, "disabled", true);
      break;
    case "backup":
      if (sv) j.set(sv, "backedUp", true);
      break;
    case "stop":
      if (sv) j.set(sv, "running", false);
      break;
    case "install":
      if (sv) {
        if (step.release) j.set(sv, "release", step.release);
        j.set(sv, "installing", undefined);
      } else if (cl) {
        if (step.release) j.set(cl, "release", step.release);
        j.set(cl, "installing", undefined);
        for (const r of state.serversOf.get(cl.name) ?? []) {
          if (step.release) j.set(r, "release", step.release);
          j.set(r, "installing", undefined);
          j.set(r, "running", true);
        }
      }
      break;
    case "start":
      if (sv) {
        j.set(sv, "running", true);
        mountAll(state, j, sv); // a started server mounts its shared filesystems again (M5)
        updateFinalized(state, j, sv.cluster);
      }
      break;
    case "verify":
      if (sv) j.set(sv, "disabled", false);
      else if (cl) {
        j.set(cl, "verified", true);
        if (step.founds && cl.supercluster === undefined) {
          // the first upgraded cluster founds the new supercluster (D6, D10)
          j.put(state.superclusters, step.founds, {
            name: step.founds,
            lineage: cl.lineage ?? cl.name,
            founder: cl.name,
            members: new Set([cl.name]),
          });
          j.set(cl, "supercluster", step.founds);
        }
      }
      break;
    case "busy-out":
      if (cl) j.set(cl, "inService", false);
      break;
    case "leave-supercluster":
      if (cl?.supercluster) {
        const sc = state.superclusters.get(cl.supercluster);
        if (sc) j.remove(sc.members, cl.name);
        j.set(cl, "supercluster", undefined);
      }
      break;
    case "join-supercluster":
      if (cl && step.joins) {
        const host = state.clusters.get(step.joins);
        const sc = host?.supercluster ? state.superclusters.get(host.supercluster) : undefined;
        if (!sc) break; // nothing to join: canStart reports D10
        j.add(sc.members, cl.name);
        j.set(cl, "supercluster", sc.name);
      }
      break;
    case "reassign-territories":
    case "restore-territories":
      for (const a of step.territories ?? []) {
        const t = findTerritory(state, step, a.name);
        if (!t) continue;
        j.set(t, "primary", a.primary);
        j.set(t, "backup", a.backup);
      }
      for (const name of step.unassigned ?? []) {
        const t = findTerritory(state, step, name);
        if (!t) continue;
        j.set(t, "primary", undefined);
        j.set(t, "backup", undefined);
      }
      break;
    case "return-to-service":
      if (cl) j.set(cl, "inService", true);
      break;
  }
  return j.done();
}

function findTerritory(state: FleetState, step: Step, name: string): TerritoryRecord | undefined {
  // a supercluster has a handful of territories: a scan of its list, no key string per lookup
  const lineage = state.clusters.get(step.cluster)?.lineage;
  const list = lineage === undefined ? undefined : state.territoriesOf.get(lineage);
  if (list) for (const t of list) if (t.name === name) return t;
  return undefined;
}

/** The effect of a completed step, on a copy (the engine's view: start and finish together). */
export function applyStep(state: FleetState, step: Step): FleetState {
  const s = cloneState(state);
  startStep(s, step);
  finishStep(s, step);
  return s;
}

/**
 * The states a step can leave behind when it fails and the engine halts: its start effect (the
 * step did nothing more, release still uncertain), and for steps whose effect may have happened
 * before the failure was seen (a leave, a join, a reassignment, a start), that effect too.
 * Returned as copies.
 */
export function failedStates(state: FleetState, step: Step): FleetState[] {
  const a = cloneState(state);
  startStep(a, step);
  if (!PARTIAL_EFFECT.has(step.action)) return [a];
  const b = cloneState(a);
  finishStep(b, step);
  return [a, b];
}

/** Actions whose effect may be in place although the step reported failure. */
export const PARTIAL_EFFECT: ReadonlySet<string> = new Set([
  "start",
  "leave-supercluster",
  "join-supercluster",
  "reassign-territories",
  "restore-territories",
]);

/** The state when a step fails (its start effect, the step's own effect not in place). */
export function failedState(state: FleetState, step: Step): FleetState {
  return failedStates(state, step)[0]!;
}
