import { RollgateError } from "../model/errors.ts";

/**
 * SIGINT (Ctrl-C) and SIGTERM before the engine drives the run: while the servers are observed
 * (preflight, which waits for a server that does not answer up to the driver's timeout), the
 * plan asked about, the fleet locked. Nothing of the run is written yet, so the operation stops:
 * the pending step (raced()) ends with ROLLGATE_E_INTERRUPTED (exit 1, docs/errors.md), and what
 * comes after it never runs. Without this the process died by the signal (130/143), silently.
 * drive() takes the signals over (engineStarts) before the engine starts.
 */
export class EarlySignals {
  private stopped: RollgateError | undefined;
  private readonly waiting = new Set<(e: Error) => void>();
  private readonly withdraw = new AbortController();
  /** Aborted at the first signal: a question asked before the engine starts is withdrawn. */
  readonly questions = this.withdraw.signal;
  private readonly onSigint = () => this.stop("SIGINT");
  private readonly onSigterm = () => this.stop("SIGTERM");
  private on = true;
  constructor() {
    process.on("SIGINT", this.onSigint);
    process.on("SIGTERM", this.onSigterm);
  }
  private stop(signal: "SIGINT" | "SIGTERM"): void {
    this.signal ??= signal;
    this.stopped ??= new RollgateError(
      "ROLLGATE_E_INTERRUPTED",
      `${signal === "SIGINT" ? "Ctrl-C" : signal}: stopped before the run started; nothing was written`,
    );
    for (const reject of this.waiting) reject(this.stopped);
    this.waiting.clear();
    this.withdraw.abort(this.stopped);
  }
  /** Throws if a signal came. */
  check(): void {
    if (this.stopped) throw this.stopped;
  }
  /** p, or ROLLGATE_E_INTERRUPTED as soon as a signal comes (p's own end is then ignored). */
  raced<T>(p: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.stopped) {
        p.catch(() => undefined);
        return reject(this.stopped);
      }
      this.waiting.add(reject);
      p.then(resolve, reject).finally(() => this.waiting.delete(reject));
    });
  }
  private signal: "SIGINT" | "SIGTERM" | undefined;
  /**
   * The engine's own handling takes over (drive()), the run being in the store: returns the
   * signal that came since the last raced() step (drive() then treats it as its own).
   */
  engineStarts(): "SIGINT" | "SIGTERM" | undefined {
    this.dispose();
    return this.signal;
  }
  dispose(): void {
    if (!this.on) return;
    this.on = false;
    process.off("SIGINT", this.onSigint);
    process.off("SIGTERM", this.onSigterm);
  }
}
