import type { ServerObservation } from "../../drivers/driver.ts";
import type { Escalation } from "../../events/types.ts";
import type { Cluster } from "../../model/fleet.ts";
import type { Step } from "../../model/step.ts";
import type { EngineContext } from "./context.ts";
import { heldBy } from "./escalation.ts";
import { observe } from "./observe.ts";
import { check } from "./schedule.ts";

type OutOfService = NonNullable<Escalation["outOfService"]>[number];

/**
 * Once the engine ends escalated: the clusters of the plan it leaves out of service (observed
 * now), each with the rule that holds it there: its own escalation, the failed step its remaining
 * work waits on, or the gate's rule.
 */
export async function outOfService(ctx: EngineContext): Promise<OutOfService[]> {
  const out: OutOfService[] = [];
  for (const c of ctx.planClusters()) {
    let obs: ServerObservation[];
    try {
      obs = await observe(ctx, c, c.servers);
    } catch {
      // a driver answers "unreachable" rather than throw: a cluster that cannot be observed at
      // all only adds nothing to the escalation's picture of what is down
      continue;
    }
    const down = serversDown(c, obs);
    if (!down.length) continue;
    const what = c.pack === "polycom-dma" ? c.name : `${c.name} (${down.join(", ")})`;
    out.push(await whatHolds(ctx, c, what));
  }
  return out;
}

/** A DMA cluster is down as a whole (every server out of service); a matrix server one by one. */
function serversDown(c: Cluster, obs: ServerObservation[]): string[] {
  if (c.pack === "polycom-dma")
    return obs.every((o) => o.state === "unreachable" || o.inService === false || o.busiedOut === true)
      ? obs.map((o) => o.server)
      : [];
  return obs.filter((o) => o.state !== "running" || o.disabled === true).map((o) => o.server);
}

/** The rule (or code) that holds a cluster found out of service, and why. */
async function whatHolds(ctx: EngineContext, c: Cluster, what: string): Promise<OutOfService> {
  const own = ctx.escalations.find((e) => e.cluster === c.name);
  if (own)
    return {
      cluster: c.name,
      ...heldBy(own),
      reason: `${what} escalated at ${own.step ?? "the end"}: a person looks first`,
    };
  const pending = ctx.o.plan.steps.find((s) => s.cluster === c.name && !ctx.done(s.id));
  if (!pending)
    return { cluster: c.name, rule: "G5", reason: `${what} is out of service although its steps are done` };
  const failed = waitsOnFailed(ctx, pending);
  if (failed) {
    const e = ctx.escalations.find((x) => x.step === failed.id) ?? ctx.escalation!;
    return {
      cluster: c.name,
      ...heldBy(e),
      reason: `${what}: ${pending.id} waits on ${failed.id}, which escalated`,
    };
  }
  if (pending.pointOfNoReturn)
    return {
      cluster: c.name,
      rule: "G4",
      reason: `${what}: ${pending.id} is a point of no return, not started after an escalation`,
    };
  const verdict = pending.after.every((d) => ctx.done(d)) ? await check(ctx, pending) : undefined;
  if (verdict && !verdict.ok)
    return {
      cluster: c.name,
      rule: verdict.rule,
      reason: `${what}: ${pending.id} is held by ${verdict.rule}: ${verdict.reason}`,
    };
  return {
    cluster: c.name,
    ...heldBy(ctx.escalation!),
    reason: `${what}: ${pending.id} was not started (the run halted)`,
  };
}

/** The failed step `step` waits on, directly or through steps not done. */
function waitsOnFailed(ctx: EngineContext, step: Step, seen = new Set<string>()): Step | undefined {
  const failedIds = new Set(ctx.failedSteps.map((s) => s.id));
  for (const d of step.after) {
    if (failedIds.has(d)) return ctx.steps.get(d);
    if (seen.has(d) || ctx.done(d)) continue;
    seen.add(d);
    const f = waitsOnFailed(ctx, ctx.steps.get(d)!, seen);
    if (f) return f;
  }
  return undefined;
}
