import type { Step } from "../model/step.ts";
import { Journal, NO_RECORD } from "./state-journal.ts";
import type {
  ClusterRecord,
  FilesystemRecord,
  FleetState,
  ServerRecord,
  TerritoryRecord,
  Undo,
} from "./state-types.ts";

/** The two halves of a step's effect on the abstract fleet (state.ts), each with its undo. */

function onNewRelease(state: FleetState, server: ServerRecord): boolean {
  // M4, M5: the newer release of the two (the target, or in a rollback the release it leaves); in
  // a mode pass (M11), the pass's mode
  const t = state.rollbackFrom.get(server.cluster) ?? state.targets.get(server.cluster);
  const m = state.targetModes.get(server.cluster);
  return t !== undefined && server.release === t && (m === undefined || server.mode === m);
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

/**
 * M4 for what was observed rather than done by a step: a matrix server found stopped (by hand, a
 * crash) may have been its last old-release server; from then on the matrix admits only the newer
 * release, as if a step had stopped it.
 */
export function observedStopped(state: FleetState, cluster: string): void {
  updateFinalized(state, NO_RECORD, cluster);
}

/**
 * The first step of a pass of a multi-pass upgrade (M8's chain, M11's declared passes): "new" now
 * means the pass's release (and, in a mode pass, its mode), and what the pass before settled
 * starts over: M4's point of no return (finalized) and M5's new-only filesystems are the new
 * pass's to reach again.
 */
function enterPass(state: FleetState, j: Journal, step: Step): void {
  const pass = step.pass!;
  j.put(state.passOf, step.cluster, pass.n);
  j.put(state.targets, step.cluster, pass.to);
  if (pass.mode !== undefined) j.put(state.targetModes, step.cluster, pass.mode);
  else j.drop(state.targetModes, step.cluster);
  j.remove(state.finalized, step.cluster);
  for (const fs of state.filesystemsOf.get(step.cluster) ?? []) j.set(fs, "newOnly", false);
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
  if (step.pass !== undefined && state.passOf.get(step.cluster) !== step.pass.n) enterPass(state, j, step);
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
    case "set-mode":
      if (sv) j.set(sv, "settingMode", step.mode);
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
    case "enable":
      if (sv) j.set(sv, "disabled", false);
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
      } else if (cl) installed(state, j, step, cl);
      break;
    case "set-mode":
      if (sv) {
        if (step.mode) j.set(sv, "mode", step.mode);
        j.set(sv, "settingMode", undefined);
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
      else if (cl) verified(state, j, step, cl);
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
      if (cl && step.joins) joined(state, j, cl, step.joins);
      break;
    case "reassign-territories":
    case "restore-territories":
      reassigned(state, j, step);
      break;
    case "return-to-service":
      if (cl) j.set(cl, "inService", true);
      break;
  }
  return j.done();
}

/** A DMA cluster's install is done: its release, on every server, which runs again (D7). */
function installed(state: FleetState, j: Journal, step: Step, cl: ClusterRecord): void {
  if (step.release) j.set(cl, "release", step.release);
  j.set(cl, "installing", undefined);
  for (const r of state.serversOf.get(cl.name) ?? []) {
    if (step.release) j.set(r, "release", step.release);
    j.set(r, "installing", undefined);
    j.set(r, "running", true);
  }
}

/** A DMA cluster verified (D8); with `founds`, it founds the new supercluster. */
function verified(state: FleetState, j: Journal, step: Step, cl: ClusterRecord): void {
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

/** A DMA cluster joined the supercluster of the cluster `joins`. */
function joined(state: FleetState, j: Journal, cl: ClusterRecord, joins: string): void {
  const host = state.clusters.get(joins);
  const sc = host?.supercluster ? state.superclusters.get(host.supercluster) : undefined;
  if (!sc) return; // nothing to join: canStart reports D10
  j.add(sc.members, cl.name);
  j.set(cl, "supercluster", sc.name);
}

/** Territories reassigned or restored, and those recorded and unassigned (D5). */
function reassigned(state: FleetState, j: Journal, step: Step): void {
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
}

function findTerritory(state: FleetState, step: Step, name: string): TerritoryRecord | undefined {
  // a supercluster has a handful of territories: a scan of its list, no key string per lookup
  const lineage = state.clusters.get(step.cluster)?.lineage;
  const list = lineage === undefined ? undefined : state.territoriesOf.get(lineage);
  if (list) for (const t of list) if (t.name === name) return t;
  return undefined;
}
