import type { Step } from "../../model/step.ts";
import type { GateVerdict } from "../gate.ts";
import { type EngineContext, successorsOf } from "./context.ts";
import { depsDone } from "./offenders.ts";

/**
 * The steps not done, not running, whose dependencies are done, in the plan's order. Taken from
 * the ready set the context keeps as steps finish (`markDone`), so that a loop turn costs what is
 * ready, not what the plan holds. While an M3 correction holds in a matrix (servers set aside,
 * whose dependencies are rewired by `depsDone`), every step is judged again, as before.
 */
export function ready(ctx: EngineContext): Step[] {
  const free = (s: Step) => ctx.standing.get(s.id)!.status !== "done" && !ctx.running.has(s.id);
  if ([...ctx.offenders.values()].some((aside) => aside.size > 0))
    return ctx.o.plan.steps.filter((s) => free(s) && depsDone(ctx, s));
  ctx.readyIndex ??= buildReadyIndex(ctx);
  const index = ctx.readyIndex;
  return [...index.candidates]
    .map((id) => ctx.steps.get(id)!)
    .filter(free)
    .sort((a, b) => ctx.order.get(a.id)! - ctx.order.get(b.id)!);
}

function buildReadyIndex(ctx: EngineContext): NonNullable<EngineContext["readyIndex"]> {
  const remaining = new Map<string, number>();
  const candidates = new Set<string>();
  for (const s of ctx.o.plan.steps) {
    if (ctx.done(s.id)) continue;
    const left = s.after.filter((d) => !ctx.done(d)).length;
    remaining.set(s.id, left);
    if (left === 0) candidates.add(s.id);
  }
  return { remaining, candidates };
}

/**
 * False once nothing new may start: a stop request, a run no longer active (paused, aborting),
 * or an escalation that names no step. After an escalation of a step, the run stays escalated,
 * yet independent work may still start (`mayStartStep`).
 */
export async function mayStart(ctx: EngineContext): Promise<boolean> {
  if (ctx.stopRequested !== undefined || ctx.globalHalt) return false;
  const state = (await ctx.knownRun()).state;
  if (state === "escalated") return ctx.escalation !== undefined;
  return state === "running" || state === "awaiting-confirmation";
}

/**
 * May this step start now? After an escalation only independent work goes on: a step that acts
 * through no escalated cluster and is no point of no return (a person is being called; G4 waits
 * for them). Its dependencies are done, so it depends on no failed step; the gate then checks it
 * beside every failed step's failure branch (`checkBeside`).
 */
export async function mayStartStep(ctx: EngineContext, step: Step): Promise<boolean> {
  if (!(await mayStart(ctx)) || ctx.declined !== undefined) return false;
  if (ctx.escalation === undefined) return true;
  if (step.pointOfNoReturn) return false;
  if (ctx.haltedClusters.has(step.cluster) || ctx.haltedClusters.has(ctx.actingCluster(step).name))
    return false;
  const barrier = unreachableBarrier(ctx, step);
  if (barrier) {
    const reason = `${step.id} begins a chain it cannot complete: ${barrier.id} (before ${barrier.cluster} returns to service) is a point of no return, not started after an escalation; ${step.id} is not started, so that no serving cluster is taken out of service for it`;
    if (ctx.waitingLogged.get(step.id) !== `G4:${reason}`) {
      ctx.waitingLogged.set(step.id, `G4:${reason}`);
      await ctx.emit({ type: "step.waiting", step: step.id, rule: "G4", reason });
    }
    return false;
  }
  return true;
}

/**
 * After an escalation, the point of no return (G4) the chain `step` begins would have to pass,
 * if any: walked through the step's successors up to each cluster's return to service (a
 * return-to-service ends a chain), a point of no return not yet begun, which no step passes
 * after an escalation. Starting `step` would then take a cluster out of service (or move
 * territories for it) for a chain that stops halfway. A point of no return already begun or done
 * (its cluster committed past it) is no barrier.
 */
function unreachableBarrier(ctx: EngineContext, step: Step): Step | undefined {
  const successors = successorsOf(ctx);
  const seen = new Set<string>([step.id]);
  const queue: Step[] = step.action === "return-to-service" ? [] : [step];
  while (queue.length) {
    const s = queue.shift()!;
    for (const next of successors.get(s.id) ?? []) {
      if (seen.has(next.id)) continue;
      seen.add(next.id);
      const st = ctx.standing.get(next.id);
      if (next.pointOfNoReturn && st?.status !== "done" && !((st?.attempts ?? 0) > 0)) return next;
      if (next.action !== "return-to-service") queue.push(next);
    }
  }
  return undefined;
}

/** The gate's verdict; after an escalation, beside the failure branch of every failed step. */
export async function check(ctx: EngineContext, step: Step): Promise<GateVerdict | undefined> {
  const gate = ctx.o.gate;
  if (!gate) return undefined;
  return ctx.failedSteps.length && gate.checkBeside
    ? gate.checkBeside(step, ctx.failedSteps)
    : await gate.check(step);
}
