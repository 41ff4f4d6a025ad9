/**
 * The run options' defaults, written once: the CLI's flags, `apply()` and the engine take them
 * from here (docs/engine.md). A run's options are compiled once into one defaulted object
 * (`withRunDefaults`) where the engine starts.
 */
export const RUN_DEFAULTS = {
  /** D8a: a step escalates past k × its estimate (`--escalate-after k`). */
  escalateFactor: 2,
  /** How often the engine looks again when nothing woke it, ms. */
  tickMs: 100,
} as const;

export interface RunTuning {
  escalateFactor?: number;
  tickMs?: number;
  now?: () => number;
}

/** The options with every default filled in: what the engine reads. */
export function withRunDefaults<T extends RunTuning>(
  options: T,
): T & Required<Pick<RunTuning, "escalateFactor" | "tickMs" | "now">> {
  return {
    ...options,
    escalateFactor: options.escalateFactor ?? RUN_DEFAULTS.escalateFactor,
    tickMs: options.tickMs ?? RUN_DEFAULTS.tickMs,
    now: options.now ?? (() => Date.now()),
  };
}
