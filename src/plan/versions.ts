import type { Cluster, Fleet } from "../model/fleet.ts";
import { compareVersions } from "../model/version.ts";
import { compatibleIn } from "../rules/context.ts";

/**
 * compareVersions and compatibleIn for the planner, which asks them of the same few releases for
 * every server of a large fleet: equal strings answer at once, other pairs are parsed once.
 */
const ORDER = new Map<string, Map<string, number>>();

export function cmpVersions(a: string, b: string): number {
  if (a === b) return 0;
  let m = ORDER.get(a);
  if (!m) {
    if (ORDER.size > 10_000) ORDER.clear();
    m = new Map();
    ORDER.set(a, m);
  }
  let v = m.get(b);
  if (v === undefined) {
    v = compareVersions(a, b);
    m.set(b, v);
  }
  return v;
}

const COMPATIBLE = new WeakMap<Cluster, Map<string, boolean>>();

export function compatible(fleet: Fleet, cluster: Cluster, a: string, b: string): boolean {
  if (a === b) return compatibleIn(fleet, cluster, a, b);
  let m = COMPATIBLE.get(cluster);
  if (!m) {
    m = new Map();
    COMPATIBLE.set(cluster, m);
  }
  const key = `${a}|${b}`;
  let v = m.get(key);
  if (v === undefined) {
    v = compatibleIn(fleet, cluster, a, b);
    m.set(key, v);
  }
  return v;
}
