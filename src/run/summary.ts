import { foldJournal, type RunSummary as Summary, summaryOf } from "../events/fold.ts";
import { type RunRecord, type Store, shownEngine } from "../store/types.ts";

/** What `rollgate status` (and GET /api/runs/:id) tells about a run, read from the journal alone (events/fold.ts). */
export type RunSummary = Summary<RunRecord>;

export async function summarizeRun(store: Store, run: RunRecord): Promise<RunSummary> {
  const plan = await store.getPlan(run.id);
  const s = summaryOf(foldJournal(plan, await store.events(run.id)), run);
  // the fields in the order `status --json` has always printed them
  return {
    run,
    target: run.target,
    strategy: run.strategy,
    progress: s.progress,
    running: s.running,
    waiting: s.waiting,
    awaitingConfirmation: s.awaitingConfirmation,
    escalation: s.escalation,
    alerts: s.alerts,
    undelivered: s.undelivered,
    engine: shownEngine(await store.engineHolder(run.fleet)),
    secondsLeft: s.secondsLeft,
    estimate: s.estimate,
    lastSeq: s.lastSeq,
    ...(s.abort ? { abort: s.abort } : {}),
    ...(plan.limit ? { limit: plan.limit } : {}),
  };
}
