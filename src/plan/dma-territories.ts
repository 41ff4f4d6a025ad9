import { RollgateError } from "../model/errors.ts";
import type { Cluster, Supercluster } from "../model/fleet.ts";
import type { Step, TerritoryAssignment } from "../model/step.ts";
import { makeStep, type Sched } from "./dma-steps.ts";

/** Where a territory is served at one moment of the simulation. */
interface Holders {
  primary: string | undefined;
  backup: string | undefined;
}

/** A cluster's slot starting (`kind` 1: its reassignment, then its window) or its return (`kind` 0). */
interface SlotEvent {
  time: number;
  kind: 0 | 1;
  s: Sched;
}

/** The territory simulation of one schedule: its inputs, and what it has built so far. */
interface Simulation {
  strategy: "patch" | "incremental";
  sc: Supercluster;
  scheds: Sched[];
  ra: number;
  floor: number;
  newSc: string;
  by: Map<string, Sched>;
  /** where each territory is now (its design, or where an abort mid-upgrade left it, D4/D6) */
  cur: Map<string, Holders>;
  restored: Set<string>;
  extra: Step[];
  /**
   * restores with the clusters that served their territories before (the effect of a restore
   * lands at any moment of the step, so until it ends those clusters may still serve them)
   */
  restores: Array<{ step: Step; before: Set<string> }>;
  /**
   * the last reassignment of each territory: a restore waits for it (no two steps write one
   * territory at once, whatever order their effects land in)
   */
  lastWrite: Map<string, Step>;
}

/**
 * Builds the reassign-territories steps (just before each cluster's busy-out) and the
 * restore-territories steps (after the return of the last of a territory's original clusters),
 * simulating the assignment in time order. Adds the reassign steps to the clusters' chains.
 */
export function territorySteps(
  strategy: "patch" | "incremental",
  sc: Supercluster,
  scheds: Sched[],
  ra: number,
  floor: number,
  newSc: string,
  failed: { cluster?: string } = {},
): Step[] | undefined {
  // no territory to move; or a patch under floor 0, where an outage is allowed and nobody leaves
  if (sc.territories.length === 0 || (strategy === "patch" && floor <= 0)) return [];
  const sim: Simulation = {
    strategy,
    sc,
    scheds,
    ra,
    floor,
    newSc,
    by: new Map(scheds.map((s) => [s.cluster.name, s])),
    cur: new Map(
      sc.territories.map((t) => [
        t.name,
        { primary: (t.assigned ?? t).primary as string | undefined, backup: (t.assigned ?? t).backup },
      ]),
    ),
    restored: new Set<string>(),
    extra: [],
    restores: [],
    lastWrite: new Map<string, Step>(),
  };
  const evs: SlotEvent[] = [];
  for (const s of scheds) {
    evs.push({ time: s.slotStart, kind: 1, s });
    evs.push({ time: s.end, kind: 0, s });
  }
  evs.sort((a, b) => a.time - b.time || a.kind - b.kind);
  for (const ev of evs) {
    if (ev.kind === 0) {
      restoreOnReturn(sim, ev);
      continue;
    }
    const moves = reassignmentsBeforeOut(sim, ev, failed);
    if (moves === undefined) return undefined;
    sendReassignments(sim, ev, moves.changed, moves.unassigned);
  }
  return sim.extra;
}

/**
 * A cluster can take a territory from a reassignment running [t, t+ra] if it is back in service
 * when the reassignment starts (its effect may land at any moment of the step), or if its own
 * slot starts after this reassignment ends.
 */
function takerGroup(sim: Simulation, d: Sched, t: number): "old" | "new" | undefined {
  if (d.end <= t) return sim.strategy === "incremental" ? "new" : "old";
  if (d.slotStart >= t + sim.ra) return "old";
  return undefined;
}

/** Restores what can be restored now that the event's cluster is back. */
function restoreOnReturn(sim: Simulation, ev: SlotEvent): void {
  const { sc, by, cur, restored, lastWrite } = sim;
  const c = ev.s.cluster.name;
  const changed: TerritoryAssignment[] = [];
  const before = new Set<string>();
  for (const t of sc.territories) {
    if (restored.has(t.name)) continue;
    const originals = [t.primary, ...(t.backup ? [t.backup] : [])];
    if (!originals.includes(c) || !originals.every((o) => by.get(o)!.end <= ev.time)) continue;
    restored.add(t.name);
    const now = cur.get(t.name)!;
    if (now.primary === t.primary && now.backup === t.backup) continue;
    for (const d of [now.primary, now.backup]) if (d !== undefined) before.add(d);
    cur.set(t.name, { primary: t.primary, backup: t.backup });
    changed.push({ name: t.name, primary: t.primary, ...(t.backup ? { backup: t.backup } : {}) });
  }
  if (changed.length === 0) return;
  let at = ev.time;
  const after = [`${c}/return-to-service`];
  for (const a of changed) {
    const w = lastWrite.get(a.name);
    if (w === undefined || w.end <= ev.time) continue;
    at = Math.max(at, w.end);
    if (!after.includes(w.id)) after.push(w.id);
  }
  const st = makeStep(sim.strategy, ev.s.cluster, "restore-territories", at, after);
  st.territories = changed;
  st.supercluster = sim.strategy === "incremental" ? sim.newSc : sc.name;
  sim.extra.push(st);
  sim.restores.push({ step: st, before });
}

/**
 * The territories to move off the event's cluster before it goes out, and where to (updating
 * `cur`); undefined, with `failed.cluster` set, when its slot leaves no room for that.
 */
function reassignmentsBeforeOut(
  sim: Simulation,
  ev: SlotEvent,
  failed: { cluster?: string },
): { changed: TerritoryAssignment[]; unassigned: string[] } | undefined {
  const { strategy, sc, by, cur } = sim;
  const c = ev.s.cluster.name;
  // a restore still landing when c goes out may leave a territory on c alone: more room needed
  for (const r of sim.restores)
    if (r.step.end > ev.s.start && r.before.has(c)) {
      failed.cluster = c;
      return undefined;
    }
  const changed: TerritoryAssignment[] = [];
  const unassigned: string[] = [];
  const servingAt = (d: string | undefined) => {
    if (d === undefined || d === c) return false;
    const o = by.get(d)!;
    // serves for the whole of c's window: out before c starts and back, or out after c is back
    return o.end <= ev.s.start || o.start >= ev.s.end;
  };
  for (const t of sc.territories) {
    const now = cur.get(t.name)!;
    if (now.primary !== c && now.backup !== c) continue;
    const other = now.primary === c ? now.backup : now.primary;
    if (strategy === "patch" && servingAt(other)) continue;
    if (ev.s.start - ev.s.slotStart < sim.ra) {
      failed.cluster = c; // no room for a reassignment: retry with slots
      return undefined;
    }
    const { primary, backup } = newHolders(sim, ev, other);
    if (primary === undefined) {
      if (sim.floor > 0)
        throw new RollgateError(
          "ROLLGATE_E_PLAN_FLOOR_UNREACHABLE",
          `supercluster ${sc.name}: no cluster is left to serve territory ${t.name} while ${c} is out (D4)`,
        );
      cur.set(t.name, { primary: undefined, backup: undefined });
      unassigned.push(t.name);
      continue;
    }
    cur.set(t.name, { primary, backup });
    changed.push({ name: t.name, primary, ...(backup ? { backup } : {}) });
  }
  return { changed, unassigned };
}

/**
 * Who serves a territory while the event's cluster is out: the territory's other cluster, if it
 * can take it, with a backup of its group; else the first two of the larger group that can.
 */
function newHolders(sim: Simulation, ev: SlotEvent, other: string | undefined): Holders {
  const { scheds, by } = sim;
  const c = ev.s.cluster.name;
  const valid = (d: string) => d !== c && takerGroup(sim, by.get(d)!, ev.time) !== undefined;
  if (other !== undefined && valid(other)) {
    const g = takerGroup(sim, by.get(other)!, ev.time);
    const backup = scheds
      .map((s) => s.cluster.name)
      .find((d) => d !== other && valid(d) && takerGroup(sim, by.get(d)!, ev.time) === g);
    return { primary: other, backup };
  }
  const cands = scheds.map((s) => s.cluster.name).filter(valid);
  const olds = cands.filter((d) => takerGroup(sim, by.get(d)!, ev.time) === "old");
  const news = cands.filter((d) => takerGroup(sim, by.get(d)!, ev.time) === "new");
  const pick = olds.length >= news.length ? olds : news;
  return { primary: pick[0], backup: pick[1] };
}

/**
 * The reassign-territories steps for one cluster going out, added to its chain ahead of its
 * busy-out. A reassignment acts in one supercluster: the one of the cluster it is sent to, whose
 * members take the territories. Territories handed to clusters already back in the new
 * supercluster (incremental) are assigned there, through the first of them.
 */
function sendReassignments(
  sim: Simulation,
  ev: SlotEvent,
  changed: TerritoryAssignment[],
  unassigned: string[],
): void {
  if (changed.length === 0 && unassigned.length === 0) return;
  const { strategy, by, lastWrite } = sim;
  const c = ev.s.cluster.name;
  const toNew = changed.filter((a) => strategy === "incremental" && by.get(a.primary)!.end <= ev.time);
  const toOld = changed.filter((a) => !toNew.includes(a));
  const busy = ev.s.steps[0]!;
  const parts: Array<{ actor: Cluster; list: TerritoryAssignment[]; unassigned: string[]; sc: string }> = [];
  if (toOld.length > 0 || unassigned.length > 0)
    parts.push({ actor: ev.s.cluster, list: toOld, unassigned, sc: sim.sc.name });
  if (toNew.length > 0)
    parts.push({ actor: by.get(toNew[0]!.primary)!.cluster, list: toNew, unassigned: [], sc: sim.newSc });
  for (const part of parts) {
    const st = makeStep(strategy, part.actor, "reassign-territories", ev.time, []);
    if (part.actor !== ev.s.cluster) st.id = `${part.actor.name}/reassign-territories-for-${c}`;
    st.territories = part.list;
    for (const a of part.list) lastWrite.set(a.name, st);
    for (const name of part.unassigned) lastWrite.set(name, st);
    if (part.unassigned.length > 0) st.unassigned = part.unassigned;
    st.supercluster = part.sc;
    // the cluster's busy-out waits for its reassignment (D4)
    busy.after = [...busy.after, st.id];
    ev.s.steps.unshift(st);
  }
}
