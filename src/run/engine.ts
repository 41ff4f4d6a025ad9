import type { RunEventBody } from "../events/types.ts";
import type { Plan } from "../plan/types.ts";
import { requestStop } from "./engine/confirmations.ts";
import { EngineContext } from "./engine/context.ts";
import { loop } from "./engine/loop.ts";
import type { EngineOptions, EngineResult } from "./engine/types.ts";

export type { EngineOptions, EngineResult } from "./engine/types.ts";

/**
 * The engine (docs/engine.md): the entry of src/run/engine/. The reconcile loop (loop.ts), the
 * step executor (executor.ts), confirmations at points of no return (confirmations.ts, G4), the
 * matrix watch and the M3 correction and M7's receiver (matrix-watch.ts, offenders.ts), timeout
 * diagnosis (timeouts.ts), what an escalation leaves out of service (out-of-service.ts), the
 * return to service on abort (abort-return.ts) and the journal's replay on restart (replay.ts)
 * share one EngineContext (context.ts), through which every use of the store goes.
 */
export class Engine {
  private readonly ctx: EngineContext;

  constructor(options: EngineOptions) {
    this.ctx = new EngineContext(options);
  }

  /** Start no new step; once running steps end, the run is paused and run() returns (Ctrl-C). */
  requestStop(reason: string): void {
    requestStop(this.ctx, reason);
  }

  private loaded: Promise<void> | undefined;
  private ended = false;

  /**
   * Journals an event from beside the engine (a notification that could not be delivered,
   * docs/notifications.md) the way the engine journals what no action waits on (`note`): held,
   * and written with the engine's next durable write or within HOLD_MS, never awaited by a step.
   * False once the engine has ended (its last write is made or under way): the caller journals
   * the event itself then.
   */
  noteAside(body: RunEventBody): boolean {
    if (this.ended) return false;
    this.ctx.note(body);
    return true;
  }

  /**
   * Reads the run's journal (where each step stands, replayed into the gate) before anything
   * acts; run() does it first. Once per engine.
   */
  load(): Promise<void> {
    this.loaded ??= this.ctx.load();
    return this.loaded;
  }

  /** Runs until the plan is done, or the run is escalated, aborted, or halted for a confirmation. */
  async run(): Promise<EngineResult> {
    let result: EngineResult;
    try {
      await this.load();
      result = await loop(this.ctx);
    } finally {
      // Never hand the store back while a step still runs: its outcome must reach the journal.
      await Promise.allSettled([...this.ctx.running.values()]);
      this.ended = true;
      // the events held for the next write (observations, steps done) reach the journal too
      // (unless the lease was lost: another engine writes the journal now)
      await this.ctx.flush();
    }
    // a step that ended because the lease was lost: the run goes on elsewhere; this engine stops
    if (this.ctx.leaseLost) throw this.ctx.leaseLost;
    return result;
  }
}

export type { Plan };
