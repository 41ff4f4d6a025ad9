import type { Fleet } from "../model/fleet.ts";
import type { RuleId, Step } from "../model/step.ts";
import type { Plan } from "../plan/types.ts";
import {
  canStart,
  checkDomain,
  cloneState,
  finishStep,
  initialState,
  observedStopped,
  PARTIAL_EFFECT,
  ruleContext,
  type ServerRecord,
  startStep,
} from "../rules/index.ts";
import type { Gate, GateVerdict } from "./gate.ts";

/** Target release per cluster (a plan may upgrade packs to different releases). */
export function targetsOf(plan: Plan): Map<string, string> {
  return new Map(Object.entries(plan.targets));
}

/**
 * A point of no return passed (M4) outranks the capacity rules that also hold a step back: bringing
 * the missing server back, M1's and G3's remedy, is what M4 forbids, so the operator reads it first.
 */
function m4First(v: GateVerdict): GateVerdict {
  if (v.ok || v.rule === "M4") return v;
  const m4 = v.blockers?.find((b) => b.rule === "M4");
  if (!m4) return v;
  return {
    ...v,
    rule: "M4",
    reason: m4.reason,
    blockers: [m4, ...(v.blockers ?? []).filter((b) => b !== m4)],
  };
}

/**
 * The engine's gate, built on the rule packs (rules/): the same predicates the planner built the
 * plan with and the verifier checked it with, asked again at run time.
 *
 * Its picture of the fleet is the plan's steps replayed over the fleet file, corrected by what the
 * engine observes of servers no step is acting on: a server found stopped or unreachable (an
 * operator stopped it before `apply`, it crashed) is counted out of service, so a step that would
 * take the cluster below its capacity floor (G3) or past its unavailable servers (M1) waits, and
 * the engine escalates with that rule when nothing else can move, instead of going below it.
 */
export function ruleGate(fleet: Fleet, plan: Plan): Gate {
  const targets = targetsOf(plan);
  const ctx = ruleContext(fleet, targets);
  const state = initialState(fleet, targets, plan.steps);
  const started = new Set<string>();
  const finished = new Set<string>();
  const stepsOf = new Map<string, Step[]>();
  for (const s of plan.steps) if (s.server) stepsOf.set(s.server, [...(stepsOf.get(s.server) ?? []), s]);
  const inFlight = (server: string) =>
    (stepsOf.get(server) ?? []).some((s) => started.has(s.id) && !finished.has(s.id));
  // observations are judged by when they were asked for: one asked before a step of the server
  // began or ended is older than the gate's picture, and ignored
  let clock = 0;
  const changedAt = new Map<string, number>();
  const touch = (step: Step) => {
    clock += 1;
    if (step.server) changedAt.set(step.server, clock);
  };

  // M3 correction: servers set aside (stopped on purpose, started last). While another server's
  // step is judged, they count as serving; their own steps are judged on their true record.
  const aside = new Set<string>();
  const withAside = <T>(step: Step, judge: () => T): T => {
    const saved: Array<[ServerRecord, boolean, boolean]> = [];
    for (const name of aside) {
      const r = state.servers.get(name);
      if (!r || name === step.server) continue;
      saved.push([r, r.running, r.disabled]);
      r.running = true;
      r.disabled = false;
    }
    try {
      return judge();
    } finally {
      for (const [r, running, disabled] of saved) {
        r.running = running;
        r.disabled = disabled;
      }
    }
  };

  // after an escalation: the step must be allowed whichever way each failed step left things
  const beside = (step: Step, failed: readonly Step[]): GateVerdict => {
    const first = judge(step);
    if (!first.ok) return first;
    for (const f of failed) {
      if (!PARTIAL_EFFECT.has(f.action)) continue;
      const branch = cloneState(state);
      finishStep(branch, f);
      const v = canStart(branch, step, ctx);
      if (!v.ok) {
        const why = ` (should ${f.id} have taken effect although it failed)`;
        return {
          ok: false,
          rule: v.rule,
          reason: `${v.reason}${why}`,
          blockers: (v.blockers ?? []).map((b) => ({ rule: b.rule, reason: `${b.reason}${why}` })),
        };
      }
    }
    return { ok: true };
  };

  // every rule that holds the step back is in `blockers`; a capacity denial's reason names every
  // capacity rule the step would break (M1 and G3 often both)
  // M4 once a start has taken effect: a server returning on a release the matrix no longer admits
  // (its last server of that release stopped, by hand or a crash, after the plan was checked)
  const m4AfterStart = (step: Step): Array<{ rule: RuleId; reason: string }> => {
    if (step.action !== "start" || state.clusters.get(step.cluster)?.pack !== "polyserve-matrix") return [];
    const undoStart = startStep(state, step);
    const undoFinish = finishStep(state, step);
    try {
      return checkDomain(state, ctx, ctx.domainOf.get(step.cluster) ?? step.cluster)
        .filter((x) => x.rule === "M4")
        .map((x) => ({ rule: x.rule, reason: x.detail }));
    } finally {
      undoFinish();
      undoStart();
    }
  };

  const judge = (step: Step): GateVerdict => {
    const m4 = m4AfterStart(step);
    const c = canStart(state, step, ctx);
    const v = m4First(
      m4.length === 0
        ? c
        : {
            ok: false,
            rule: "M4",
            reason: m4[0]!.reason,
            blockers: [...m4, ...(c.ok ? [] : (c.blockers ?? []))],
          },
    );
    if (v.ok || (v.rule !== "M1" && v.rule !== "G3")) return v;
    const capacity = (v.blockers ?? []).filter((x) => x.rule === "M1" || x.rule === "G3");
    if (capacity.length < 2) return v;
    return {
      ...v,
      reason: capacity.map((x, i) => (i === 0 ? x.reason : `${x.rule}: ${x.reason}`)).join("; "),
    };
  };

  return {
    check: (step) => withAside(step, () => judge(step)),
    checkBeside: (step, failed) => withAside(step, () => beside(step, failed)),
    mark: () => clock,
    setAside(server) {
      aside.add(server);
    },
    observed(server, running, asked, disabled) {
      const r = state.servers.get(server);
      if (!r || aside.has(server) || state.clusters.get(r.cluster)?.pack === "polycom-dma") return;
      if (inFlight(server) || r.installing !== undefined || (changedAt.get(server) ?? 0) > asked) return;
      const stopped = r.running && !running;
      r.running = running;
      if (disabled !== undefined) r.disabled = disabled;
      // M4: the last old-release server found stopped commits the matrix to the newer release
      if (stopped) observedStopped(state, r.cluster);
    },
    started(step) {
      if (started.has(step.id)) return;
      started.add(step.id);
      touch(step);
      if (step.server && (step.action === "start" || step.action === "verify")) aside.delete(step.server);
      startStep(state, step);
    },
    finished(step) {
      this.started(step);
      finished.add(step.id);
      touch(step);
      finishStep(state, step);
    },
  };
}
