import type { Cluster } from "../model/fleet.ts";
import { estimateFor } from "../model/estimates.ts";

/**
 * Planner time (docs/planning.md, "Time"): the planner and the verifier compute in integer
 * milliseconds, where sums, differences and comparisons are exact. Estimates are rounded to whole
 * milliseconds on input (at least 1 ms: a step takes time, so that its start comes before its end
 * at every instant of the replay); the Plan says seconds, written as ms / 1000. Those seconds read
 * back to the same milliseconds (`secondsToMs`), and compare as the milliseconds do, so nothing is
 * lost between the planner, the plan and the verifier.
 */

// a 100k-server plan asks for the same few estimates of every cluster many times
const CACHE = new WeakMap<object, { of: object; pack: string; ms: Map<string, number> }>();

/** A step's estimate in whole milliseconds (≥ 1). */
export function estimateMs(cluster: Pick<Cluster, "pack" | "estimates">, action: string): number {
  let c = CACHE.get(cluster);
  if (!c || c.of !== cluster.estimates || c.pack !== cluster.pack) {
    c = { of: cluster.estimates, pack: cluster.pack, ms: new Map() };
    CACHE.set(cluster, c);
  }
  const m = c.ms;
  let v = m.get(action);
  if (v === undefined) {
    v = Math.max(1, Math.round(estimateFor(cluster, action) * 1000));
    m.set(action, v);
  }
  return v;
}

/** Plan seconds → integer milliseconds. */
export function secondsToMs(seconds: number): number {
  return Math.round(seconds * 1000);
}

/** Integer milliseconds → plan seconds. */
export function msToSeconds(ms: number): number {
  return ms / 1000;
}

/** True when `seconds` is a whole number of milliseconds as the planner writes them (ms / 1000). */
export function isWholeMs(seconds: number): boolean {
  return Number.isFinite(seconds) && secondsToMs(seconds) / 1000 === seconds;
}
