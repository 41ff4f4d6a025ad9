import type { Fleet } from "../model/fleet.ts";
import type { Plan } from "../plan/types.ts";
import type { RunEvent } from "./types.ts";
import { foldStanding, foldStatus, foldSummary, lowest } from "./fold-steps.ts";
import { type CapacityGauge, type RunView, runView } from "./fold-view.ts";
import { observe } from "./fold-windows.ts";

/**
 * The one fold of a run's journal: events → what every reader knows about the run. The engine's
 * restart (run/journal.ts), `rollgate status` (run/summary.ts), the API, SSE, /metrics
 * (server/run-model.ts) and the page (web/) all read this view.
 *
 * Pure: no node built-in, no clock (a time is passed in where one is needed), no I/O. The view is
 * an accumulator owned by whoever made it (`runView`): `foldEvents(view, events)` brings it up to
 * date with the events it has not seen (a sequence number at or below the last one folded is
 * skipped), so folding a journal in one pass or in chunks gives the same view (test/events/).
 *
 * Capacity per domain (G3) needs the rule packs' FleetState, which events/ may not import (the
 * allowed edges: events/ → model/, plan/); the caller that has them passes a `CapacityGauge`,
 * which the fold tells when each step starts and finishes (once each) and asks for the lowest
 * capacity after it did.
 *
 * Its parts: the view and an empty one (fold-view.ts), the events about a step (fold-steps.ts),
 * the mixed-release windows (fold-windows.ts), the summary told from the view (fold-summary.ts).
 */

export type {
  AbortOutcome,
  CapacityGauge,
  CapacityPoint,
  MixedWindows,
  RunAlert,
  RunView,
  StepStanding,
  StepStatus,
  StepView,
  WaitingStep,
} from "./fold-view.ts";
export { runView } from "./fold-view.ts";
export { nextStepView } from "./fold-steps.ts";
export { mixedSeconds } from "./fold-windows.ts";
export type { RunDetail, RunHead, RunSummary } from "./fold-summary.ts";
export { summaryOf } from "./fold-summary.ts";

/** Folds a whole journal into a new view. */
export function foldJournal(
  plan: Plan,
  events: readonly RunEvent[],
  fleet?: Fleet,
  gauge?: CapacityGauge,
): RunView {
  return foldEvents(runView(plan, fleet, gauge), events);
}

/** Brings `view` up to date with `events` (those it has already seen are skipped); returns it. */
export function foldEvents(view: RunView, events: readonly RunEvent[]): RunView {
  for (const e of events) foldEvent(view, e);
  return view;
}

function foldEvent(view: RunView, e: RunEvent): void {
  if (e.seq <= view.lastSeq && view.lastSeq > 0) return;
  view.lastSeq = e.seq;
  if (view.capacity.length === 0) view.capacity.push({ at: e.at, seq: e.seq, fraction: lowest(view) });
  const stepId = "step" in e && typeof e.step === "string" ? e.step : undefined;
  if (stepId !== undefined) {
    foldStanding(view, stepId, e);
    foldSummary(view, stepId, e);
    foldStatus(view, stepId, e);
  }
  switch (e.type) {
    case "run.state":
      if (e.state === "running") {
        view.startedAt ??= e.at;
        delete view.fold.episode;
      }
      break;
    case "escalation": {
      const x = e.escalation;
      if (x.outOfService) view.lastEscalation = x;
      else if (view.fold.episode === undefined) view.lastEscalation = view.fold.episode = x;
      // the engine's final word on an escalation (the clusters it leaves out of service) replaces it
      const prev = view.escalations.at(-1);
      if (x.outOfService && prev && prev.step === x.step && prev.detail === x.detail) view.escalations.pop();
      view.escalations.push({ ...x, seq: e.seq, at: e.at });
      break;
    }
    case "notify.failed":
      view.undelivered.push({
        url: e.url,
        kind: e.kind,
        id: e.id,
        attempts: e.attempts,
        error: e.error,
        at: e.at,
      });
      break;
    case "alert":
      view.alerts.push({
        rule: e.rule,
        ...(e.cluster ? { cluster: e.cluster } : {}),
        message: e.message,
        at: e.at,
      });
      break;
    case "abort.returned":
      view.abort = {
        returned: e.returned,
        leftOutOfService: e.leftOutOfService,
        // always there, empty when nothing came back (older journals' events may lack it)
        returnedWhy: e.returnedWhy ?? [],
      };
      break;
    case "observation":
      observe(view, e);
      break;
    default:
      break;
  }
}
