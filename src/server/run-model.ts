import {
  type CapacityGauge,
  type CapacityPoint,
  foldEvents,
  mixedSeconds,
  type RunView,
  runView,
  type StepView,
} from "../events/fold.ts";
import type { RunEvent } from "../events/types.ts";
import type { Fleet } from "../model/fleet.ts";
import type { Plan } from "../plan/types.ts";
import {
  domainCapacity,
  type FleetState,
  finishStep,
  initialState,
  type RuleContext,
  ruleContext,
  startStep,
} from "../rules/index.ts";

/**
 * What the dashboard, the fleet view and /metrics know about one run: the one fold of its journal
 * (events/fold.ts), kept per run and fed only the events it has not seen, so a poll costs what is new.
 *
 * The fleet's shape (superclusters old and new, clusters in or out of service, capacity per
 * domain) is the rule packs' own FleetState, replayed from the steps the journal says started and
 * finished (the fold tells this model's gauge): the same picture the engine's gate has. Servers'
 * releases and states are the latest observations.
 */
export type { CapacityPoint, StepStatus } from "../events/fold.ts";

export class RunModel {
  readonly ctx: RuleContext | undefined;
  readonly state: FleetState | undefined;
  readonly view: RunView;

  constructor(
    readonly plan: Plan,
    readonly fleet: Fleet | undefined,
  ) {
    let gauge: CapacityGauge | undefined;
    if (fleet) {
      const targets = new Map(Object.entries(plan.targets));
      const ctx = ruleContext(fleet, targets);
      const state = initialState(fleet, targets, plan.steps);
      this.ctx = ctx;
      this.state = state;
      gauge = {
        start: (step) => startStep(state, step, { undo: false }),
        finish: (step) => finishStep(state, step, { undo: false }),
        lowest: () => this.capacityNow(),
      };
    }
    this.view = runView(plan, fleet, gauge);
  }

  get status(): ReadonlyMap<string, StepView> {
    return this.view.status;
  }
  get observed(): RunView["observed"] {
    return this.view.observed;
  }
  get capacity(): CapacityPoint[] {
    return this.view.capacity;
  }
  get escalations(): RunView["escalations"] {
    return this.view.escalations;
  }
  get stepsDone(): number {
    return this.view.stepsDone;
  }
  get stepsFailed(): number {
    return this.view.stepsFailed;
  }
  get lastSeq(): number {
    return this.view.lastSeq;
  }
  get startedAt(): string | undefined {
    return this.view.startedAt;
  }

  /** Capacity in service per capacity domain (G3), now. */
  domains(): Record<string, number> {
    const out: Record<string, number> = {};
    if (!this.state || !this.ctx) return out;
    for (const d of this.ctx.domainClusters.keys()) out[d] = domainCapacity(this.state, this.ctx, d);
    return out;
  }

  /** The lowest capacity of any domain the plan touches (1 when none). */
  capacityNow(): number {
    const touched = new Set(this.plan.steps.map((s) => this.ctx?.domainOf.get(s.cluster) ?? s.cluster));
    const d = this.domains();
    const values = Object.entries(d)
      .filter(([k]) => touched.has(k))
      .map(([, v]) => v);
    return values.length ? Math.min(...values) : 1;
  }

  apply(events: RunEvent[]): void {
    foldEvents(this.view, events);
  }

  /**
   * Seconds each cluster (and each supercluster, `supercluster:NAME`) has run mixed releases
   * (M6, D6), counting a window still open up to `now` (unless the run has finished).
   */
  mixedSeconds(now: number, open: boolean): Record<string, number> {
    return mixedSeconds(this.view, now, open);
  }
}

/** The plan's own capacity curve: the lowest domain's capacity at every step boundary (plan seconds). */
export function plannedCapacity(plan: Plan, fleet: Fleet): Array<{ t: number; fraction: number }> {
  const targets = new Map(Object.entries(plan.targets));
  const ctx = ruleContext(fleet, targets);
  const state = initialState(fleet, targets, plan.steps);
  const touched = [...new Set(plan.steps.map((s) => ctx.domainOf.get(s.cluster) ?? s.cluster))];
  const lowest = () => Math.min(1, ...touched.map((d) => domainCapacity(state, ctx, d)));
  const moments = plan.steps
    .flatMap((s) => [
      { t: s.start, finish: false, s },
      { t: s.end, finish: true, s },
    ])
    .sort((a, b) => a.t - b.t || Number(b.finish) - Number(a.finish));
  const out = [{ t: 0, fraction: lowest() }];
  for (let i = 0; i < moments.length; i++) {
    const m = moments[i]!;
    if (m.finish) finishStep(state, m.s, { undo: false });
    else startStep(state, m.s, { undo: false });
    if (i + 1 < moments.length && moments[i + 1]!.t === m.t) continue;
    const fraction = lowest();
    if (Math.abs(out.at(-1)!.fraction - fraction) > 1e-9 || i === moments.length - 1)
      out.push({ t: m.t, fraction });
  }
  return out;
}
