import type { RunEvent } from "../../events/types.ts";
import { formatDuration } from "../../model/duration.ts";
import type { Plan } from "../../plan/types.ts";

/** One readable line for an event, or undefined for events a person need not see. */
export function describeEvent(e: RunEvent): string | undefined {
  switch (e.type) {
    case "run.created":
      return `run ${e.runId}: ${e.fleet} → ${e.target} (${e.strategy}, ${e.steps} steps)`;
    case "run.state":
      return `run ${e.state}${e.reason ? `: ${e.reason}` : ""}`;
    case "step.started":
      return undefined;
    case "step.intent":
      return `${e.step}: ${e.action}${e.attempt > 1 ? ` (attempt ${e.attempt})` : ""}`;
    case "step.accepted":
      return undefined;
    case "step.done":
      return `${e.step}: done in ${e.seconds}s${e.observed ? " (already in effect: G5)" : ""}`;
    case "step.failed":
      return `${e.step}: FAILED${e.rule ? ` [${e.rule}]` : ""}: ${e.message}`;
    case "step.waiting":
      return `${e.step}: waiting, blocked by ${e.rule}: ${e.reason}`;
    case "escalation":
      return `ESCALATION [${e.escalation.rule ?? e.escalation.code}] ${e.escalation.detail}${e.escalation.manual ? `\n  manual: "${e.escalation.manual}"` : ""}`;
    case "confirmation.needed":
      return `confirmation needed [${e.rule}]: ${e.reason}`;
    case "confirmation.given":
      return `${e.step}: confirmed by ${e.by}`;
    case "observation":
      return undefined;
    case "capacity":
      return undefined;
    case "log":
      return e.message;
    case "alert":
      return `ALERT [${e.rule}] ${e.message}`;
  }
}

/** Seconds of plan left: from the earliest not-yet-done step to the plan's end. */
export function planSecondsLeft(plan: Plan, done: ReadonlySet<string>): number {
  const open = plan.steps.filter((s) => !done.has(s.id));
  if (open.length === 0) return 0;
  return Math.max(0, plan.estimate.seconds - Math.min(...open.map((s) => s.start)));
}

export function formatLeft(plan: Plan, done: ReadonlySet<string>): string {
  return `~${formatDuration(planSecondsLeft(plan, done))} left by the plan`;
}
