import type { Fleet } from "../model/fleet.ts";
import {
  checkDomain,
  checkDomainInto,
  domainCapacity,
  preconditions,
  type RuleViolation,
} from "../rules/checks.ts";
import { type RuleContext, ruleContext } from "../rules/context.ts";
import { type FleetState, finishStep, initialState, PARTIAL_EFFECT, startStep } from "../rules/state.ts";
import { isWholeMs, msToSeconds, secondsToMs } from "./time.ts";
import type { Step } from "../model/step.ts";
import type { Verification, Violation } from "./types.ts";

/**
 * The verifier: replays a plan over the abstract fleet (rules/state.ts) in time order and checks
 * every rule at every instant (docs/planning.md, "The verifier").
 *
 * - Times are read as integer milliseconds (plan/time.ts): a step's start and end must be whole
 *   milliseconds and its end after its start; every comparison is then exact.
 * - Domains (a supercluster, else a cluster) share no rule, so each is replayed on its own.
 * - At each instant, the steps that end are finished, and the state is checked ("after"); then
 *   the steps that start are checked against their preconditions (order, procedure, join gates)
 *   and started, and the state is checked again ("during").
 * - Failed branches: a step that fails leaves the fleet in its "during" state (started, not done),
 *   which the instant's check covers, and the engine halts there. For steps whose effect may be in
 *   place although they report failure (start, leave, join, reassign, restore), that state is
 *   built too, checked ("failed") and undone.
 * - G4: a step whose start, end or failure passes a point of no return (M4: the matrix has no
 *   old-release server left; the old supercluster has no member left) must be marked.
 * - At the end, every upgraded server and cluster is on its target, in service, and every
 *   territory has its original assignment again.
 */
export interface VerifyResult extends Verification {
  /** Lowest fraction of capacity in service in any domain at any instant. */
  minCapacity: number;
  /** Seconds during which at least one domain had nothing in service. */
  outageSeconds: number;
}

const MAX_VIOLATIONS = 50;
const NO_UNDO = { undo: false } as const;

export function verifyPlan(
  fleet: Fleet,
  steps: readonly Step[],
  targets: ReadonlyMap<string, string>,
  options: { capacityFloor?: number } = {},
): VerifyResult {
  const ctx = ruleContext(fleet, targets);
  if (options.capacityFloor !== undefined)
    (ctx as { capacityFloor: number }).capacityFloor = options.capacityFloor;
  const state = initialState(fleet, targets);
  const violations: Violation[] = [];
  const seen = new Set<string>();
  const report = (v: RuleViolation, step: Step | undefined, branch: Violation["branch"], at?: number) => {
    const key = `${v.rule}|${v.detail}`;
    if (seen.has(key) || violations.length >= MAX_VIOLATIONS) return;
    seen.add(key);
    violations.push({
      rule: v.rule,
      ...(step ? { step: step.id } : {}),
      ...(branch ? { branch } : {}),
      ...(at !== undefined ? { at } : {}),
      detail: v.detail,
    });
  };

  // structure: unique ids, dependencies that exist and end before the step starts; times in
  // integer ms, exact from here on. Steps are grouped by domain first: dependencies are looked up
  // in the domain's own (small) index, the whole plan's only for a dependency found nowhere there
  const n = steps.length;
  const startMs = new Float64Array(n);
  const endMs = new Float64Array(n);
  const byDomain = new Map<string, number[]>();
  const odd: number[] = []; // ids not "<its cluster>/…": checked for uniqueness plan-wide
  const orphans: number[] = []; // steps of no known cluster (no domain to replay them in)
  let lastCluster: string | undefined;
  let lastList: number[] | undefined;
  for (let i = 0; i < n; i++) {
    const s = steps[i]!;
    startMs[i] = secondsToMs(s.start);
    endMs[i] = secondsToMs(s.end);
    if (!isWholeMs(s.start) || !isWholeMs(s.end))
      report(
        { rule: "DAG", detail: `${s.id} runs ${s.start}s–${s.end}s: times are whole milliseconds` },
        s,
        undefined,
      );
    else if (!(endMs[i]! > startMs[i]!))
      report(
        {
          rule: "DAG",
          detail: `${s.id} ${endMs[i]! < startMs[i]! ? "ends before it starts" : "takes no time"}`,
        },
        s,
        undefined,
      );
    if (!(s.id.startsWith(s.cluster) && s.id.charCodeAt(s.cluster.length) === 47)) odd.push(i);
    if (s.cluster === lastCluster) {
      lastList!.push(i);
      continue;
    }
    const domain = ctx.domainOf.get(s.cluster);
    if (domain === undefined) {
      report({ rule: "DAG", detail: `${s.id} names unknown cluster ${s.cluster}` }, s, undefined);
      if (odd[odd.length - 1] !== i) odd.push(i);
      orphans.push(i);
      lastCluster = undefined;
      continue;
    }
    let list = byDomain.get(domain);
    if (!list) {
      list = [];
      byDomain.set(domain, list);
    }
    list.push(i);
    lastCluster = s.cluster;
    lastList = list;
  }
  let global: Map<string, number> | undefined;
  const globalIndex = () => {
    if (!global) {
      global = new Map();
      for (let i = 0; i < n; i++) global.set(steps[i]!.id, i);
    }
    return global;
  };
  const local = new Map<string, number>();
  const dependencies = (idxs: readonly number[]) => {
    local.clear();
    for (const i of idxs) {
      const s = steps[i]!;
      if (local.has(s.id)) report({ rule: "DAG", detail: `step id ${s.id} is used twice` }, s, undefined);
      local.set(s.id, i);
    }
    for (const i of idxs) {
      const s = steps[i]!;
      for (const a of s.after) {
        const d = local.get(a) ?? globalIndex().get(a);
        if (d === undefined)
          report({ rule: "DAG", detail: `${s.id} waits for ${a}, which is not in the plan` }, s, undefined);
        else if (endMs[d]! > startMs[i]!)
          report(
            { rule: "DAG", detail: `${s.id} starts at ${s.start}s, before ${a} ends at ${steps[d]!.end}s` },
            s,
            undefined,
          );
      }
    }
  };
  for (const idxs of byDomain.values()) dependencies(idxs);
  dependencies(orphans);
  if (odd.length > 0) {
    // "<cluster>/…" ids of different domains differ (a cluster has one domain); an id that does
    // not start with its cluster's name may repeat one of another domain
    const count = new Map<string, number>();
    for (const s of steps) count.set(s.id, (count.get(s.id) ?? 0) + 1);
    for (const i of odd)
      if (count.get(steps[i]!.id)! > 1)
        report({ rule: "DAG", detail: `step id ${steps[i]!.id} is used twice` }, steps[i], undefined);
  }

  let statesChecked = 0;
  let minCapacity = 1;
  const outages: Array<[number, number]> = [];
  for (const [domain, idxs] of byDomain) {
    const r = replayDomain(state, ctx, domain, steps, startMs, endMs, idxs, report);
    statesChecked += r.states;
    minCapacity = Math.min(minCapacity, r.minCapacity);
    outages.push(...r.outages);
  }
  statesChecked += finalChecks(state, ctx, report);
  return {
    ok: violations.length === 0,
    statesChecked,
    violations,
    minCapacity,
    outageSeconds: msToSeconds(unionLength(outages)),
  };
}

type Report = (v: RuleViolation, step: Step | undefined, branch: Violation["branch"], at?: number) => void;

function replayDomain(
  state: FleetState,
  ctx: RuleContext,
  domain: string,
  steps: readonly Step[],
  startMs: Float64Array,
  endMs: Float64Array,
  idxs: number[],
  report: Report,
): { states: number; minCapacity: number; outages: Array<[number, number]> } {
  // events: 2i = end of step idxs[i]'s step, 2i+1 = start; at one instant, ends before starts,
  // then plan order. Instants in ms; violations report them in seconds
  const n = idxs.length;
  const ev = new Int32Array(2 * n);
  const key = new Float64Array(2 * n);
  for (let i = 0; i < n; i++) {
    const k = idxs[i]!;
    ev[2 * i] = 2 * i;
    ev[2 * i + 1] = 2 * i + 1;
    key[2 * i] = endMs[k]! * 2;
    key[2 * i + 1] = startMs[k]! * 2 + 1;
  }
  ev.sort((a, b) => key[a]! - key[b]! || a - b);
  const time = (e: number) => (key[e]! - (e & 1)) / 2;
  let states = 1;
  for (const v of checkDomain(state, ctx, domain)) report(v, undefined, "after", 0);
  let minCapacity = domainCapacity(state, ctx, domain);
  const outages: Array<[number, number]> = [];
  let downSince: number | undefined;
  // the old supercluster of the domain: the one the file puts its clusters in that no step founds
  // (a supercluster part way through its upgrade also has the new one, sc-east@10.1.0, D6)
  const founded = new Set<string | undefined>();
  for (const i of idxs) {
    const s = steps[i]!;
    if (s.founds !== undefined) founded.add(s.founds);
    if (s.action === "join-supercluster") founded.add(s.supercluster);
  }
  const lineage = (ctx.domainClusters.get(domain) ?? [])
    .map((n) => ctx.clusters.get(n)?.supercluster)
    .find((sc) => sc !== undefined && !founded.has(sc));
  const oldScEmpty = () => (lineage ? (state.superclusters.get(lineage)?.members.size ?? 0) === 0 : false);
  const pnrGate = (s: Step, fin: number, empty: boolean, branch: Violation["branch"], at: number) => {
    if (s.pointOfNoReturn) return;
    if (state.finalized.size > fin)
      report(
        {
          rule: "G4",
          detail: `${s.id} takes the last old-release server of ${s.cluster} out of the matrix (M4) but is not marked as a point of no return`,
        },
        s,
        branch,
        at,
      );
    if (!empty && oldScEmpty())
      report(
        {
          rule: "G4",
          detail: `${s.id} empties supercluster ${lineage} but is not marked as a point of no return`,
        },
        s,
        branch,
        at,
      );
  };
  const found: RuleViolation[] = [];
  const started: Step[] = [];
  const observe = (t: number, cap: number) => {
    if (cap < minCapacity) minCapacity = cap;
    if (cap <= 0 && downSince === undefined) downSince = t;
    if (cap > 0 && downSince !== undefined) {
      outages.push([downSince, t]);
      downSince = undefined;
    }
  };
  let k = 0;
  while (k < ev.length) {
    const t = time(ev[k]!);
    // ends at t
    let lastEnd: Step | undefined;
    while (k < ev.length && !(ev[k]! & 1) && time(ev[k]!) === t) {
      const s = steps[idxs[ev[k]! >> 1]!]!;
      const fin = state.finalized.size;
      const empty = oldScEmpty();
      finishStep(state, s, NO_UNDO);
      pnrGate(s, fin, empty, "after", msToSeconds(t));
      lastEnd = s;
      k++;
    }
    if (lastEnd) {
      states++;
      found.length = 0;
      const cap = checkDomainInto(state, ctx, domain, found);
      for (const v of found) report(v, lastEnd, "after", msToSeconds(t));
      observe(t, cap);
    }
    // starts at t
    started.length = 0;
    while (k < ev.length && ev[k]! & 1 && time(ev[k]!) === t) {
      const s = steps[idxs[ev[k]! >> 1]!]!;
      const pre = preconditions(state, ctx, s);
      if (!pre.ok) report({ rule: pre.rule, detail: `${s.id}: ${pre.reason}` }, s, "during", msToSeconds(t));
      const fin = state.finalized.size;
      const empty = oldScEmpty();
      startStep(state, s, NO_UNDO);
      pnrGate(s, fin, empty, "during", msToSeconds(t));
      started.push(s);
      k++;
    }
    if (started.length > 0) {
      states++;
      found.length = 0;
      const cap = checkDomainInto(state, ctx, domain, found);
      for (const v of found) report(v, started[started.length - 1], "during", msToSeconds(t));
      observe(t, cap);
      // failed branches whose effect may be in place
      for (const s of started) {
        if (!PARTIAL_EFFECT.has(s.action)) continue;
        const fin = state.finalized.size;
        const empty = oldScEmpty();
        const undo = finishStep(state, s);
        states++;
        pnrGate(s, fin, empty, "failed", msToSeconds(t));
        for (const v of checkDomain(state, ctx, domain)) report(v, s, "failed", msToSeconds(t));
        undo();
      }
    }
  }
  if (downSince !== undefined) outages.push([downSince, time(ev[ev.length - 1]!)]);
  return { states, minCapacity, outages };
}

/** After the last step: everything upgraded is on its target, in service, territories restored. */
function finalChecks(state: FleetState, ctx: RuleContext, report: Report): number {
  let states = 0;
  for (const [name, target] of ctx.targets) {
    states++;
    const c = state.clusters.get(name)!;
    if (c.pack === "polycom-dma") {
      if (c.release !== target || c.installing !== undefined)
        report(
          { rule: "D6", detail: `${name} ends on ${c.release}, not on the target ${target}` },
          undefined,
          "after",
        );
      else if (!c.inService)
        report({ rule: "G3", detail: `${name} ends out of service` }, undefined, "after");
      else if (c.lineage !== undefined && c.supercluster === undefined)
        report({ rule: "D6", detail: `${name} ends in no supercluster` }, undefined, "after");
    } else {
      for (const r of state.serversOf.get(name) ?? []) {
        if (r.release !== target)
          report(
            { rule: "M6", detail: `${r.name} ends on ${r.release}, not on the target ${target}` },
            undefined,
            "after",
          );
        else if (!r.running || r.disabled)
          report({ rule: "G3", detail: `${r.name} ends out of service` }, undefined, "after");
      }
    }
  }
  for (const t of state.territories.values()) {
    if (!ctx.targets.has(t.original.primary)) continue;
    if (t.primary !== t.original.primary || t.backup !== t.original.backup)
      report(
        {
          rule: "D4",
          detail: `territory ${t.name} ends on ${t.primary ?? "nobody"}/${t.backup ?? "-"}, not restored to ${t.original.primary}/${t.original.backup ?? "-"}`,
        },
        undefined,
        "after",
      );
  }
  return states;
}

function unionLength(intervals: Array<[number, number]>): number {
  if (intervals.length === 0) return 0;
  const sorted = [...intervals].sort((a, b) => a[0] - b[0]);
  let total = 0;
  let [s, e] = sorted[0]!;
  for (const [a, b] of sorted.slice(1)) {
    if (a > e) {
      total += e - s;
      s = a;
      e = b;
    } else e = Math.max(e, b);
  }
  return total + e - s;
}
