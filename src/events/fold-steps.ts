import type { Step } from "../model/step.ts";
import type { RunEvent } from "./types.ts";
import type { RunView, StepView } from "./fold-view.ts";

/** The fold of the events about one plan step: its standing, its summary, its dashboard status and the capacity it leaves. */

/**
 * A plan step's dashboard status after `e` (undefined: `e` is not about that step, or changes
 * nothing). The page applies it to the events it streams between two summaries.
 */
export function nextStepView(prev: StepView | undefined, e: RunEvent): StepView | undefined {
  if (prev === undefined) return undefined;
  switch (e.type) {
    case "step.waiting":
      return prev.status !== "done" && prev.status !== "running"
        ? { status: "waiting", rule: e.rule, reason: e.reason }
        : undefined;
    case "confirmation.needed":
      return prev.status !== "done" ? { status: "confirm", rule: e.rule, reason: e.reason } : undefined;
    case "confirmation.given":
      return prev.status === "confirm" ? { status: "pending" } : undefined;
    case "step.intent":
    case "step.started":
      return prev.status !== "done" ? { status: "running" } : undefined;
    case "step.done":
      return prev.status !== "done" ? { status: "done" } : undefined;
    case "step.failed":
      // a done step stays done (its effect was observed); the failure still counts (stepsFailed)
      return prev.status !== "done"
        ? { status: "failed", ...(e.rule ? { rule: e.rule } : {}), reason: e.message }
        : undefined;
    default:
      return undefined;
  }
}

export function lowest(view: RunView): number {
  return view.fold.gauge?.lowest() ?? 1;
}

export function pointCapacity(view: RunView, e: RunEvent): void {
  const fraction = lowest(view);
  const last = view.capacity.at(-1);
  if (last && Math.abs(last.fraction - fraction) < 1e-9) return;
  view.capacity.push({ at: e.at, seq: e.seq, fraction });
}

function startOnce(view: RunView, step: Step): void {
  if (view.fold.started.has(step.id)) return;
  view.fold.started.add(step.id);
  view.fold.gauge?.start(step);
}

function finishOnce(view: RunView, step: Step): void {
  startOnce(view, step);
  if (view.fold.finished.has(step.id)) return;
  view.fold.finished.add(step.id);
  view.fold.gauge?.finish(step);
}

/** The engine's standing of a plan step. */
export function foldStanding(view: RunView, stepId: string, e: RunEvent): void {
  const s = view.standing.get(stepId);
  if (!s) return;
  switch (e.type) {
    case "step.intent":
      s.attempts += 1;
      s.accepted = false;
      s.status = "pending";
      s.startedAt ??= e.at;
      if (typeof e.backupsBefore === "number") s.backupsBefore = e.backupsBefore;
      break;
    case "step.accepted":
      s.accepted = true;
      break;
    case "step.done":
      s.status = "done";
      s.doneAt = e.at;
      break;
    case "step.failed":
      s.status = "failed";
      break;
    default:
      break;
  }
}

/** What `status` reports: steps running, waiting, asking for a confirmation (any step id the journal names). */
export function foldSummary(view: RunView, stepId: string, e: RunEvent): void {
  switch (e.type) {
    case "step.started":
      view.running.add(stepId);
      view.waiting.delete(stepId);
      break;
    case "step.done":
      view.running.delete(stepId);
      view.waiting.delete(stepId);
      break;
    case "step.failed":
      view.running.delete(stepId);
      break;
    case "step.waiting":
      view.waiting.set(stepId, {
        step: stepId,
        rule: e.rule,
        reason: e.reason,
        ...(e.blockers && e.blockers.length > 1 ? { blockers: e.blockers.map((b) => ({ ...b })) } : {}),
      });
      break;
    case "confirmation.needed":
      view.confirmationsAsked.add(stepId);
      break;
    default:
      break;
  }
}

/** The dashboard's status of a plan step, its counters and the capacity it leaves. */
export function foldStatus(view: RunView, stepId: string, e: RunEvent): void {
  if (e.type === "step.failed") view.stepsFailed += 1;
  const next = nextStepView(view.status.get(stepId), e);
  if (next === undefined) return;
  view.status.set(stepId, next);
  const step = view.stepById.get(stepId);
  if (!step) return;
  if (e.type === "step.intent" || e.type === "step.started") {
    startOnce(view, step);
    pointCapacity(view, e);
  } else if (e.type === "step.done") {
    view.stepsDone += 1;
    finishOnce(view, step);
    pointCapacity(view, e);
  }
}
