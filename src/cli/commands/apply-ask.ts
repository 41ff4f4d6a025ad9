import { createInterface } from "node:readline/promises";
import type { CliContext } from "../main.ts";
import { painter, terminalText } from "../output.ts";
import type { LiveView } from "../views/live-view.ts";

/** The confirm question at a point of no return (G4), on the terminal: undefined off a terminal. */
export function terminalAsk(
  ctx: CliContext,
  live: LiveView,
): ((q: string, signal?: AbortSignal) => Promise<boolean>) | undefined {
  if (!process.stdin.isTTY || !process.stderr.isTTY) return undefined;
  // One question at a time: several points of no return may come up at once (a maintenance
  // window's leaves). Each waits for the one before it to be answered, and is asked on its own
  // (naming its step): a second readline on the same terminal would read the same keys, so one
  // "y" answered questions that were never shown.
  let queue: Promise<unknown> = Promise.resolve();
  return (question, signal) => {
    const asked = queue.then(() => askOne(ctx, live, question, signal));
    queue = asked.catch(() => undefined);
    return asked;
  };
}

function askOne(ctx: CliContext, live: LiveView, question: string, signal?: AbortSignal): Promise<boolean> {
  // withdrawn while it waited its turn (the engine ended): never shown, never answered
  if (signal?.aborted) return Promise.reject(signal.reason ?? new DOMException("withdrawn", "AbortError"));
  return live.around(async () => {
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    try {
      const answer = await rl.question(
        terminalText(`${painter(ctx.output.color)("bold", question)} [y/N] `),
        signal ? { signal } : {},
      );
      return /^y(es)?$/i.test(answer.trim());
    } catch (e) {
      // withdrawn while shown (a signal, the engine's end, a "no" to another question): what
      // comes next starts on a line of its own, not after the prompt
      if (signal?.aborted) process.stderr.write("\n");
      throw e;
    } finally {
      rl.close();
    }
  });
}
