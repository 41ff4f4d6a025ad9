import type { Escalation } from "../../events/types.ts";
import { RollgateError } from "../../model/errors.ts";
import type { Cluster } from "../../model/fleet.ts";
import type { Step } from "../../model/step.ts";
import { manualFor } from "../manual.ts";
import type { EngineContext } from "./context.ts";

/** A step's escalation, thrown out of the executor. */
export class Halt extends Error {
  constructor(readonly escalation: Escalation) {
    super(escalation.detail);
  }
}

export function halt(step: Step, rule: string, detail: string, server?: string): Halt {
  return new Halt({
    code: "ROLLGATE_E_ESCALATED",
    rule,
    step: step.id,
    cluster: step.cluster,
    ...((server ?? step.server) ? { server: server ?? step.server } : {}),
    detail,
    manual: manualFor(rule),
  });
}

/** The rule an action's refusal falls under when the server names none. */
export function ruleOfAction(step: Step, cluster: Cluster): string {
  if (cluster.pack !== "polycom-dma") return "M9";
  switch (step.action) {
    case "install":
      return "D7";
    case "verify":
      return "D8";
    case "join-supercluster":
      return "D10";
    case "reassign-territories":
    case "restore-territories":
      // the strategy's own territory rule: D5's window, D3's patch, else D6
      return step.rules.includes("D5") ? "D5" : step.rules.includes("D3") ? "D3" : "D6";
    case "busy-out":
    case "leave-supercluster":
      // D4: before leaving, the cluster is busied out; then it leaves
      return "D4";
    case "return-to-service":
      // D6: a cluster serves again as a member of its (new) supercluster
      return "D6";
    default:
      // a server-level action sent to a DMA server (stop, start, backup): the basic procedure
      return "D7";
  }
}

/** What holds a cluster out of service after an escalation: its rule, else its catalog code. */
export function heldBy(e: Escalation): { rule: string } | { code: string } {
  return e.rule ? { rule: e.rule } : { code: e.code };
}

/** A step that threw: marked failed and journaled; its escalation (a Halt's, else G5 for the unexpected). */
export async function failed(ctx: EngineContext, step: Step, e: unknown): Promise<Escalation> {
  const escalation: Escalation =
    e instanceof Halt
      ? e.escalation
      : {
          // no rule called for this: a catalog error (a plan foreign to the fleet, a driver
          // missing) keeps its code, anything else is an internal error (a bug in rollgate)
          code: e instanceof RollgateError ? e.code : "ROLLGATE_E_INTERNAL",
          step: step.id,
          cluster: step.cluster,
          detail: `${e instanceof RollgateError ? "" : "internal error "}while running ${step.id}: ${(e as Error).message}`,
          manual: "",
        };
  ctx.standing.get(step.id)!.status = "failed";
  await ctx.emit({
    type: "step.failed",
    step: step.id,
    code: escalation.code,
    ...(escalation.rule ? { rule: escalation.rule } : {}),
    message: escalation.detail,
  });
  return escalation;
}

/** Records an escalation at once (state and event), so status shows it while running steps end. */
export async function raise(ctx: EngineContext, escalation: Escalation, step?: Step): Promise<void> {
  if (step) {
    ctx.failedSteps.push(step);
    ctx.haltedClusters.add(step.cluster);
    ctx.haltedClusters.add(ctx.actingCluster(step).name);
  } else ctx.globalHalt = true;
  if (escalation.cluster) ctx.haltedClusters.add(escalation.cluster);
  ctx.escalations.push(escalation);
  ctx.wake?.();
  if (ctx.escalation) {
    // a second escalation (independent work went on after the first): recorded, the run stays escalated
    await ctx.emit({ type: "escalation", escalation });
    return;
  }
  ctx.escalation = escalation;
  await ctx.emit({ type: "escalation", escalation });
  // an operator's abort already under way stays the run's state: the engine ends it aborted
  if ((await ctx.runState()).state !== "aborting")
    await ctx.setState("escalated", `${escalation.rule ?? escalation.code}: ${escalation.detail}`);
}
