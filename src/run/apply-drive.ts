import { driverFor as defaultDriverFor } from "../drivers/index.ts";
import type { Fleet } from "../model/fleet.ts";
import { noReturnAfterIt, type Step } from "../model/step.ts";
import type { Plan } from "../plan/types.ts";
import type { RunRecord, Store } from "../store/types.ts";
import type { EarlySignals } from "./apply-signals.ts";
import type { DriveHooks, DriveResult } from "./apply-types.ts";
import { pauseRun } from "./control.ts";
import { Engine } from "./engine.ts";
import type { LeaseGuard } from "./engine/types.ts";
import { ruleGate } from "./rule-gate.ts";

type DriveInput = DriveHooks & { confirmFinalize: boolean; escalateFactor?: number };
type Signal = "SIGINT" | "SIGTERM";

/** The engine drives the run: the G4 questions asked, SIGINT and SIGTERM pausing it. */
export async function drive(
  store: Store,
  run: RunRecord,
  fleet: Fleet,
  plan: Plan,
  statePath: string,
  input: DriveInput,
  early: EarlySignals,
  lease?: LeaseGuard,
): Promise<DriveResult> {
  if (input.confirmFinalize) {
    const already = new Set(run.confirmed);
    const steps = plan.steps.filter((s) => s.pointOfNoReturn && !already.has(s.id)).map((s) => s.id);
    if (steps.length && store.confirmMany)
      for (const e of await store.confirmMany(run.id, steps, "--confirm-finalize")) input.onEvent?.(e);
    else for (const s of steps) input.onEvent?.(await store.confirm(run.id, s, "--confirm-finalize"));
  }
  await input.onStore?.(store, run);
  // A question still open (or waiting its turn) is withdrawn when the engine ends, at the first
  // signal, and after an operator's "no": the run halts there, nothing more is asked.
  const questions = new AbortController();
  const declined = new Set<string>();
  const confirm = pointOfNoReturnQuestion(input, questions, declined, () => void interrupt("SIGINT"));
  const engine = new Engine({
    store,
    runId: run.id,
    fleet,
    plan,
    driverFor: input.driverFor ?? defaultDriverFor,
    gate: ruleGate(fleet, plan),
    confirm,
    ...(input.onEvent ? { onEvent: input.onEvent } : {}),
    ...(input.escalateFactor ? { escalateFactor: input.escalateFactor } : {}),
    ...(input.correctOutOfOrder ? { correctOutOfOrder: true } : {}),
    ...(lease ? { lease } : {}),
  });
  const { interrupt, onSigint, onSigterm } = engineInterrupts(store, run, input, questions, (reason) =>
    engine.requestStop(reason),
  );
  // from here a signal pauses the run; one that came while the run was being created does too
  const came = early.engineStarts();
  process.on("SIGINT", onSigint);
  process.on("SIGTERM", onSigterm);
  if (came) void interrupt(came);
  input.onJournalAside?.((body) => engine.noteAside(body));
  try {
    const result = await engine.run().finally(() => {
      input.onJournalAside?.(undefined);
      questions.abort();
    });
    return {
      ...result,
      runId: run.id,
      plan,
      statePath,
      ...(result.needsConfirmation && declined.has(result.needsConfirmation) ? { declined: true } : {}),
    };
  } finally {
    process.off("SIGINT", onSigint);
    process.off("SIGTERM", onSigterm);
  }
}

/**
 * The engine's confirm (G4): on a terminal, the question at each point of no return; a "no"
 * withdraws every other question. Without a terminal the run waits for a confirmation through the
 * store (the dashboard) or halts.
 */
function pointOfNoReturnQuestion(
  input: DriveInput,
  questions: AbortController,
  declined: Set<string>,
  ctrlC: () => void,
): (step: Step) => Promise<"yes" | "wait" | "halt" | "no"> {
  return async (step) => {
    if (input.ask) {
      let yes: boolean;
      try {
        yes = await input.ask(
          `${step.id} is a point of no return (${step.rules.join(", ")}): ${noReturnAfterIt(step)}. Go on?`,
          questions.signal,
        );
      } catch (e) {
        // Ctrl-C at the question (the terminal is in raw mode, so no SIGINT): a Ctrl-C as any other
        if ((e as Error)?.name === "AbortError" && !questions.signal.aborted) ctrlC();
        throw e;
      }
      if (yes) return "yes";
      declined.add(step.id);
      questions.abort();
      return "no";
    }
    return input.waitForConfirmation ? "wait" : "halt";
  };
}

/**
 * SIGINT (Ctrl-C) and SIGTERM pause the run as `rollgate pause` does, durably in the store, at
 * once: no new step starts, running steps finish and reach the journal, then the engine returns
 * "paused" (exit 1). A signal never lands inside a journal write: better-sqlite3 writes
 * synchronously, and a handler runs between two of them. Every further signal is only told
 * to the shell (onInterrupt), which may exit at once; the run is then left as after a crash,
 * paused, and resume observes the steps that were under way again.
 */
function engineInterrupts(
  store: Store,
  run: RunRecord,
  input: DriveInput,
  questions: AbortController,
  requestStop: (reason: string) => void,
): { interrupt: (signal: Signal) => Promise<void>; onSigint: () => void; onSigterm: () => void } {
  let interrupts = 0;
  const interrupt = async (signal: Signal) => {
    interrupts += 1;
    if (interrupts === 1) {
      const before = await store.lastSeq();
      try {
        await pauseRun(
          store,
          (await store.getRun(run.id))!,
          `an operator (${signal === "SIGINT" ? "Ctrl-C" : signal})`,
        );
      } catch {
        // escalated, being aborted, or the store unusable: the engine still stops starting steps
      }
      for (const e of await store.events(run.id, before)) input.onEvent?.(e);
      requestStop(`${signal}: running steps finished, no new step started`);
      // an open question is withdrawn at once: its answer could no longer confirm anything
      questions.abort();
    }
    if (input.onInterrupt)
      input.onInterrupt({
        signal,
        count: interrupts,
        runId: run.id,
        state: (await store.getRun(run.id))!.state,
      });
    else if (interrupts > 1) {
      // no shell to decide: the second signal does what it does to any program that does not catch it
      process.off("SIGINT", onSigint);
      process.off("SIGTERM", onSigterm);
      process.kill(process.pid, signal);
    }
  };
  const onSigint = () => void interrupt("SIGINT");
  const onSigterm = () => void interrupt("SIGTERM");
  return { interrupt, onSigint, onSigterm };
}
