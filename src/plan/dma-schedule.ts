import { RollgateError } from "../model/errors.ts";
import type { Cluster, Fleet, Supercluster } from "../model/fleet.ts";
import type { Step } from "../model/step.ts";
import { newSuperclusterName } from "../rules/state.ts";
import { superclusterLowerBound } from "./dma-bounds.ts";
import { markLastLeaves, orderAcrossClusters } from "./dma-dependencies.ts";
import { clusterChain, stepMs, EPS, type Sched } from "./dma-steps.ts";
import { territorySteps } from "./dma-territories.ts";
import type { DomainPlan } from "./rolling.ts";
import { fmtPct } from "./rolling.ts";

/** D4: every territory stays served, so a cluster leaves only once its territories are reassigned. */
function noTerritoryRoom(sc: Supercluster, floor: number): RollgateError {
  return new RollgateError(
    "ROLLGATE_E_PLAN_NO_TERRITORY_ROOM",
    `supercluster ${sc.name}: no room for the territory reassignments: no schedule of its clusters leaves room to reassign a cluster's territories before it goes out, so that every territory stays served (D4), while keeping the capacity floor ${fmtPct(floor)} (G3)`,
    { details: { supercluster: sc.name, floor } },
  );
}

/** One supercluster's list scheduling: its clusters in the order tried, and what every slot needs. */
interface Setup {
  sc: Supercluster;
  clusters: Cluster[];
  target: string;
  strategy: "patch" | "incremental";
  floor: number;
  allowedOut: number;
  /** the longest reassignment of the supercluster's clusters */
  ra: number;
  founder: Cluster | undefined;
  newSc: string;
}

/** How one cluster's slot sends its reassignment (patch, adaptive; see `listSchedule`). */
type SlotMode = "early" | "delay";

/** The supercluster's plan with its clusters' slots in this order (founder first). */
export function planInOrder(
  fleet: Fleet,
  sc: Supercluster,
  clusters: Cluster[],
  target: string,
  strategy: "patch" | "incremental",
  adaptive = false,
): DomainPlan {
  const floor = fleet.defaults.capacityFloor;
  const total = clusters.reduce((n, c) => n + c.capacity, 0);
  const allowedOut = (1 - floor) * total + EPS;
  const setup: Setup = {
    sc,
    clusters,
    target,
    strategy,
    floor,
    allowedOut,
    ra: Math.max(...clusters.map((c) => stepMs(c, "reassign-territories"))),
    founder: strategy === "incremental" ? clusters[0]! : undefined,
    newSc: newSuperclusterName(sc.name, target),
  };
  for (const c of clusters)
    if (c.capacity > allowedOut)
      throw new RollgateError(
        "ROLLGATE_E_PLAN_FLOOR_UNREACHABLE",
        `supercluster ${sc.name}: taking ${c.name} out of service leaves ${fmtPct((total - c.capacity) / total)} of its capacity, below the floor ${fmtPct(floor)} (G3)`,
        { details: { supercluster: sc.name, floor } },
      );
  const { scheds, extra } = scheduleWithTerritories(setup, adaptive);
  const steps: Step[] = [];
  for (const s of scheds) steps.push(...s.steps);
  steps.push(...extra);
  orderAcrossClusters(steps);
  // G4: the leave that empties the old supercluster (by analogy with M4: the old release's
  // supercluster is gone, and D9 can only roll clusters back one by one)
  markLastLeaves(steps, ["G4", "D9"]);
  steps.sort((a, b) => a.start - b.start);
  return {
    domain: sc.name,
    steps,
    ms: steps.reduce((m, s) => Math.max(m, s.end), 0),
    lowerBoundMs: superclusterLowerBound(sc, clusters, strategy, allowedOut, floor),
  };
}

/**
 * The clusters' slots and the territory steps that fit them. A patch reassigns territories only
 * when a territory would lose every serving cluster, so it tries without reassignment slots first;
 * failing that, every slot gets room for a reassignment.
 */
function scheduleWithTerritories(setup: Setup, adaptive: boolean): { scheds: Sched[]; extra: Step[] } {
  const { sc, clusters, strategy, floor, ra, newSc } = setup;
  const hasTerritories = sc.territories.length > 0;
  let scheds: Sched[];
  let extra: Step[] | undefined;
  if (adaptive && strategy === "patch" && hasTerritories) {
    // room for a reassignment only for the clusters that need one, sent ahead of their slot
    // where it can be; a cluster that still lacks room gets the uniform lead
    const rs = Math.max(...clusters.map((c) => stepMs(c, "restore-territories")));
    const modes = new Map<string, SlotMode>();
    for (let i = 0; i <= 2 * clusters.length; i++) {
      const failed: { cluster?: string } = {};
      scheds = listSchedule(setup, Math.max(ra, rs), modes);
      extra = territorySteps(strategy, sc, scheds, ra, floor, newSc, failed);
      if (extra !== undefined || failed.cluster === undefined) break;
      const m = modes.get(failed.cluster);
      if (m === "delay") break;
      modes.set(failed.cluster, m === "early" ? "delay" : "early");
    }
    if (extra === undefined) throw noTerritoryRoom(sc, floor);
    scheds = scheds!;
  } else {
    scheds = listSchedule(setup, strategy === "patch" || !hasTerritories ? 0 : ra);
    extra = territorySteps(strategy, sc, scheds, ra, floor, newSc);
  }
  if (extra === undefined) {
    // room before every window for a reassignment, and for a restore still landing on the
    // territories of the cluster about to go out (a slot starts when another cluster returns,
    // which is when that cluster's restores start)
    const rs = Math.max(...clusters.map((c) => stepMs(c, "restore-territories")));
    scheds = listSchedule(setup, Math.max(ra, rs));
    extra = territorySteps(strategy, sc, scheds, ra, floor, newSc);
    if (extra === undefined) throw noTerritoryRoom(sc, floor);
  }
  return { scheds, extra };
}

/**
 * List scheduling of the clusters' slots, founder first: a slot is the reassignment of the
 * cluster's territories (`lead` ms, when needed) followed by its out-of-service window.
 * `modes` (patch, adaptive): per cluster, "early" sends its reassignment up to `ra` ahead of the
 * moment it may go out (while the previous windows are still open), "delay" gives its slot the
 * uniform lead; a cluster with no mode has no room for a reassignment.
 */
function listSchedule(setup: Setup, lead: number, modes?: Map<string, SlotMode>): Sched[] {
  const { sc, clusters, target, strategy, floor, allowedOut, ra, founder, newSc } = setup;
  const canAdd = (out: Sched[], c: Cluster) =>
    out.reduce((n, o) => n + o.cluster.capacity, 0) + c.capacity <= allowedOut &&
    // an incremental upgrade always keeps one cluster serving (D6: "some capacity remains")
    (out.length + 1 < clusters.length || (floor <= 0 && strategy === "patch"));
  const scheds: Sched[] = [];
  let pending = [...clusters];
  let out: Sched[] = [];
  let t = 0;
  let founderInfo: { name: string; verifyEnd: number } | undefined;
  while (pending.length > 0) {
    out = out.filter((o) => o.end > t);
    const still: Cluster[] = [];
    for (const c of pending) {
      if (canAdd(out, c)) {
        const mode = modes?.get(c.name);
        const l = modes === undefined ? lead : mode === "delay" ? lead : 0;
        const at = mode === "early" ? Math.max(t, ra) : t + l;
        const s = clusterChain(strategy, c, at, target, founderInfo, newSc);
        s.slotStart = mode === "early" ? at - ra : t;
        if (founder && c === founder)
          founderInfo = { name: c.name, verifyEnd: s.steps.find((x) => x.action === "verify")!.end };
        scheds.push(s);
        out.push(s);
      } else still.push(c);
    }
    pending = still;
    if (pending.length > 0) {
      if (out.length === 0)
        throw new RollgateError(
          "ROLLGATE_E_PLAN_FLOOR_UNREACHABLE",
          `supercluster ${sc.name}: no cluster can go out`,
        );
      t = Math.min(...out.map((o) => o.end));
    }
  }
  return scheds;
}
