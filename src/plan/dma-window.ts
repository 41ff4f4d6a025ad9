import type { Cluster, Fleet, Supercluster } from "../model/fleet.ts";
import type { Step } from "../model/step.ts";
import { newSuperclusterName } from "../rules/state.ts";
import { markLastLeaves } from "./dma-dependencies.ts";
import { type DmaStrategy, makeStep } from "./dma-steps.ts";
import type { DomainPlan } from "./rolling.ts";

/**
 * A supercluster's maintenance-window upgrade (D5): the whole supercluster goes out of service
 * together (every cluster busied out at once), the territories' primary and backup clusters are
 * recorded and taken off the supercluster (the record step: `unassigned`, no cluster keeps one, so
 * every cluster may leave, D4), every cluster leaves, all are upgraded in parallel, each joins the
 * first (D10), the recorded assignments are restored in the new supercluster, and all return to
 * service. A full outage: capacity 0 from the first busy-out.
 */
export function planMaintenanceWindow(
  fleet: Fleet,
  sc: Supercluster,
  clusters: Cluster[],
  target: string,
): DomainPlan {
  void fleet;
  const strategy: DmaStrategy = "maintenance-window";
  const founder = clusters[0]!;
  const newSc = newSuperclusterName(sc.name, target);
  const steps: Step[] = [];
  const busy = clusters.map((c) => makeStep(strategy, c, "busy-out", 0, []));
  steps.push(...busy);
  let t = busy.reduce((m, s) => Math.max(m, s.end), 0);
  const record = sc.territories.length > 0 ? recordTerritories(sc, founder, t, busy) : undefined;
  if (record) {
    steps.push(record);
    t = record.end;
  }
  const verifyEnd = new Map<string, number>();
  const tails: Step[] = [];
  for (const [k, c] of clusters.entries()) {
    const b = busy[k]!;
    const l = makeStep(
      strategy,
      c,
      "leave-supercluster",
      record ? t : b.end,
      record ? [b.id, record.id] : [b.id],
    );
    l.supercluster = sc.name;
    const i = makeStep(strategy, c, "install", l.end, [l.id]);
    i.release = target;
    const v = makeStep(strategy, c, "verify", i.end, [i.id]);
    if (c === founder) {
      v.founds = newSc;
      v.supercluster = newSc;
      v.rules = ["D8", "D5", "D10"];
    }
    verifyEnd.set(c.name, v.end);
    steps.push(l, i, v);
    tails.push(v);
  }
  const fv = verifyEnd.get(founder.name)!;
  const joined: Step[] = [tails[0]!];
  for (const v of tails.slice(1)) {
    const c = clusters.find((x) => x.name === v.cluster)!;
    const j = makeStep(strategy, c, "join-supercluster", Math.max(v.end, fv), [
      v.id,
      `${founder.name}/verify`,
    ]);
    j.joins = founder.name;
    j.supercluster = newSc;
    steps.push(j);
    joined.push(j);
  }
  const allJoined = joined.reduce((m, s) => Math.max(m, s.end), 0);
  let before = joined.map((s) => s.id);
  let at = allJoined;
  if (sc.territories.length > 0) {
    const r = makeStep(strategy, founder, "restore-territories", allJoined, before);
    r.territories = sc.territories.map((x) => ({
      name: x.name,
      primary: x.primary,
      ...(x.backup ? { backup: x.backup } : {}),
    }));
    r.supercluster = newSc;
    steps.push(r);
    before = [r.id];
    at = r.end;
  }
  for (const c of clusters) steps.push(makeStep(strategy, c, "return-to-service", at, before));
  markLastLeaves(steps, ["G4", "D9"]);
  steps.sort((a, b) => a.start - b.start);
  const ms = steps.reduce((m, s) => Math.max(m, s.end), 0);
  // D5 fixes the order of the phases, so the plan's critical path is its lower bound
  return { domain: sc.name, steps, ms, lowerBoundMs: ms };
}

/**
 * D5's "record every territory's primary and backup": sent once the whole supercluster is out of
 * service, so that no territory is ever unassigned while a cluster still serves.
 */
function recordTerritories(sc: Supercluster, founder: Cluster, at: number, busy: Step[]): Step {
  const record = makeStep(
    "maintenance-window",
    founder,
    "reassign-territories",
    at,
    busy.map((b) => b.id),
  );
  record.id = `${founder.name}/record-territories`;
  record.territories = [];
  record.unassigned = sc.territories.map((x) => x.name);
  record.supercluster = sc.name;
  return record;
}
