import {
  checkDomain,
  checkDomainInto,
  domainCapacity,
  preconditions,
  type RuleViolation,
} from "../rules/checks.ts";
import type { RuleContext } from "../rules/context.ts";
import { type FleetState, finishStep, PARTIAL_EFFECT, startStep } from "../rules/state.ts";
import type { Step } from "../model/step.ts";
import { msToSeconds } from "./time.ts";
import type { Report } from "./verify-report.ts";
import type { Violation } from "./types.ts";

const NO_UNDO = { undo: false } as const;

/** Replays one domain's steps in time order over `state`, checking every rule at every instant. */
export function replayDomain(
  state: FleetState,
  ctx: RuleContext,
  domain: string,
  steps: readonly Step[],
  startMs: Float64Array,
  endMs: Float64Array,
  idxs: number[],
  report: Report,
): { states: number; minCapacity: number; outages: Array<[number, number]> } {
  const { ev, key } = sortedEvents(idxs, startMs, endMs);
  const time = (e: number) => (key[e]! - (e & 1)) / 2;
  let states = 1;
  for (const v of checkDomain(state, ctx, domain)) report(v, undefined, "after", 0);
  let minCapacity = domainCapacity(state, ctx, domain);
  const outages: Array<[number, number]> = [];
  let downSince: number | undefined;
  const lineage = oldSupercluster(ctx, domain, steps, idxs);
  const oldScEmpty = () => (lineage ? (state.superclusters.get(lineage)?.members.size ?? 0) === 0 : false);
  const pnrGate = pointOfNoReturnGate(state, lineage, oldScEmpty, report);
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
      states += checkFailedBranches(state, ctx, domain, started, msToSeconds(t), oldScEmpty, pnrGate, report);
    }
  }
  if (downSince !== undefined) outages.push([downSince, time(ev[ev.length - 1]!)]);
  return { states, minCapacity, outages };
}

/**
 * The domain's steps' ends and starts in time order: event 2i is the end of step idxs[i], 2i+1 its
 * start, and `key` their instants (doubled, starts odd), so that at one instant ends come before
 * starts, then plan order. Instants in ms; violations report them in seconds.
 */
function sortedEvents(
  idxs: number[],
  startMs: Float64Array,
  endMs: Float64Array,
): { ev: Int32Array; key: Float64Array } {
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
  return { ev, key };
}

/**
 * The old supercluster of the domain: the one the file puts its clusters in that no step founds
 * (a supercluster part way through its upgrade also has the new one, sc-east@10.1.0, D6).
 */
function oldSupercluster(
  ctx: RuleContext,
  domain: string,
  steps: readonly Step[],
  idxs: number[],
): string | undefined {
  const founded = new Set<string | undefined>();
  for (const i of idxs) {
    const s = steps[i]!;
    if (s.founds !== undefined) founded.add(s.founds);
    if (s.action === "join-supercluster") founded.add(s.supercluster);
  }
  return (ctx.domainClusters.get(domain) ?? [])
    .map((n) => ctx.clusters.get(n)?.supercluster)
    .find((sc) => sc !== undefined && !founded.has(sc));
}

/**
 * G4: a step that takes the last old-release server out of a matrix (M4: `finalized` grew past
 * `fin`), or empties the old supercluster, must be marked as a point of no return.
 */
function pointOfNoReturnGate(
  state: FleetState,
  lineage: string | undefined,
  oldScEmpty: () => boolean,
  report: Report,
): (s: Step, fin: number, empty: boolean, branch: Violation["branch"], at: number) => void {
  return (s, fin, empty, branch, at) => {
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
}

type PointOfNoReturnGate = ReturnType<typeof pointOfNoReturnGate>;

/**
 * The failed branches of the steps just started whose effect may be in place although they report
 * failure: each built, checked ("failed") and undone. Returns the number of states checked.
 */
function checkFailedBranches(
  state: FleetState,
  ctx: RuleContext,
  domain: string,
  started: readonly Step[],
  at: number,
  oldScEmpty: () => boolean,
  pnrGate: PointOfNoReturnGate,
  report: Report,
): number {
  let states = 0;
  for (const s of started) {
    if (!PARTIAL_EFFECT.has(s.action)) continue;
    const fin = state.finalized.size;
    const empty = oldScEmpty();
    const undo = finishStep(state, s);
    states++;
    pnrGate(s, fin, empty, "failed", at);
    for (const v of checkDomain(state, ctx, domain)) report(v, s, "failed", at);
    undo();
  }
  return states;
}
