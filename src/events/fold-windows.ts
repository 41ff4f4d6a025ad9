import type { RunEvent } from "./types.ts";
import type { RunView } from "./fold-view.ts";

/** Mixed-release windows (M6, D6): folded from observations, told in seconds per group. */

export function observe(view: RunView, e: Extract<RunEvent, { type: "observation" }>): void {
  const key = `${e.cluster}/${e.server}`;
  view.observed.set(key, { release: e.release, state: e.state, at: e.at });
  if (e.state === "unreachable") return;
  const m = view.mixed;
  m.release.set(key, e.release);
  const now = Date.parse(e.at);
  for (const [group, members] of m.groups) {
    if (!members.includes(key)) continue;
    const mixed = new Set(members.map((x) => m.release.get(x))).size > 1;
    const since = m.since.get(group);
    if (mixed && since === undefined) m.since.set(group, now);
    if (!mixed && since !== undefined) {
      m.total.set(group, (m.total.get(group) ?? 0) + (now - since));
      m.since.delete(group);
    }
  }
}

/**
 * Seconds each cluster (`cluster:NAME`) and supercluster (`supercluster:NAME`) has run mixed
 * releases (M6, D6), a window still open counted up to `now` (ms) when `open` (the run is unfinished).
 */
export function mixedSeconds(view: RunView, now: number, open: boolean): Record<string, number> {
  const out: Record<string, number> = {};
  for (const group of view.mixed.groups.keys()) {
    const since = view.mixed.since.get(group);
    const ms =
      (view.mixed.total.get(group) ?? 0) + (since !== undefined && open ? Math.max(0, now - since) : 0);
    out[group] = Math.round(ms / 100) / 10;
  }
  return out;
}
