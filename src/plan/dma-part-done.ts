import type { Cluster, Fleet, Supercluster } from "../model/fleet.ts";
import { DMA_ACTIONS } from "../model/step.ts";
import { newSuperclusterName } from "../rules/state.ts";
import { planInOrder } from "./dma-schedule.ts";
import { dropDone, isWindowRest, planAbortedWindow } from "./dma-window-rest.ts";
import type { DomainPlan } from "./rolling.ts";

/**
 * A supercluster part way through its incremental upgrade (D6), planned from where it stands (G5:
 * the fleet file describes the fleet as observed, `rollgate fleet sync`): after an abort, or with
 * a cluster upgraded by hand, some clusters of the lineage are already members of the new
 * supercluster `<lineage>@<target>` (`members`), some left the old one and run the target in no
 * supercluster (`loose`), the rest are still in the old one (`old`).
 *
 * The plan is the incremental plan of the whole lineage, founder first (the new supercluster's
 * first member, else the first loose cluster, which founds it at its verify), from which the steps
 * whose effect the fleet file already shows are dropped: a member keeps only its return to service
 * (an abort leaves a cluster busied out; the engine records the step done at once if the cluster
 * serves, G5), a loose cluster its verify (D8), its join (D10) or founding, and its return. The
 * scheduler counts the members and loose clusters out of service until they return, so the old
 * clusters go out only after them (G3). Steps are then re-timed to their dependencies.
 */
export function planPartDoneSupercluster(
  fleet: Fleet,
  lineage: string,
  superclusters: Supercluster[],
  clusters: Cluster[],
  target: string,
): DomainPlan {
  const newSc = newSuperclusterName(lineage, target);
  const onTarget = (c: Cluster) => c.servers.every((s) => s.version === target);
  // the new supercluster's founder is its first member (D10: the others joined it)
  const order = superclusters.find((s) => s.name === newSc)?.clusters ?? [];
  const members = clusters
    .filter((c) => c.supercluster === newSc && onTarget(c))
    .sort((a, b) => order.indexOf(a.name) - order.indexOf(b.name));
  const loose = clusters.filter((c) => c.supercluster === undefined && onTarget(c));
  // left the old supercluster, not upgraded yet (an abort during the leave or before the install)
  const between = clusters.filter((c) => c.supercluster === undefined && !onTarget(c));
  const old = clusters.filter((c) => !members.includes(c) && !loose.includes(c) && !between.includes(c));
  const oldScs = superclusters.filter((s) => s.name !== newSc);
  if (isWindowRest(clusters) && oldScs.length > 0)
    return planAbortedWindow(fleet, lineage, oldScs, [...loose, ...between], target);
  // the old supercluster's territories are the ones moved while its clusters leave; the new
  // supercluster keeps its own (nobody leaves it)
  const synthetic: Supercluster = {
    name: oldScs[0]?.name ?? lineage,
    pack: "polycom-dma",
    clusters: [...members, ...loose, ...between, ...old].map((c) => c.name),
    territories: oldScs.flatMap((s) => s.territories),
  };
  const p = planInOrder(fleet, synthetic, [...members, ...loose, ...between, ...old], target, "incremental");
  const drop = new Set<string>();
  // a member of the new supercluster on the target has done every step up to its join
  const upToJoin = DMA_ACTIONS.slice(0, DMA_ACTIONS.indexOf("join-supercluster") + 1);
  for (const c of members) for (const a of upToJoin) drop.add(`${c.name}/${a}`);
  for (const c of loose)
    for (const a of ["reassign-territories", "busy-out", "leave-supercluster", "install"])
      drop.add(`${c.name}/${a}`);
  // out of the old supercluster already: its busy-out is kept (done at once if it is busied out)
  for (const c of between)
    for (const a of ["reassign-territories", "leave-supercluster"]) drop.add(`${c.name}/${a}`);
  const kept = dropDone(p.steps, drop, new Set([...members, ...loose, ...between].map((c) => c.name)));
  const notes = partDoneNotes({ lineage, target, newSc, oldScs, members, loose, between, old });
  return {
    domain: lineage,
    steps: kept,
    ms: kept.reduce((m, s) => Math.max(m, s.end), 0),
    // what remains of the lineage's bound: the longest remaining chain of one cluster
    lowerBoundMs: Math.max(
      0,
      ...clusters.map((c) => {
        const own = kept.filter((s) => s.cluster === c.name);
        return own.reduce((n, s) => n + (s.end - s.start), 0);
      }),
    ),
    notes,
  };
}

/** Where each cluster of a part-done lineage stands (see `planPartDoneSupercluster`). */
interface PartDone {
  lineage: string;
  target: string;
  newSc: string;
  oldScs: Supercluster[];
  members: Cluster[];
  loose: Cluster[];
  between: Cluster[];
  old: Cluster[];
}

/** The plan's notes: where the lineage stands (G5), and what is planned for each group of clusters. */
function partDoneNotes(where: PartDone): string[] {
  const { lineage, target, newSc, oldScs, members, loose, between, old } = where;
  const founder = members[0] ?? loose[0] ?? between[0];
  const notes: string[] = [];
  const names = (cs: Cluster[]) => cs.map((c) => c.name).join(", ");
  notes.push(
    `G5, D6: supercluster ${lineage} is part way through its upgrade to ${target}: ${[
      members.length ? `${names(members)} already in ${newSc} on ${target}` : "",
      loose.length
        ? `${names(loose)} on ${target} in no supercluster (left ${oldScs[0]?.name ?? lineage})`
        : "",
      between.length ? `${names(between)} in no supercluster, not upgraded yet` : "",
      old.length ? `${names(old)} still in ${oldScs.map((s) => s.name).join(", ") || lineage}` : "",
    ]
      .filter(Boolean)
      .join("; ")}; planned from where it stands, only what remains`,
  );
  if (members.length)
    notes.push(
      `G5, D6: ${names(members)}: only the return to service is planned (an abort may have left ${members.length > 1 ? "them" : "it"} busied out; done at once if ${members.length > 1 ? "they serve" : "it serves"})`,
    );
  if (between.length)
    notes.push(
      `D6, D7, D8, D10: ${names(between)}: left ${[...new Set(between.map((c) => c.leftSupercluster ?? oldScs[0]?.name ?? lineage))].join(", ")} before its install: carried on with its upgrade (busy-out, install, verify, then ${founder && between[0] === founder ? `${founder.name} founds ${newSc} and the others join it` : `joins ${founder?.name} in ${newSc}`}), then returned to service`,
    );
  if (loose.length)
    notes.push(
      `D8, D10, D6: ${names(loose)}: verified, then ${members.length ? `joins ${founder!.name} in ${newSc}` : `${loose[0]!.name} founds ${newSc} and the others join it`}, then returns to service`,
    );
  if (old.length)
    notes.push(
      `D4, D6, D10, G3: ${names(old)}: the incremental procedure, joining ${founder?.name ?? old[0]!.name} in ${newSc}, each once the clusters above are back in service`,
    );
  return notes;
}
