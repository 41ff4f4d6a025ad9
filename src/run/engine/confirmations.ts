import { noReturnWords, type Step } from "../../model/step.ts";
import type { EngineContext } from "./context.ts";
import { mayStart } from "./schedule.ts";

/**
 * Asks once for a point of no return (G4), in a side task: the loop never waits for a person.
 * "yes" confirms it in the store; "wait" leaves it to a confirmation through the store
 * (dashboard); "halt", or no way to ask, halts the run before it once nothing else can run.
 */
export async function requestConfirmation(ctx: EngineContext, step: Step): Promise<void> {
  if (ctx.confirmationAsked.has(step.id)) return;
  ctx.confirmationAsked.add(step.id);
  const rules = step.rules.filter((r) => r !== "G4").join(", ");
  await ctx.emit({
    type: "confirmation.needed",
    step: step.id,
    rule: "G4",
    reason: `${step.id} is a point of no return${rules ? ` (${rules})` : ""}: after it ${noReturnWords(step)}`,
  });
  if ((await ctx.runState()).state === "running")
    await ctx.setState("awaiting-confirmation", `G4: ${step.id}`);
  if (!ctx.o.confirm) {
    ctx.halted.add(step.id);
    return;
  }
  ctx.awaitingAnswer.add(step.id);
  ctx.o
    .confirm(step)
    .then(async (answer) => {
      if (answer === "yes" && (await mayStart(ctx)) && !ctx.escalation) await ctx.confirm(step.id);
      else if (answer === "halt") ctx.halted.add(step.id);
      else if (answer === "no") {
        ctx.halted.add(step.id);
        ctx.declined ??= step.id;
      }
    })
    .catch((e: unknown) => {
      // a question withdrawn unasked after an operator's "no" to another: it halts with that one
      if (ctx.declined !== undefined) ctx.halted.add(step.id);
      // Ctrl-C at the prompt: stop as on SIGINT (running steps finish, the run pauses).
      else if ((e as Error)?.name === "AbortError")
        requestStop(ctx, "interrupted at the confirmation prompt");
      else ctx.halted.add(step.id);
    })
    .finally(() => {
      ctx.awaitingAnswer.delete(step.id);
      ctx.wake?.();
    });
}

/** Start no new step; once running steps end, the run is paused and run() returns (Ctrl-C). */
export function requestStop(ctx: EngineContext, reason: string): void {
  ctx.stopRequested = reason;
  ctx.wake?.();
}
