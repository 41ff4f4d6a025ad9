import type { Cluster, Fleet } from "../model/fleet.ts";
import type { StrategyChoice } from "../model/step.ts";
import type { Driver } from "../drivers/driver.ts";
import type { RunEvent, RunEventBody, RunState } from "../events/types.ts";
import type { Plan } from "../plan/types.ts";
import type { RunRecord, Store } from "../store/types.ts";
import type { EngineResult } from "./engine.ts";

/** The inputs and results of `rollgate apply` and `rollgate resume` (run/apply.ts re-exports them). */
/** Plans a fleet for `--to` specs ("3.5.1", or "NAME=RELEASE" per cluster, supercluster or pack). */
export type Planner = (fleet: Fleet, targets: string[], strategy: StrategyChoice) => Plan;

/** `--limit` as the run records it (its plan's `limit`), in a canonical order for comparing. */
export function limitKey(limit: readonly string[] | undefined): string {
  return [...new Set((limit ?? []).map((l) => l.trim()))].sort().join(",");
}

export interface DriveHooks {
  /** Asks a yes/no question on the terminal; undefined when there is no terminal. */
  ask?: (question: string, signal?: AbortSignal) => Promise<boolean>;
  onPlan?: (plan: Plan, info: { resumed: boolean; runId?: string; done?: string[] }) => void;
  onEvent?: (event: RunEvent) => void;
  /**
   * Called with the fleet as soon as it is read and valid, before anything is planned, observed
   * or written (apply: the file given; resume: the run's): what the shell needs of it (the
   * `notify:` webhooks) is checked here, and a throw ends the command with nothing done.
   */
  onFleet?: (fleet: Fleet, fleetFile: string) => void;
  /**
   * Called with a way to journal an event beside the engine while it drives the run (its
   * `noteAside`: not awaited, written with the engine's next write or within 50 ms), then with
   * undefined once it has ended. A `false` from it: the engine has ended, journal it yourself.
   */
  onJournalAside?: (journal: ((body: RunEventBody) => boolean) | undefined) => void;
  /** Points of no return wait for a confirmation through the store (the dashboard) instead of halting. */
  waitForConfirmation?: boolean;
  driverFor?: (cluster: Cluster) => Driver;
  /** Apply the manual's M3 correction instead of escalating (docs/engine.md). */
  correctOutOfOrder?: boolean;
  /** Called once the store is open and the run known (the dashboard attaches here). */
  onStore?: (store: Store, run: RunRecord) => void | Promise<void>;
  /**
   * Called on every SIGINT or SIGTERM (or Ctrl-C at the point-of-no-return question) while the
   * engine drives the run, after the first one has paused it (see drive()). The shell says what
   * happens; on the second one it may exit at once: the run stays resumable.
   */
  onInterrupt?: (interrupt: Interrupt) => void;
  /**
   * Said when this engine waits (a PostgreSQL store): as a standby while another engine holds the
   * run's lease, or for the host lock a former leader on this host still holds (docs/ha.md).
   */
  onStandby?: (message: string) => void;
}

export interface Interrupt {
  signal: "SIGINT" | "SIGTERM";
  /** 1 for the first signal of this engine, 2 for the second, … */
  count: number;
  runId: string;
  /** The run's state in the store just after the signal: "paused", unless it was escalated or being aborted. */
  state: RunState;
}

export interface ApplyInput extends DriveHooks {
  fleetFile: string;
  /** The `--to` values. */
  targets: string[];
  strategy: StrategyChoice;
  statePath?: string;
  yes: boolean;
  confirmFinalize: boolean;
  escalateFactor?: number;
  planner: Planner;
  /**
   * apply's own `--limit` (none: `[]`): an unfinished run of this fleet and target started with
   * another limit is refused before the fleet is planned, so that the refusal is the limit's and
   * not a whole-fleet plan's (a fleet part way through a limited run plans as drift). Undefined:
   * no such check (the planner's limit decides).
   */
  limit?: readonly string[];
}

export interface DriveResult extends EngineResult {
  runId: string;
  plan: Plan;
  statePath: string;
  /** The operator answered no at the point of no return the run halted before (G4). */
  declined?: boolean;
  /**
   * A standby that did not drive the run says why (it finished under another engine; it is
   * paused, escalated or waits for a confirmation, which a standby leaves to a person).
   */
  leftAlone?: string;
}

export interface ResumeInput extends DriveHooks {
  statePath: string;
  runId?: string;
  /** A fleet file to use instead of the one the run was started from. */
  fleetFile?: string;
  confirmFinalize: boolean;
  escalateFactor?: number;
  /** `--limit` given to resume (or apply's when it resumes): must be the run's own. */
  limit?: readonly string[];
  /**
   * A standby (`rollgate engine`): it continues a running run it takes over, never one a person
   * paused or must look at. apply that waited for the lease is one too.
   */
  standby?: boolean;
}
