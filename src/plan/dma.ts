import { RollgateError } from "../model/errors.ts";
import type { Cluster, Fleet, Supercluster } from "../model/fleet.ts";
import { newSuperclusterName } from "../rules/state.ts";
import type { DomainPlan } from "./rolling.ts";
import { fmtPct } from "./rolling.ts";
import { estimateMs, msToSeconds } from "./time.ts";
import { verifyPlan } from "./verify.ts";
import { DMA_ACTIONS, type Step, type StepAction, type TerritoryAssignment } from "../model/step.ts";

export type DmaStrategy = "patch" | "incremental" | "maintenance-window";

const EPS = 1e-9;

/** A step's duration in integer ms (plan/time.ts); a DMA install lasts install + settle (D7). */
function dur(c: Cluster, action: StepAction): number {
  return action === "install" ? estimateMs(c, "install") + estimateMs(c, "settle") : estimateMs(c, action);
}

interface Sched {
  cluster: Cluster;
  /** out-of-service window: busy-out start to return-to-service end */
  start: number;
  /** start of the cluster's slot: its reassignment, if any, then the window */
  slotStart: number;
  end: number;
  steps: Step[];
}

const RULES: Record<DmaStrategy, Partial<Record<StepAction, string[]>>> = {
  patch: {
    "reassign-territories": ["D3", "D4", "G3"],
    "busy-out": ["D3", "G3"],
    install: ["D3", "D7"],
    verify: ["D8"],
    "return-to-service": ["D8", "G3"],
    "restore-territories": ["D3", "D4"],
  },
  incremental: {
    "reassign-territories": ["D4", "D6"],
    "busy-out": ["D4", "G3"],
    "leave-supercluster": ["D4", "D6"],
    install: ["D2", "D4", "D7"],
    verify: ["D8"],
    "join-supercluster": ["D10", "D2", "D6"],
    "return-to-service": ["D6", "D8", "G3"],
    "restore-territories": ["D6", "D4"],
  },
  "maintenance-window": {
    "reassign-territories": ["D5"],
    "busy-out": ["D5"],
    "leave-supercluster": ["D4", "D5"],
    install: ["D5", "D7"],
    verify: ["D8"],
    "join-supercluster": ["D10", "D5"],
    "restore-territories": ["D5"],
    "return-to-service": ["D5"],
  },
};

function mk(
  strategy: DmaStrategy,
  c: Cluster,
  action: StepAction,
  start: number,
  after: string[],
  suffix = "",
): Step {
  return {
    id: `${c.name}/${action}${suffix}`,
    action,
    cluster: c.name,
    after,
    start,
    end: start + dur(c, action),
    rules: RULES[strategy][action] ?? [],
    pointOfNoReturn: false,
  };
}

/**
 * One cluster's out-of-service chain starting at `s`: busy-out … return-to-service (D3/D7 for a
 * patch; D4, D6, D10 for an incremental upgrade, where every cluster but the founder joins the
 * founder once the founder is verified).
 */
function clusterChain(
  strategy: "patch" | "incremental",
  c: Cluster,
  s: number,
  target: string,
  founder: { name: string; verifyEnd: number } | undefined,
  newSc: string,
): Sched {
  const steps: Step[] = [];
  let t = s;
  let prev: string[] = [];
  const push = (action: StepAction, at = t): Step => {
    const st = mk(strategy, c, action, at, prev);
    steps.push(st);
    prev = [st.id];
    t = st.end;
    return st;
  };
  push("busy-out");
  if (strategy === "incremental") push("leave-supercluster");
  const inst = push("install");
  inst.release = target;
  const ver = push("verify");
  if (strategy === "incremental") {
    if (!founder || founder.name === c.name) {
      ver.founds = newSc;
      ver.supercluster = newSc;
      ver.rules = ["D8", "D6", "D10"];
    } else {
      const j = push("join-supercluster", Math.max(t, founder.verifyEnd));
      j.joins = founder.name;
      j.supercluster = newSc;
      j.after = [...j.after, `${founder.name}/verify`];
    }
  }
  push("return-to-service");
  return { cluster: c, start: s, slotStart: s, end: t, steps };
}

/** Subsets of up to five clusters, as bit masks. */
function* masks(n: number): Generator<number> {
  for (let m = 1; m < 1 << n; m++) yield m;
}

function popcount(m: number): number {
  let k = 0;
  for (let x = m; x; x &= x - 1) k++;
  return k;
}

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

/** D4: every territory stays served, so a cluster leaves only once its territories are reassigned. */
function noTerritoryRoom(sc: Supercluster, floor: number): RollgateError {
  return new RollgateError(
    "ROLLGATE_E_PLAN_NO_TERRITORY_ROOM",
    `supercluster ${sc.name}: no room for the territory reassignments: no schedule of its clusters leaves room to reassign a cluster's territories before it goes out, so that every territory stays served (D4), while keeping the capacity floor ${fmtPct(floor)} (G3)`,
    { details: { supercluster: sc.name, floor } },
  );
}

function permutations<T>(xs: T[]): T[][] {
  if (xs.length <= 1) return [xs];
  const out: T[][] = [];
  xs.forEach((x, i) => {
    for (const rest of permutations([...xs.slice(0, i), ...xs.slice(i + 1)])) out.push([x, ...rest]);
  });
  return out;
}

function planInOrder(
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
  const hasTerritories = sc.territories.length > 0;
  const ra = Math.max(...clusters.map((c) => dur(c, "reassign-territories")));
  const founder = strategy === "incremental" ? clusters[0]! : undefined;
  const newSc = newSuperclusterName(sc.name, target);
  for (const c of clusters)
    if (c.capacity > allowedOut)
      throw new RollgateError(
        "ROLLGATE_E_PLAN_FLOOR_UNREACHABLE",
        `supercluster ${sc.name}: taking ${c.name} out of service leaves ${fmtPct((total - c.capacity) / total)} of its capacity, below the floor ${fmtPct(floor)} (G3)`,
        { details: { supercluster: sc.name, floor } },
      );
  const canAdd = (out: Sched[], c: Cluster) =>
    out.reduce((n, o) => n + o.cluster.capacity, 0) + c.capacity <= allowedOut &&
    // an incremental upgrade always keeps one cluster serving (D6: "some capacity remains")
    (out.length + 1 < clusters.length || (floor <= 0 && strategy === "patch"));

  // List scheduling of the clusters' slots, founder first: a slot is the reassignment of the
  // cluster's territories (`lead` ms, when needed) followed by its out-of-service window.
  // `modes` (patch, adaptive): per cluster, "early" sends its reassignment up to `ra` ahead of the
  // moment it may go out (while the previous windows are still open), "delay" gives its slot the
  // uniform lead; a cluster with no mode has no room for a reassignment.
  const schedule = (lead: number, modes?: Map<string, "early" | "delay">): Sched[] => {
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
  };
  // a patch reassigns territories only when a territory would lose every serving cluster; try
  // without reassignment slots first
  let scheds: Sched[];
  let extra: Step[] | undefined;
  if (adaptive && strategy === "patch" && hasTerritories) {
    // room for a reassignment only for the clusters that need one, sent ahead of their slot
    // where it can be; a cluster that still lacks room gets the uniform lead
    const rs = Math.max(...clusters.map((c) => dur(c, "restore-territories")));
    const modes = new Map<string, "early" | "delay">();
    for (let i = 0; i <= 2 * clusters.length; i++) {
      const failed: { cluster?: string } = {};
      scheds = schedule(Math.max(ra, rs), modes);
      extra = territorySteps(strategy, sc, scheds, ra, floor, newSc, failed);
      if (extra !== undefined || failed.cluster === undefined) break;
      const m = modes.get(failed.cluster);
      if (m === "delay") break;
      modes.set(failed.cluster, m === "early" ? "delay" : "early");
    }
    if (extra === undefined) throw noTerritoryRoom(sc, floor);
    scheds = scheds!;
  } else {
    scheds = schedule(strategy === "patch" || !hasTerritories ? 0 : ra);
    extra = territorySteps(strategy, sc, scheds, ra, floor, newSc);
  }
  if (extra === undefined) {
    // room before every window for a reassignment, and for a restore still landing on the
    // territories of the cluster about to go out (a slot starts when another cluster returns,
    // which is when that cluster's restores start)
    const rs = Math.max(...clusters.map((c) => dur(c, "restore-territories")));
    scheds = schedule(Math.max(ra, rs));
    extra = territorySteps(strategy, sc, scheds, ra, floor, newSc);
    if (extra === undefined) throw noTerritoryRoom(sc, floor);
  }
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
 * The engine starts a step once every step of its `after` is done and the rule gate agrees, not at
 * its planned time. So every order between clusters that the schedule relies on is a dependency:
 * a cluster's slot (its reassignment, its busy-out) and every restore wait for each return,
 * restore and reassignment of the supercluster that ends by their planned start (capacity freed,
 * territories moved, original clusters back).
 */
function orderAcrossClusters(steps: Step[]): void {
  const marks = steps.filter(
    (s) =>
      s.action === "return-to-service" ||
      s.action === "restore-territories" ||
      s.action === "reassign-territories",
  );
  for (const x of steps) {
    if (x.action !== "reassign-territories" && x.action !== "restore-territories" && x.action !== "busy-out")
      continue;
    // plain loops: this runs for every slot of every supercluster of a large fleet
    let after: string[] | undefined;
    for (const y of marks) {
      if (y === x || y.end > x.start || x.after.includes(y.id)) continue;
      after ??= x.after.slice();
      after.push(y.id);
    }
    if (after !== undefined) x.after = after;
  }
}

/**
 * G4: marks every leave that may be the last one, i.e. that no other leave depends on (whatever
 * the steps' actual durations, the engine may run it last).
 */
function markLastLeaves(steps: Step[], extra: string[]): void {
  const leaves = steps.filter((s) => s.action === "leave-supercluster");
  const before = new Set<string>(); // leaves that some other leave waits for, directly or not
  if (leaves.length <= 30) {
    // the leaves each step waits for, as bits; a dependency starts before its dependent does
    const bit = new Map(leaves.map((l, i) => [l.id, 1 << i]));
    const waits = new Map<string, number>();
    for (const s of [...steps].sort((a, b) => a.start - b.start)) {
      let m = 0;
      for (const a of s.after) m |= (waits.get(a) ?? 0) | (bit.get(a) ?? 0);
      waits.set(s.id, m);
    }
    let all = 0;
    for (const l of leaves) all |= waits.get(l.id)!;
    leaves.forEach((l, i) => {
      if (all & (1 << i)) before.add(l.id);
    });
  }
  for (const s of leaves)
    if (!before.has(s.id)) {
      s.pointOfNoReturn = true;
      s.rules = [...s.rules, ...extra.filter((r) => !s.rules.includes(r))];
    }
}

/**
 * Builds the reassign-territories steps (just before each cluster's busy-out) and the
 * restore-territories steps (after the return of the last of a territory's original clusters),
 * simulating the assignment in time order. Adds the reassign steps to the clusters' chains.
 */
function territorySteps(
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
  const by = new Map(scheds.map((s) => [s.cluster.name, s]));
  // where each territory is now (its design, or where an abort mid-upgrade left it, D4/D6)
  const cur = new Map(
    sc.territories.map((t) => [
      t.name,
      { primary: (t.assigned ?? t).primary as string | undefined, backup: (t.assigned ?? t).backup },
    ]),
  );
  const restored = new Set<string>();
  const extra: Step[] = [];
  // restores with the clusters that served their territories before (the effect of a restore
  // lands at any moment of the step, so until it ends those clusters may still serve them)
  const restores: Array<{ step: Step; before: Set<string> }> = [];
  // the last reassignment of each territory: a restore waits for it (no two steps write one
  // territory at once, whatever order their effects land in)
  const lastWrite = new Map<string, Step>();
  type Ev = { time: number; kind: 0 | 1; s: Sched };
  const evs: Ev[] = [];
  for (const s of scheds) {
    evs.push({ time: s.slotStart, kind: 1, s });
    evs.push({ time: s.end, kind: 0, s });
  }
  evs.sort((a, b) => a.time - b.time || a.kind - b.kind);
  // a cluster can take a territory from a reassignment running [t, t+ra] if it is back in service
  // when the reassignment starts (its effect may land at any moment of the step), or if its own
  // slot starts after this reassignment ends
  const group = (d: Sched, t: number): "old" | "new" | undefined => {
    if (d.end <= t) return strategy === "incremental" ? "new" : "old";
    if (d.slotStart >= t + ra) return "old";
    return undefined;
  };
  for (const ev of evs) {
    const c = ev.s.cluster.name;
    if (ev.kind === 0) {
      // restore what can be restored now that c is back
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
      if (changed.length > 0) {
        let at = ev.time;
        const after = [`${c}/return-to-service`];
        for (const a of changed) {
          const w = lastWrite.get(a.name);
          if (w === undefined || w.end <= ev.time) continue;
          at = Math.max(at, w.end);
          if (!after.includes(w.id)) after.push(w.id);
        }
        const st = mk(strategy, ev.s.cluster, "restore-territories", at, after);
        st.territories = changed;
        st.supercluster = strategy === "incremental" ? newSc : sc.name;
        extra.push(st);
        restores.push({ step: st, before });
      }
      continue;
    }
    // a restore still landing when c goes out may leave a territory on c alone: more room needed
    for (const r of restores)
      if (r.step.end > ev.s.start && r.before.has(c)) {
        failed.cluster = c;
        return undefined;
      }
    const changed: TerritoryAssignment[] = [];
    const unassigned: string[] = [];
    const valid = (d: string) => d !== c && group(by.get(d)!, ev.time) !== undefined;
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
      if (ev.s.start - ev.s.slotStart < ra) {
        failed.cluster = c; // no room for a reassignment: retry with slots
        return undefined;
      }
      let primary: string | undefined;
      let backup: string | undefined;
      if (other !== undefined && valid(other)) {
        primary = other;
        const g = group(by.get(other)!, ev.time);
        backup = scheds
          .map((s) => s.cluster.name)
          .find((d) => d !== other && valid(d) && group(by.get(d)!, ev.time) === g);
      } else {
        const cands = scheds.map((s) => s.cluster.name).filter(valid);
        const olds = cands.filter((d) => group(by.get(d)!, ev.time) === "old");
        const news = cands.filter((d) => group(by.get(d)!, ev.time) === "new");
        const pick = olds.length >= news.length ? olds : news;
        primary = pick[0];
        backup = pick[1];
      }
      if (primary === undefined) {
        if (floor > 0)
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
    if (changed.length === 0 && unassigned.length === 0) continue;
    // A reassignment acts in one supercluster: the one of the cluster it is sent to, whose members
    // take the territories. Territories handed to clusters already back in the new supercluster
    // (incremental) are assigned there, through the first of them.
    const toNew = changed.filter((a) => strategy === "incremental" && by.get(a.primary)!.end <= ev.time);
    const toOld = changed.filter((a) => !toNew.includes(a));
    const busy = ev.s.steps[0]!;
    const parts: Array<{ actor: Cluster; list: TerritoryAssignment[]; unassigned: string[]; sc: string }> =
      [];
    if (toOld.length > 0 || unassigned.length > 0)
      parts.push({ actor: ev.s.cluster, list: toOld, unassigned, sc: sc.name });
    if (toNew.length > 0)
      parts.push({ actor: by.get(toNew[0]!.primary)!.cluster, list: toNew, unassigned: [], sc: newSc });
    for (const part of parts) {
      const st = mk(strategy, part.actor, "reassign-territories", ev.time, []);
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
  return extra;
}

/**
 * Lower bound of a supercluster's patch or incremental upgrade (docs/planning.md): the longest
 * cluster chain, and for every subset S of clusters, when at most m(S) of them can be out at once
 * (capacity floor, and one cluster left serving), their out-of-service windows need at least
 * max(Σw/m, ⌈|S|/m⌉·min w), plus the reassignment before the first and the restore after the last.
 */
const BOUND_ACTIONS: StepAction[] = [
  "busy-out",
  "leave-supercluster",
  "install",
  "verify",
  "return-to-service",
  "join-supercluster",
  "reassign-territories",
  "restore-territories",
];
// superclusters of one shape (capacities, estimates, territory owners) share their bound
const BOUNDS = new Map<string, number>();

function superclusterLowerBound(
  sc: Supercluster,
  clusters: Cluster[],
  strategy: "patch" | "incremental",
  allowedOut: number,
  floor: number,
  exact = false,
): number {
  const owns = (c: Cluster) => sc.territories.some((t) => t.primary === c.name || t.backup === c.name);
  let key = `${strategy} ${allowedOut} ${floor} ${exact}`;
  for (const c of clusters)
    key += `|${c.capacity} ${owns(c)} ${BOUND_ACTIONS.map((a) => dur(c, a)).join(" ")}`;
  let lb = BOUNDS.get(key);
  if (lb === undefined) {
    if (BOUNDS.size > 10_000) BOUNDS.clear();
    lb = computeLowerBound(clusters, owns, strategy, allowedOut, floor, exact);
    BOUNDS.set(key, lb);
  }
  return lb;
}

function computeLowerBound(
  clusters: Cluster[],
  owns: (c: Cluster) => boolean,
  strategy: "patch" | "incremental",
  allowedOut: number,
  floor: number,
  exact: boolean,
): number {
  const n = clusters.length;
  const base = (c: Cluster) =>
    dur(c, "busy-out") +
    (strategy === "incremental" ? dur(c, "leave-supercluster") : 0) +
    dur(c, "install") +
    dur(c, "verify") +
    dur(c, "return-to-service");
  const join = (c: Cluster) => (strategy === "incremental" ? dur(c, "join-supercluster") : 0);
  // a reassignment or a restore may be sent to any cluster of the supercluster: the shortest
  const raMin = Math.min(...clusters.map((c) => dur(c, "reassign-territories")));
  const rsMin = Math.min(...clusters.map((c) => dur(c, "restore-territories")));
  const pre = (c: Cluster) => (strategy === "incremental" && owns(c) ? raMin : 0);
  const post = (c: Cluster) => (strategy === "incremental" && owns(c) ? rsMin : 0);
  let lb = 0;
  for (const c of clusters) lb = Math.max(lb, pre(c) + base(c) + post(c));
  const fits = (m: number) => {
    let cap = 0;
    for (let i = 0; i < n; i++) if (m & (1 << i)) cap += clusters[i]!.capacity;
    return cap <= allowedOut && (popcount(m) < n || (floor <= 0 && strategy === "patch"));
  };
  const feasible = [...masks(n)].filter(fits);
  const windows = clusters.map((c) => base(c) + join(c));
  for (const S of masks(n)) {
    let m = 0;
    for (const q of feasible) if ((q & S) === q) m = Math.max(m, popcount(q));
    if (m === 0) continue;
    let sum = 0;
    let minW = Number.POSITIVE_INFINITY;
    let maxJoin = 0;
    let minPre = Number.POSITIVE_INFINITY;
    let minPost = Number.POSITIVE_INFINITY;
    for (let i = 0; i < n; i++) {
      if (!(S & (1 << i))) continue;
      const c = clusters[i]!;
      sum += base(c) + join(c);
      maxJoin = Math.max(maxJoin, join(c));
      minW = Math.min(minW, base(c));
      minPre = Math.min(minPre, pre(c));
      minPost = Math.min(minPost, post(c));
    }
    // at most m at once means the windows fit on m "lanes" (an interval graph with cliques of at
    // most m is m-colourable), so some lane carries ⌈k/m⌉ windows: at least the ⌈k/m⌉ shortest;
    // one of them may be the founder's, which has no join
    const k = popcount(S);
    const q = Math.ceil(k / m);
    const lanes = windows
      .filter((_, i) => S & (1 << i))
      .sort((a, b) => a - b)
      .slice(0, q)
      .reduce((a, b) => a + b, 0);
    const span = Math.max((sum - maxJoin) / m, q * minW, lanes - maxJoin);
    lb = Math.max(lb, minPre + span + minPost);
  }
  if (exact) {
    // The windows' exact optimum: whoever founds, the windows placed so that the clusters out
    // together always fit (floor, one cluster serving), with the reassignment before the first
    // and the restore after the last.
    const all = (1 << n) - 1;
    let minPre = Number.POSITIVE_INFINITY;
    let minPost = Number.POSITIVE_INFINITY;
    for (const c of clusters) {
      minPre = Math.min(minPre, pre(c));
      minPost = Math.min(minPost, post(c));
    }
    const ok = new Uint8Array(all + 1);
    for (const q of feasible) ok[q] = 1;
    ok[0] = 1;
    let best = Number.POSITIVE_INFINITY;
    const founders = strategy === "incremental" ? clusters.map((_, i) => i) : [-1];
    for (const f of founders) {
      const w = clusters.map((c, i) => base(c) + (i === f ? 0 : join(c)));
      best = Math.min(best, windowsOptimum(w, ok));
    }
    lb = Math.max(lb, minPre + best + minPost);
  }
  // every plan time is a whole ms, so the next whole ms is still a lower bound
  return Math.ceil(lb);
}

/**
 * The shortest span in which windows of lengths `w` can be placed so that the set of windows open
 * at any instant is allowed (`ok[mask]`, closed under subsets). Serial schedule generation (each
 * window in turn at the earliest instant it fits) over every order of the windows: every active
 * schedule, among them an optimal one, is generated by some order (Kolisch 1996), and with at most
 * five clusters (D1) there are at most 120 orders.
 */
function windowsOptimum(w: number[], ok: Uint8Array): number {
  const n = w.length;
  for (let j = 0; j < n; j++) if (!ok[1 << j]) return 0; // no plan anyway (the floor)
  let best = Number.POSITIVE_INFINITY;
  const start = new Array<number>(n);
  const placed: number[] = [];
  const fitsAt = (j: number, t: number): boolean => {
    // the set open at t, and at every start of a placed window inside [t, t + w[j])
    const points = [t];
    for (const i of placed) if (start[i]! > t && start[i]! < t + w[j]!) points.push(start[i]!);
    for (const p of points) {
      let m = 1 << j;
      for (const i of placed) if (start[i]! <= p && p < start[i]! + w[i]!) m |= 1 << i;
      if (!ok[m]) return false;
    }
    return true;
  };
  for (const order of permutations(w.map((_, i) => i))) {
    placed.length = 0;
    let span = 0;
    for (const j of order) {
      const candidates = [0, ...placed.map((i) => start[i]! + w[i]!)].sort((a, b) => a - b);
      const t = candidates.find((c) => fitsAt(j, c));
      if (t === undefined) return Number.POSITIVE_INFINITY; // a window that fits nowhere: never
      start[j] = t;
      placed.push(j);
      span = Math.max(span, t + w[j]!);
      if (span >= best) break;
    }
    best = Math.min(best, span);
  }
  return best;
}

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
  const S: DmaStrategy = "maintenance-window";
  const founder = clusters[0]!;
  const newSc = newSuperclusterName(sc.name, target);
  const steps: Step[] = [];
  const busy = clusters.map((c) => mk(S, c, "busy-out", 0, []));
  steps.push(...busy);
  let t = busy.reduce((m, s) => Math.max(m, s.end), 0);
  let record: Step | undefined;
  if (sc.territories.length > 0) {
    // D5's "record every territory's primary and backup": sent once the whole supercluster is
    // out of service, so that no territory is ever unassigned while a cluster still serves
    record = mk(
      S,
      founder,
      "reassign-territories",
      t,
      busy.map((b) => b.id),
    );
    record.id = `${founder.name}/record-territories`;
    record.territories = [];
    record.unassigned = sc.territories.map((x) => x.name);
    record.supercluster = sc.name;
    steps.push(record);
    t = record.end;
  }
  const verifyEnd = new Map<string, number>();
  const tails: Step[] = [];
  for (const [k, c] of clusters.entries()) {
    const b = busy[k]!;
    const l = mk(S, c, "leave-supercluster", record ? t : b.end, record ? [b.id, record.id] : [b.id]);
    l.supercluster = sc.name;
    const i = mk(S, c, "install", l.end, [l.id]);
    i.release = target;
    const v = mk(S, c, "verify", i.end, [i.id]);
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
    const j = mk(S, c, "join-supercluster", Math.max(v.end, fv), [v.id, `${founder.name}/verify`]);
    j.joins = founder.name;
    j.supercluster = newSc;
    steps.push(j);
    joined.push(j);
  }
  const allJoined = joined.reduce((m, s) => Math.max(m, s.end), 0);
  let before = joined.map((s) => s.id);
  let at = allJoined;
  if (sc.territories.length > 0) {
    const r = mk(S, founder, "restore-territories", allJoined, before);
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
  for (const c of clusters) steps.push(mk(S, c, "return-to-service", at, before));
  markLastLeaves(steps, ["G4", "D9"]);
  steps.sort((a, b) => a.start - b.start);
  const ms = steps.reduce((m, s) => Math.max(m, s.end), 0);
  // D5 fixes the order of the phases, so the plan's critical path is its lower bound
  return { domain: sc.name, steps, ms, lowerBoundMs: ms };
}

/** A DMA cluster outside any supercluster: the basic procedure (D7), a full outage of the cluster. */
export function planStandaloneDma(fleet: Fleet, c: Cluster, target: string): DomainPlan {
  if (fleet.defaults.capacityFloor > 0)
    throw new RollgateError(
      "ROLLGATE_E_PLAN_FLOOR_UNREACHABLE",
      `cluster ${c.name} is in no supercluster and its install runs on all its servers (D7): it is fully out of service, below the floor ${fmtPct(fleet.defaults.capacityFloor)} (G3). Set defaults.capacityFloor to 0 to allow it`,
      { details: { cluster: c.name } },
    );
  const steps: Step[] = [];
  let prev: string[] = [];
  let t = 0;
  for (const a of ["busy-out", "install", "verify", "return-to-service"] as const) {
    const st = mk("patch", c, a, t, prev);
    st.rules = a === "install" ? ["D7"] : a === "verify" ? ["D8"] : ["D7", "G3"];
    if (a === "install") st.release = target;
    steps.push(st);
    prev = [st.id];
    t = st.end;
  }
  return { domain: c.name, steps, ms: t, lowerBoundMs: t };
}

/**
 * A plan's steps without those already done (`drop`): a dropped step's dependencies stand in for
 * it, and the rest are re-timed to their dependencies. The steps of the chains of `fromHere` (the
 * clusters planned from where they stand) carry G5.
 */
function dropDone(steps: Step[], drop: ReadonlySet<string>, fromHere: ReadonlySet<string>): Step[] {
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
function planAbortedWindow(
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
