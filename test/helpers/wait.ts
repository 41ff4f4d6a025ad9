import { vi } from "vitest";
import { availableParallelism, loadavg } from "node:os";

/**
 * How busy the machine is: the 1-minute load average per core, at least 1. A deadline in a test
 * is a budget of machine time, not of wall time: on a machine twice as loaded as it has cores, a
 * 20 s budget lasts up to 40 s of wall time (capped at four times the budget).
 */
export function busyFactor(): number {
  const perCore = (loadavg()[0] ?? 0) / Math.max(1, availableParallelism());
  const fromEnv = Number(process.env.ROLLGATE_TEST_TIME_SCALE);
  const base = Number.isFinite(fromEnv) && fromEnv > 0 ? fromEnv : 1;
  return Math.min(4, Math.max(1, base, perCore * base));
}

/** A budget in milliseconds scaled for the machine as it is now (see `busyFactor`). */
export function budget(ms: number): number {
  return Math.round(ms * busyFactor());
}

/**
 * Waits until `check` returns a truthy value, polling, or fails after the deadline. No fixed
 * sleeps. The deadline is a budget of machine time: each poll interval is charged at the rate the
 * machine's load allows (`busyFactor`), so a busy machine gets more wall time, up to 4×.
 */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  options: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<NonNullable<T>> {
  const budgetMs = options.timeoutMs ?? 20_000;
  const hardDeadline = Date.now() + budgetMs * 4;
  let spent = 0;
  let last: unknown;
  let before = Date.now();
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (e) {
      last = e;
    }
    const now = Date.now();
    spent += (now - before) / busyFactor();
    before = now;
    if (spent > budgetMs || now > hardDeadline) {
      throw new Error(
        `timed out waiting for ${options.what ?? "condition"}${last ? `: ${String(last)}` : ""}`,
      );
    }
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 25));
  }
}

/**
 * Declares the time budget of every test and hook in an end-to-end test file (one that starts
 * processes, labs or servers), scaled for the machine's load when the file loads. Such files
 * never run on vitest's default timeout, which is for the pure tests
 * (test/arch/timeouts.test.ts checks that every such file declares one).
 */
export function e2eTimeouts(ms: number): void {
  vi.setConfig({ testTimeout: budget(ms), hookTimeout: budget(ms) });
}
