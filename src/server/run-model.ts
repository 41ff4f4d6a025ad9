import type { Escalation, RunEvent } from "../events/types.ts";
import type { Fleet } from "../model/fleet.ts";
import type { Step } from "../model/step.ts";
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
 * What the dashboard, the fleet view and /metrics know about one run, folded from its journal.
 * Kept per run and fed only the events it has not seen, so a poll costs what is new.
 *
 * The fleet's shape (superclusters old and new, clusters in or out of service, capacity per
 * domain) is the rule packs' own FleetState, replayed from the steps the journal says started and
 * finished: the same picture the engine's gate has. Servers' releases and states are the latest
 * observations.
 */
export type StepStatus = "pending" | "running" | "done" | "failed" | "waiting" | "confirm";

export interface CapacityPoint {
  /** ISO time (actual) or plan seconds (planned). */
  at: string;
  seq: number;
  fraction: number;
}

export class RunModel {
  readonly ctx: RuleContext | undefined;
  readonly state: FleetState | undefined;
  readonly steps = new Map<string, Step>();
  readonly status = new Map<string, { status: StepStatus; rule?: string; reason?: string }>();
  readonly observed = new Map<string, { release: string; state: string; at: string }>();
  readonly capacity: CapacityPoint[] = [];
  readonly escalations: Array<Escalation & { seq: number; at: string }> = [];
  stepsDone = 0;
  stepsFailed = 0;
  lastSeq = 0;
  startedAt: string | undefined;
  private readonly started = new Set<string>();
  private readonly finished = new Set<string>();
  /** Mixed-release bookkeeping: per group (a cluster, or a supercluster lineage), ms. */
  private readonly mixedSince = new Map<string, number>();
  private readonly mixedTotal = new Map<string, number>();
  private readonly groups = new Map<string, string[]>();
  private readonly release = new Map<string, string>();

  constructor(
    readonly plan: Plan,
    readonly fleet: Fleet | undefined,
  ) {
    for (const s of plan.steps) {
      this.steps.set(s.id, s);
      this.status.set(s.id, { status: "pending" });
    }
    if (fleet) {
      const targets = new Map(Object.entries(plan.targets));
      this.ctx = ruleContext(fleet, targets);
      this.state = initialState(fleet, targets);
      for (const c of fleet.clusters) {
        const members = c.servers.map((s) => `${c.name}/${s.name}`);
        this.groups.set(`cluster:${c.name}`, members);
        if (c.supercluster) {
          const key = `supercluster:${c.supercluster}`;
          this.groups.set(key, [...(this.groups.get(key) ?? []), ...members]);
        }
        for (const s of c.servers) this.release.set(`${c.name}/${s.name}`, s.version);
      }
    }
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

  private startOnce(step: Step): void {
    if (this.started.has(step.id)) return;
    this.started.add(step.id);
    if (this.state) startStep(this.state, step, { undo: false });
  }

  private finishOnce(step: Step): void {
    this.startOnce(step);
    if (this.finished.has(step.id)) return;
    this.finished.add(step.id);
    if (this.state) finishStep(this.state, step, { undo: false });
  }

  private pointCapacity(e: RunEvent): void {
    const fraction = this.capacityNow();
    const last = this.capacity.at(-1);
    if (last && Math.abs(last.fraction - fraction) < 1e-9) return;
    this.capacity.push({ at: e.at, seq: e.seq, fraction });
  }

  apply(events: RunEvent[]): void {
    for (const e of events) this.one(e);
  }

  private one(e: RunEvent): void {
    if (e.seq <= this.lastSeq) return;
    this.lastSeq = e.seq;
    if (this.capacity.length === 0)
      this.capacity.push({ at: e.at, seq: e.seq, fraction: this.capacityNow() });
    const st = "step" in e && typeof e.step === "string" ? this.status.get(e.step) : undefined;
    const step = "step" in e && typeof e.step === "string" ? this.steps.get(e.step) : undefined;
    switch (e.type) {
      case "run.state":
        if (e.state === "running" && !this.startedAt) this.startedAt = e.at;
        break;
      case "step.waiting":
        if (st && st.status !== "done" && st.status !== "running")
          this.status.set(e.step, { status: "waiting", rule: e.rule, reason: e.reason });
        break;
      case "confirmation.needed":
        if (st && st.status !== "done")
          this.status.set(e.step, { status: "confirm", rule: e.rule, reason: e.reason });
        break;
      case "confirmation.given":
        if (st && st.status === "confirm") this.status.set(e.step, { status: "pending" });
        break;
      case "step.intent":
      case "step.started":
        if (step && st?.status !== "done") {
          this.status.set(step.id, { status: "running" });
          this.startOnce(step);
          this.pointCapacity(e);
        }
        break;
      case "step.done":
        if (step && st?.status !== "done") {
          this.status.set(step.id, { status: "done" });
          this.stepsDone += 1;
          this.finishOnce(step);
          this.pointCapacity(e);
        }
        break;
      case "step.failed":
        this.stepsFailed += 1;
        if (st)
          this.status.set(e.step, {
            status: "failed",
            ...(e.rule ? { rule: e.rule } : {}),
            reason: e.message,
          });
        break;
      case "escalation": {
        // the engine's final word on an escalation (the clusters it leaves out of service) replaces it
        const prev = this.escalations.at(-1);
        if (
          e.escalation.outOfService &&
          prev &&
          prev.step === e.escalation.step &&
          prev.detail === e.escalation.detail
        )
          this.escalations.pop();
        this.escalations.push({ ...e.escalation, seq: e.seq, at: e.at });
        break;
      }
      case "observation":
        this.observe(e);
        break;
      default:
        break;
    }
  }

  private observe(e: Extract<RunEvent, { type: "observation" }>): void {
    const key = `${e.cluster}/${e.server}`;
    this.observed.set(key, { release: e.release, state: e.state, at: e.at });
    if (e.state === "unreachable") return;
    this.release.set(key, e.release);
    const now = Date.parse(e.at);
    for (const [group, members] of this.groups) {
      if (!members.includes(key)) continue;
      const mixed = new Set(members.map((m) => this.release.get(m))).size > 1;
      const since = this.mixedSince.get(group);
      if (mixed && since === undefined) this.mixedSince.set(group, now);
      if (!mixed && since !== undefined) {
        this.mixedTotal.set(group, (this.mixedTotal.get(group) ?? 0) + (now - since));
        this.mixedSince.delete(group);
      }
    }
  }

  /**
   * Seconds each cluster (and each supercluster, `supercluster:NAME`) has run mixed releases
   * (M6, D6), counting a window still open up to `now` (unless the run has finished).
   */
  mixedSeconds(now: number, open: boolean): Record<string, number> {
    const out: Record<string, number> = {};
    for (const group of this.groups.keys()) {
      const since = this.mixedSince.get(group);
      const ms =
        (this.mixedTotal.get(group) ?? 0) + (since !== undefined && open ? Math.max(0, now - since) : 0);
      out[group] = Math.round(ms / 100) / 10;
    }
    return out;
  }
}

/** The plan's own capacity curve: the lowest domain's capacity at every step boundary (plan seconds). */
export function plannedCapacity(plan: Plan, fleet: Fleet): Array<{ t: number; fraction: number }> {
  const targets = new Map(Object.entries(plan.targets));
  const ctx = ruleContext(fleet, targets);
  const state = initialState(fleet, targets);
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
