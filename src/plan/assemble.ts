import { type Fleet, superclusterLineage } from "../model/fleet.ts";
import type { Step, Strategy } from "../model/step.ts";
import {
  planMaintenanceWindow,
  planPartDoneSupercluster,
  planStandaloneDma,
  planSuperclusterRolling,
} from "./dma.ts";
import { explainStep } from "./explain.ts";
import { type DomainPlan, planAllAtOnce, planRollingCluster, planTwoHalves } from "./rolling.ts";
import { msToSeconds } from "./time.ts";
import type { Plan } from "./types.ts";
import type { Upgrade } from "./upgrade.ts";
import { verifyPlan } from "./verify.ts";

/** Builds (without verifying) the plan of one strategy; every time in integer ms (plan/time.ts). */
function build(
  u: Upgrade,
  strategy: Strategy,
  fleet: Fleet,
): { steps: Step[]; notes: string[]; ms: number; lowerBoundMs: number } {
  const parts: DomainPlan[] = [];
  for (const c of u.rolling)
    parts.push(
      strategy === "all-at-once" && c.pack === "polyserve-matrix"
        ? planAllAtOnce(fleet, c, u.targets.get(c.name)!)
        : strategy === "two-halves" && c.pack === "polyserve-matrix"
          ? planTwoHalves(fleet, c, u.targets.get(c.name)!)
          : planRollingCluster(fleet, c, u.targets.get(c.name)!),
    );
  for (const c of u.standaloneDma) parts.push(planStandaloneDma(fleet, c, u.targets.get(c.name)!));
  const scByName = new Map(fleet.superclusters.map((s) => [s.name, s]));
  for (const { name, clusters } of u.compatible) {
    const sc = scByName.get(name)!;
    parts.push(planSuperclusterRolling(fleet, sc, clusters, u.targets.get(clusters[0]!.name)!, "patch"));
  }
  for (const { name, clusters } of u.incompatible) {
    const sc = scByName.get(name)!;
    const target = u.targets.get(clusters[0]!.name)!;
    parts.push(
      strategy === "maintenance-window"
        ? planMaintenanceWindow(fleet, sc, clusters, target)
        : planSuperclusterRolling(fleet, sc, clusters, target, "incremental"),
    );
  }
  // a supercluster part way through its upgrade goes on with the incremental procedure it was
  // under (D6), whatever the strategy of the others
  for (const { lineage, superclusters, clusters } of u.partDone)
    parts.push(
      planPartDoneSupercluster(fleet, lineage, superclusters, clusters, u.targets.get(clusters[0]!.name)!),
    );
  let steps: Step[];
  if (parts.length === 1) steps = parts[0]!.steps;
  else {
    // what a stable sort by start gives (domains keep their relative order), without sorting
    // every step: steps grouped by start in plan order, the groups in ascending start (a large
    // fleet has few distinct starts: its domains share their estimates)
    const byStart = new Map<number, Step[]>();
    for (const p of parts)
      for (const s of p.steps) {
        const g = byStart.get(s.start);
        if (g === undefined) byStart.set(s.start, [s]);
        else g.push(s);
      }
    steps = [];
    for (const t of [...byStart.keys()].sort((a, b) => a - b)) for (const s of byStart.get(t)!) steps.push(s);
  }
  return {
    steps,
    notes: parts.flatMap((p) => p.notes ?? []),
    ms: parts.reduce((m, p) => Math.max(m, p.ms), 0),
    lowerBoundMs: parts.reduce((m, p) => Math.max(m, p.lowerBoundMs), 0),
  };
}

/** M6/D6: the longest time (ms) a cluster (matrix, generic) or supercluster (DMA) runs mixed releases. */
function mixedWindow(fleet: Fleet, steps: readonly Step[]): number {
  const span = new Map<string, [number, number]>();
  const scOf = new Map(
    fleet.clusters.map((c) => [c.name, c.supercluster && superclusterLineage(c.supercluster)]),
  );
  for (const s of steps) {
    if (s.action !== "install") continue;
    // each pass of a chain (M8) is mixed on its own: between passes every server runs one release
    const key = (scOf.get(s.cluster) ?? s.cluster) + (s.pass ? `#${s.pass.n}` : "");
    const cur = span.get(key);
    if (!cur) span.set(key, [s.end, s.end]);
    else {
      if (s.end < cur[0]) cur[0] = s.end;
      if (s.end > cur[1]) cur[1] = s.end;
    }
  }
  let m = 0;
  for (const [a, b] of span.values()) m = Math.max(m, b - a);
  return m;
}

/** The plan of one strategy, verified (`floor`: the capacity floor the verifier holds it to, when not the fleet's). */
export function assemble(
  u: Upgrade,
  strategy: Strategy,
  fleet: Fleet,
  explain: boolean,
  floor?: number,
): Plan {
  const b = build(u, strategy, fleet);
  const mixedMs = mixedWindow(fleet, b.steps);
  // the Plan speaks seconds: ms / 1000, which the verifier reads back to the same ms
  for (const s of b.steps) {
    s.start = msToSeconds(s.start);
    s.end = msToSeconds(s.end);
  }
  const v = verifyPlan(fleet, b.steps, u.targets, floor === undefined ? {} : { capacityFloor: floor });
  if (explain) for (const s of b.steps) s.explain = explainStep(s, fleet);
  return {
    fleet: fleet.name,
    target: u.label,
    targets: Object.fromEntries(u.targets),
    strategy,
    capacityFloor: fleet.defaults.capacityFloor,
    steps: b.steps,
    estimate: {
      seconds: msToSeconds(b.ms),
      lowerBoundSeconds: msToSeconds(b.lowerBoundMs),
      minCapacity: Math.floor(v.minCapacity * 100 + 1e-9) / 100,
      outageSeconds: v.outageSeconds,
      mixedWindowSeconds: msToSeconds(mixedMs),
    },
    verification: { ok: v.ok, statesChecked: v.statesChecked, violations: v.violations },
    ...(b.notes.length > 0 ? { findings: b.notes } : {}),
  };
}
