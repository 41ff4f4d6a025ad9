import type { Cluster, Fleet, Supercluster } from "../model/fleet.ts";
import type { Step } from "../model/step.ts";
import { newSuperclusterName } from "../rules/state.ts";
import { markLastLeaves } from "./dma-dependencies.ts";
import { planMaintenanceWindow } from "./dma-window.ts";
import type { DomainPlan } from "./rolling.ts";

/**
 * A plan's steps without those already done (`drop`): a dropped step's dependencies stand in for
 * it, and the rest are re-timed to their dependencies. The steps of the chains of `fromHere` (the
 * clusters planned from where they stand) carry G5.
 */
export function dropDone(steps: Step[], drop: ReadonlySet<string>, fromHere: ReadonlySet<string>): Step[] {
  const byId = new Map(steps.map((s) => [s.id, s]));
  const resolve = (ids: string[], seen = new Set<string>()): string[] =>
    ids.flatMap((id) => {
      if (!drop.has(id)) return [id];
      if (seen.has(id)) return [];
      seen.add(id);
      return resolve(byId.get(id)?.after ?? [], seen);
    });
  const kept = steps.filter((s) => !drop.has(s.id)).sort((a, b) => a.start - b.start);
  const end = new Map<string, number>();
  // the steps come sorted by start, and a dependency ends before its dependent starts
  for (const s of kept) {
    s.after = [...new Set(resolve(s.after))];
    const d = s.end - s.start;
    s.start = s.after.reduce((m, id) => Math.max(m, end.get(id) ?? 0), 0);
    s.end = s.start + d;
    end.set(s.id, s.end);
    const own = s.id === `${s.cluster}/${s.action}`;
    if (own && fromHere.has(s.cluster) && !s.rules.includes("G5")) s.rules = [...s.rules, "G5"];
  }
  kept.sort((a, b) => a.start - b.start);
  markLastLeaves(kept, ["G4", "D9"]);
  return kept;
}

/** Every cluster of a lineage out of every supercluster: what remains of a maintenance window (D5). */
export function isWindowRest(clusters: readonly Cluster[]): boolean {
  return clusters.every((c) => c.supercluster === undefined);
}

/**
 * A maintenance window (D5) aborted after its clusters left the supercluster, before the new one
 * was founded: every cluster of the lineage is out of service in no supercluster, some already on
 * the target, and the territories were recorded and taken off (the window's record step; the
 * fleet file keeps them as the design). What remains of the window is planned from there (G5):
 * busy-out (done at once, they are busied out), install where not on the target yet, verify (D8);
 * the first cluster on the target (else the first in the file's order) founds
 * `<lineage>@<target>` and the others join it (D10); the recorded territories are restored in the
 * new supercluster; all return to service (D5: restores before the return). No leave, no second
 * install.
 */
export function planAbortedWindow(
  fleet: Fleet,
  lineage: string,
  oldScs: Supercluster[],
  clusters: Cluster[],
  target: string,
): DomainPlan {
  const onTarget = (c: Cluster) => c.servers.every((s) => s.version === target);
  const design: Supercluster = {
    name: oldScs[0]!.name,
    pack: "polycom-dma",
    clusters: clusters.map((c) => c.name),
    territories: oldScs.flatMap((s) => s.territories),
  };
  const p = planMaintenanceWindow(fleet, design, clusters, target);
  const founder = clusters[0]!;
  const drop = new Set<string>([`${founder.name}/record-territories`]);
  for (const c of clusters) {
    drop.add(`${c.name}/leave-supercluster`);
    if (onTarget(c)) drop.add(`${c.name}/install`);
  }
  const kept = dropDone(p.steps, drop, new Set(clusters.map((c) => c.name)));
  const newSc = newSuperclusterName(lineage, target);
  const names = (cs: Cluster[]) => cs.map((c) => c.name).join(", ");
  const installed = clusters.filter(onTarget);
  const notYet = clusters.filter((c) => !onTarget(c));
  const notes = [
    `G5, D5: supercluster ${oldScs.map((s) => s.name).join(", ")}: every cluster left it and none founded ${newSc} yet (a maintenance window aborted after its leaves): ${[
      installed.length ? `${names(installed)} on ${target}` : "",
      notYet.length ? `${names(notYet)} not upgraded yet` : "",
    ]
      .filter(Boolean)
      .join("; ")}; the rest of the window is planned from where it stands, only what remains`,
    `D5, D8, D10: ${notYet.length ? `${names(notYet)} installed, then ` : ""}each verified; ${founder.name} founds ${newSc} and the others join it; the recorded territories (${design.territories.map((t) => t.name).join(", ") || "none"}) restored as the fleet file designs them; then all return to service`,
  ];
  return {
    domain: lineage,
    steps: kept,
    ms: kept.reduce((m, s) => Math.max(m, s.end), 0),
    lowerBoundMs: kept.reduce((m, s) => Math.max(m, s.end), 0),
    notes,
  };
}
