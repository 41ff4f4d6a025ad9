import { RollgateError } from "../model/errors.ts";
import type { Cluster, Fleet, Supercluster } from "../model/fleet.ts";
import { permutations, superclusterLowerBound } from "./dma-bounds.ts";
import { planInOrder } from "./dma-schedule.ts";
import { EPS } from "./dma-steps.ts";
import type { DomainPlan } from "./rolling.ts";
import { msToSeconds } from "./time.ts";
import { verifyPlan } from "./verify.ts";

/**
 * A supercluster's patch (D3) or incremental (D6) upgrade: each cluster's chain starts as soon as
 * the capacity floor (G3) allows, founder first; territories are reassigned just before a cluster
 * goes out and restored once their original clusters are back (D4).
 */
export function planSuperclusterRolling(
  fleet: Fleet,
  sc: Supercluster,
  clusters: Cluster[],
  target: string,
  strategy: "patch" | "incremental",
): DomainPlan {
  const first = planInOrder(fleet, sc, clusters, target, strategy);
  if (first.ms <= 1.05 * first.lowerBoundMs) return first;
  // Not within 1.05 of the quick bound: the tighter (costlier) one, with the windows' optimum
  const floor = fleet.defaults.capacityFloor;
  const allowedOut = (1 - floor) * clusters.reduce((n, c) => n + c.capacity, 0) + EPS;
  const lowerBoundMs = superclusterLowerBound(sc, clusters, strategy, allowedOut, floor, true);
  let best = { ...first, lowerBoundMs };
  if (best.ms <= 1.05 * lowerBoundMs) return best;
  // The file order (its first cluster founding the new supercluster) is not good enough: try
  // every order of the at most five clusters (D1) and keep the fastest.
  for (const order of permutations(clusters)) {
    try {
      const p = planInOrder(fleet, sc, order, target, strategy);
      if (p.ms < best.ms) best = { ...p, lowerBoundMs };
    } catch (e) {
      // this order cannot keep the floor, or has no room for its reassignments; others may
      if (!isOrderRefusal(e)) throw e;
    }
  }
  if (best.ms <= 1.05 * lowerBoundMs || strategy !== "patch" || sc.territories.length === 0) return best;
  // Still not within 1.05: reassignments only where needed, sent ahead of their slot while the
  // previous windows are still open. Kept only when the supercluster's plan verifies on its own.
  const targets = new Map(clusters.map((c) => [c.name, target]));
  const sub: Fleet = { ...fleet, clusters, superclusters: [sc] };
  for (const order of permutations(clusters)) {
    try {
      const p = planInOrder(fleet, sc, order, target, strategy, true);
      if (p.ms >= best.ms) continue;
      const inSeconds = p.steps.map((x) => ({ ...x, start: msToSeconds(x.start), end: msToSeconds(x.end) }));
      if (verifyPlan(sub, inSeconds, targets).ok) best = { ...p, lowerBoundMs };
    } catch (e) {
      // no room for this order's reassignments; others may have it
      if (!isOrderRefusal(e)) throw e;
    }
  }
  return best;
}

/** A refusal of one order of the clusters (the permutation search tries the next); anything else is a bug. */
const isOrderRefusal = (e: unknown): boolean =>
  e instanceof RollgateError &&
  (e.code === "ROLLGATE_E_PLAN_FLOOR_UNREACHABLE" || e.code === "ROLLGATE_E_PLAN_NO_TERRITORY_ROOM");
