import type { Escalation } from "../../events/types.ts";
import type { RunRecord } from "../../store/types.ts";
import { manualFor } from "../manual.ts";
import { returnToService } from "./abort-return.ts";
import { requestConfirmation } from "./confirmations.ts";
import { type EngineContext, sleep } from "./context.ts";
import { raise } from "./escalation.ts";
import { start } from "./executor.ts";
import { alertMixed, endStateProblems, observeEverything } from "./observe.ts";
import { outOfService } from "./out-of-service.ts";
import { check, mayStart, mayStartStep, ready } from "./schedule.ts";
import type { EngineResult } from "./types.ts";

type Blocked = { rule: string; reason: string };

/**
 * The reconcile loop: starts every ready step the rules allow, asks for points of no return
 * beside it, and once nothing runs decides how the run ends (completed, aborted, escalated,
 * paused, awaiting a confirmation), or escalates when nothing can move.
 */
export async function loop(ctx: EngineContext): Promise<EngineResult> {
  const initial = (await ctx.runState()).state;
  if (initial === "pending" || initial === "escalated" || initial === "awaiting-confirmation")
    await ctx.setState("running");
  // G5: every server of the plan is read once before the first step, so that the gate counts a
  // server already down (stopped by an operator, crashed) out of service (G3) from the start
  await observeEverything(ctx);
  for (;;) {
    ctx.checkLease();
    if (ctx.stepError !== undefined) throw ctx.stepError;
    const run = await ctx.runState();
    if (ctx.allDone() && ctx.running.size === 0 && !ctx.escalation) {
      // Every step done is not yet success: the fleet must look upgraded to its servers too.
      const problems = await endStateProblems(ctx);
      if (problems.length === 0) {
        await ctx.setState("completed");
        return { state: "completed" };
      }
      await raise(ctx, {
        code: "ROLLGATE_E_ESCALATED",
        rule: problems[0]!.rule,
        detail: `every step is done, yet the fleet does not look upgraded: ${problems.map((p) => `${p.rule}: ${p.detail}`).join("; ")}`,
        manual: manualFor(problems[0]!.rule),
      });
      continue;
    }
    for (const c of ctx.mixedSince.keys()) await alertMixed(ctx, c, ctx.o.now());
    const { blocked, started } = (await mayStart(ctx))
      ? await startReady(ctx, run)
      : { blocked: undefined, started: false };
    if (ctx.running.size === 0 && !started) {
      const ended = await settle(ctx, blocked);
      if (ended === "again") continue;
      if (ended) return ended;
    }
    await Promise.race([sleep(ctx.o.tickMs), new Promise<void>((r) => (ctx.wake = r))]);
  }
}

/**
 * Starts every ready step that may start: points of no return (G4) wait for their confirmation,
 * independent steps go on meanwhile; a step the gate denies waits, its rule journaled once.
 */
async function startReady(
  ctx: EngineContext,
  run: RunRecord,
): Promise<{ blocked: Blocked | undefined; started: boolean }> {
  let blocked: Blocked | undefined;
  let started = false;
  const steps = ready(ctx);
  const unconfirmed = steps.filter((s) => s.pointOfNoReturn && !run.confirmed.includes(s.id));
  if (!ctx.escalation && ctx.declined === undefined) {
    for (const step of unconfirmed) await requestConfirmation(ctx, step);
    if (run.state === "awaiting-confirmation" && unconfirmed.length === 0) await ctx.setState("running");
  }
  for (const step of steps) {
    if (unconfirmed.includes(step)) continue;
    if (!(await mayStartStep(ctx, step))) continue;
    const verdict = await check(ctx, step);
    if (verdict && !verdict.ok) {
      blocked ??= verdict;
      const sig = `${verdict.rule}:${verdict.reason}`;
      if (ctx.waitingLogged.get(step.id) !== sig) {
        ctx.waitingLogged.set(step.id, sig);
        await ctx.emit({
          type: "step.waiting",
          step: step.id,
          rule: verdict.rule,
          reason: verdict.reason,
          ...(verdict.blockers && verdict.blockers.length > 1 ? { blockers: [...verdict.blockers] } : {}),
        });
      }
      continue;
    }
    start(ctx, step);
    started = true;
  }
  return { blocked, started };
}

/**
 * Nothing runs and nothing started: how the run ends now, if it does; "again" after an escalation
 * raised here (nothing can move), undefined to wait for the next tick.
 */
async function settle(
  ctx: EngineContext,
  blocked: Blocked | undefined,
): Promise<EngineResult | "again" | undefined> {
  const now = await ctx.runState();
  // An abort comes first, also of an escalated run (a person was called and chose to abort):
  // the escalation is on record; the run ends aborted, returning what the rules let return.
  if (now.state === "aborting") return endAborted(ctx);
  if (ctx.escalation) return endEscalated(ctx, ctx.escalation, now);
  if (ctx.stopRequested) {
    // Ctrl-C has usually paused the run in the store already (src/run/apply.ts)
    if (now.state !== "paused") await ctx.setState("paused", ctx.stopRequested);
    return { state: "paused" };
  }
  const halted =
    ctx.declined !== undefined && !now.confirmed.includes(ctx.declined)
      ? ctx.declined
      : [...ctx.halted].find((id) => !now.confirmed.includes(id));
  if (halted && (await mayStart(ctx))) {
    await ctx.setState("awaiting-confirmation", `G4: ${halted} is a point of no return`);
    return { state: "awaiting-confirmation", needsConfirmation: halted };
  }
  if (blocked && (await mayStart(ctx)) && ctx.awaitingAnswer.size === 0) {
    // Nothing runs and the rules hold every ready step back: nothing will change by waiting.
    await raise(ctx, {
      code: "ROLLGATE_E_ESCALATED",
      rule: blocked.rule,
      detail: `no step can start: blocked by ${blocked.rule}: ${blocked.reason}`,
      manual: manualFor(blocked.rule),
    });
    return "again";
  }
  return undefined;
}

/** An operator's abort, once running steps have finished: with return to service if it asked for it. */
async function endAborted(ctx: EngineContext): Promise<EngineResult> {
  if (await ctx.returnToServiceRequested()) {
    const { returned, leftOutOfService, returnedWhy } = await returnToService(ctx);
    await ctx.emit({
      type: "abort.returned",
      returned,
      leftOutOfService,
      ...(returnedWhy.length ? { returnedWhy } : {}),
    });
    const said = `aborted by an operator; running steps finished, no new step started; returned to service: ${returned.length ? returned.join(", ") : "none"}${leftOutOfService.length ? `; left out of service: ${leftOutOfService.map((o) => `${o.server ?? o.cluster} (${o.rule ?? o.code}: ${o.reason})`).join("; ")}` : ""}`;
    await ctx.setState("aborted", said);
    return { state: "aborted" };
  }
  await ctx.setState("aborted", "aborted by an operator; running steps finished, no new step started");
  return { state: "aborted" };
}

/** The run ends escalated: what it leaves out of service is observed and said with the escalation. */
async function endEscalated(ctx: EngineContext, first: Escalation, now: RunRecord): Promise<EngineResult> {
  const out = await outOfService(ctx);
  const escalation: Escalation = out.length ? { ...first, outOfService: out } : first;
  const said = `${first.rule ?? first.code}: ${first.detail}${out.length ? `; left out of service: ${out.map((o) => `${o.cluster} (${o.rule ?? o.code}: ${o.reason})`).join("; ")}` : ""}`;
  if (out.length) await ctx.emit({ type: "escalation", escalation });
  if (now.state !== "escalated" || out.length) await ctx.setState("escalated", said);
  return { state: "escalated", escalation };
}
