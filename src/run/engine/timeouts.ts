import type { ServerObservation } from "../../drivers/driver.ts";
import type { Cluster } from "../../model/fleet.ts";
import type { Step } from "../../model/step.ts";
import { compareVersions } from "../../model/version.ts";
import { type Problem, verifyProblems } from "../effects.ts";
import type { EngineContext } from "./context.ts";
import { type Halt, halt, ruleOfAction } from "./escalation.ts";

/**
 * However short a step's estimate (a lab at high speed), the engine allows at least this much past
 * it before escalating: observation and scheduling jitter must not read as D8a.
 */
const MIN_GRACE_MS = 3000;

/** How long the engine waits for a step's effect, and how often it looks (k × the estimate, D8a). */
export function waitBounds(ctx: EngineContext, step: Step, waitingSince: number) {
  const estimateMs = ctx.estimate(step) * 1000;
  const deadline = waitingSince + Math.max(ctx.o.escalateFactor * estimateMs, estimateMs + MIN_GRACE_MS);
  const pollMs = Math.min(1000, Math.max(20, estimateMs / 40));
  return { deadline, pollMs };
}

/** Seconds since `since`, to a tenth. */
export function secondsSince(ctx: EngineContext, since: number): number {
  return Math.round((ctx.o.now() - since) / 100) / 10;
}

/**
 * An install of the step's release that failed or was cut short, as the servers report it: the
 * escalation, else undefined. `accepted`: the install the journal says a server accepted before the
 * engine stopped (checked once, before anything is sent); else one the engine is waiting for (a
 * server still installing is not judged yet).
 */
export function installFailure(
  ctx: EngineContext,
  step: Step,
  cluster: Cluster,
  obs: ServerObservation[],
  when: "accepted-before-restart" | "while-waiting",
): Halt | undefined {
  const target = ctx.target(step);
  const failed = obs.filter(
    (o) =>
      o.lastInstall &&
      compareVersions(o.lastInstall.release, target) === 0 &&
      (o.lastInstall.result === "failed" || o.lastInstall.result === "interrupted") &&
      (when === "accepted-before-restart" || o.state !== "installing"),
  );
  if (!failed.length) return undefined;
  const how = failed[0]!.lastInstall!.result === "failed" ? "failed" : "was interrupted";
  // an install's own rule: D7 at a DMA cluster, M9 elsewhere
  const rule = ruleOfAction(step, cluster);
  return when === "accepted-before-restart"
    ? halt(
        step,
        rule,
        `the install of ${target} accepted before the engine stopped ${how} on ${failed.map((o) => o.server).join(", ")}`,
        failed[0]!.server,
      )
    : halt(
        step,
        rule,
        `the install of ${target} ${how} on ${failed.map((o) => `${o.server} (still ${o.release}, ${o.state})`).join(", ")}`,
        failed[0]!.server,
      );
}

/** Why a step showed no effect in time, diagnosed from what its servers say: its escalation. */
export function timeoutHalt(
  ctx: EngineContext,
  step: Step,
  cluster: Cluster,
  obs: ServerObservation[],
  startedAt: number,
): Halt {
  const waited = secondsSince(ctx, startedAt);
  const k = ctx.o.escalateFactor;
  const estimate = ctx.estimate(step);
  const problems: Problem[] = verifyProblems({ step, cluster, observations: obs }, ctx.target(step));
  const unreachable = obs.filter((o) => o.state === "unreachable");
  if (unreachable.length) {
    return halt(
      step,
      "G5",
      `${unreachable.map((o) => o.server).join(", ")} unreachable for ${waited}s (more than ${k} × the ${step.action} estimate of ${estimate}s)`,
      unreachable[0]!.server,
    );
  }
  const installing = obs.filter((o) => o.state === "installing");
  if (installing.length) {
    return halt(
      step,
      cluster.pack === "polycom-dma" ? "D8a" : "M9",
      `the install is still running on ${installing.map((o) => o.server).join(", ")} after ${waited}s (more than ${k} × its estimate of ${estimate}s)`,
      installing[0]!.server,
    );
  }
  // D8 diagnoses what an upgrade left behind; other steps time out under their own rule.
  const diagnosed = step.action === "install" || step.action === "verify" || step.action === "start";
  const order = ["D8a", "D8b", "D8c", "D8", "M3", "M9"];
  const first = [...problems].sort((a, b) => order.indexOf(a.rule) - order.indexOf(b.rule))[0];
  if (first && diagnosed) {
    return halt(
      step,
      first.rule,
      `${first.detail}, ${waited}s after ${step.action} began (more than ${k} × its estimate of ${estimate}s)`,
    );
  }
  return halt(
    step,
    ruleOfAction(step, cluster),
    `${step.action} showed no effect after ${waited}s (more than ${k} × its estimate of ${estimate}s)`,
  );
}
