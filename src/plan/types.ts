import type { RuleId, Step, Strategy } from "../model/step.ts";

/**
 * The plan: what `rollgate plan --json` prints and what the engine executes.
 * Fields may be added; none renamed (issue 3's contract). Times are seconds from the start.
 * Its steps and their contracts live in model/step.ts.
 */

export interface Violation {
  rule: RuleId;
  /** The step after which (or in whose failure branch) the state breaks the rule. */
  step?: string;
  /** "after" the step, or "failed": the state when the step fails and the engine halts. */
  branch?: "after" | "failed" | "during";
  at?: number;
  detail: string;
}

export interface Verification {
  ok: boolean;
  statesChecked: number;
  violations: Violation[];
}

export interface PlanEstimate {
  seconds: number;
  lowerBoundSeconds: number;
  /** Lowest fraction of capacity in service at any instant (G3). */
  minCapacity: number;
  /** Seconds during which some service is fully down (0 for zero-outage plans). */
  outageSeconds?: number;
  /** Longest mixed-release window of any cluster or supercluster, seconds (M6, D6). */
  mixedWindowSeconds?: number;
}

/** A cluster a `--limit` plan leaves as it is (docs/planning.md, "A subset at a time"). */
export interface LeftAlone {
  cluster: string;
  /** Its supercluster, if it has one. */
  supercluster?: string;
  /** Why: "not in --limit". */
  reason: string;
}

export interface Plan {
  fleet: string;
  /** The target as given: "3.5.1", or the `--to` selectors joined by commas. */
  target: string;
  /** The target release of every cluster the plan upgrades. */
  targets: Record<string, string>;
  /** The strategy of the DMA superclusters' upgrade, "rolling" when there is none. */
  strategy: Strategy;
  /** G3: the floor the plan keeps (defaults.capacityFloor). */
  capacityFloor: number;
  steps: Step[];
  estimate: PlanEstimate;
  verification: Verification;
  /**
   * What the planner found in the fleet and what it does about it, one line each with rule ids
   * (a supercluster part way through its upgrade is planned from where it stands, G5).
   */
  findings?: string[];
  /** `--strategy auto`: why this strategy (the shortest plan that keeps the floor; docs/planning.md). */
  choice?: string;
  /** `--limit` as given: only the clusters it names are planned and touched. */
  limit?: string[];
  /**
   * A rollback before the point of no return (`rollgate rollback`, plan/rollback.ts): per matrix,
   * the newer release it leaves; `targets` holds the older release it returns to.
   */
  rollback?: { from: Record<string, string> };
  /** With `--limit`: every cluster left as it is, and why. The verifier still replays the whole fleet. */
  leftAlone?: LeftAlone[];
}
