import { superclusterLineage } from "../model/fleet.ts";
import type { Step } from "../model/step.ts";
import { cloneState } from "./state-build.ts";
import { finishStep, startStep } from "./state-effects.ts";
import type { FleetState, ServerRecord } from "./state-types.ts";

/**
 * The abstract fleet the rules judge (its records: state-types.ts), built from the fleet file and
 * copied (state-build.ts), changed by a step's two halves (state-effects.ts, with the undo journal
 * of state-journal.ts). This module is the entry: the others are reached through it.
 */
export { cloneState, initialState } from "./state-build.ts";
export { finishStep, observedStopped, startStep } from "./state-effects.ts";
export type {
  ClusterRecord,
  FilesystemRecord,
  FleetState,
  ServerRecord,
  SuperclusterRecord,
  TerritoryRecord,
  Undo,
} from "./state-types.ts";

/** Name of the new supercluster an incompatible upgrade founds (D6, D10): "sc-east@10.1.0". */
export function newSuperclusterName(lineage: string, release: string): string {
  // the second upgrade of sc-east@10.1.0 founds sc-east@10.2.0 (a valid fleet-file name, D6)
  return `${superclusterLineage(lineage)}@${release}`;
}

/**
 * The release M3–M5 call "new" in a cluster: its target (the pass's, in a chain), or in a rollback
 * the newer release it leaves.
 */
export function newerRelease(state: FleetState, cluster: string): string | undefined {
  return state.rollbackFrom.get(cluster) ?? state.targets.get(cluster);
}

/**
 * True when the server is not yet where its cluster's pass goes: a release other than the target
 * (the pass's, in a chain), or in a mode pass (M11) a mode other than the pass's.
 */
export function onOldRelease(state: FleetState, server: ServerRecord): boolean {
  const t = state.targets.get(server.cluster);
  if (t !== undefined && server.release !== t && server.installing !== t) return true;
  const m = state.targetModes.get(server.cluster);
  return m !== undefined && server.mode !== m && server.settingMode !== m;
}

/**
 * Where a server is, in the words M2–M5 use: its release, and in a mode pass (M11: `mode`, the
 * state's `targetModes` for its cluster) with its mode.
 */
export function levelOf(server: ServerRecord, mode: string | undefined): string {
  return mode === undefined ? server.release : `${server.release} in mode ${server.mode ?? "(none)"}`;
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
