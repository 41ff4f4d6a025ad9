import type { RuleContext } from "../rules/context.ts";
import type { Step } from "../model/step.ts";
import { isWholeMs, secondsToMs } from "./time.ts";
import type { Report } from "./verify-report.ts";

/** A plan's steps as the replay reads them: times in integer ms, step indices grouped by domain. */
export interface PlanIndex {
  startMs: Float64Array;
  endMs: Float64Array;
  byDomain: Map<string, number[]>;
}

/**
 * The plan's structure (DAG): unique ids, dependencies that exist and end before the step starts;
 * times in integer ms, exact from here on. Steps are grouped by domain first: dependencies are
 * looked up in the domain's own (small) index, the whole plan's only for a dependency found
 * nowhere there.
 */
export function checkStructure(steps: readonly Step[], ctx: RuleContext, report: Report): PlanIndex {
  const { index, odd, orphans } = groupByDomain(steps, ctx, report);
  checkDependencies(steps, index, orphans, odd, report);
  return index;
}

/**
 * Each step's times in ms (whole, and an end after the start), and the steps grouped by domain;
 * `odd`: the steps whose ids are not "<its cluster>/…", `orphans`: those of no known cluster.
 */
function groupByDomain(
  steps: readonly Step[],
  ctx: RuleContext,
  report: Report,
): { index: PlanIndex; odd: number[]; orphans: number[] } {
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
  return { index: { startMs, endMs, byDomain }, odd, orphans };
}

/** Ids used once, and every dependency in the plan and over before its dependent starts. */
function checkDependencies(
  steps: readonly Step[],
  { startMs, endMs, byDomain }: PlanIndex,
  orphans: number[],
  odd: number[],
  report: Report,
): void {
  const n = steps.length;
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
}
