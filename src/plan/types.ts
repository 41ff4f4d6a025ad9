/**
 * The plan: what `rollgate plan --json` prints and what the engine executes.
 * Fields may be added; none renamed (issue 3's contract). Times are seconds from the start.
 */

/** Rule ids of the rule catalog (rules/registry.ts: M1–M12, D1–D10, G1–G5, with letters such as D8b). */
export type RuleId = string;

export const MATRIX_ACTIONS = ["disable", "backup", "stop", "install", "start", "verify"] as const;
export const DMA_ACTIONS = [
  "reassign-territories",
  "busy-out",
  "leave-supercluster",
  "install",
  "verify",
  "join-supercluster",
  "restore-territories",
  "return-to-service",
] as const;
export type MatrixAction = (typeof MATRIX_ACTIONS)[number];
export type DmaAction = (typeof DMA_ACTIONS)[number];
export type StepAction = MatrixAction | DmaAction;

export const STRATEGIES = ["rolling", "patch", "maintenance-window", "incremental"] as const;
export type Strategy = (typeof STRATEGIES)[number];
export type StrategyChoice = Strategy | "auto";

/** A territory assignment as a step sets it. */
export interface TerritoryAssignment {
  name: string;
  primary: string;
  backup?: string;
}

export interface Step {
  /** Stable, readable id, e.g. "matrix-a/srv3/install" or "dma-nyc/leave-supercluster". */
  id: string;
  action: StepAction;
  cluster: string;
  /** Matrix and generic steps act on one server; DMA cluster steps have none (all servers). */
  server?: string;
  /** join-supercluster: the cluster this one joins (D10: the founder of the new supercluster). */
  joins?: string;
  /** install: the release installed. */
  release?: string;
  /** Supercluster acted on (leave/join), when relevant. */
  supercluster?: string;
  /** reassign-/restore-territories: the assignment in force after the step (territories listed). */
  territories?: TerritoryAssignment[];
  /** reassign-territories: territories recorded and left unassigned until restored (D5). */
  unassigned?: string[];
  /** verify: once verified, the cluster founds this new supercluster (D6, D10: the others join it). */
  founds?: string;
  /** Ids of the steps that must be done before this one starts. */
  after: string[];
  start: number;
  end: number;
  /** The rules that placed this step (order, gating, content). */
  rules: RuleId[];
  /** G4: after this step the old release cannot come back; needs explicit confirmation. */
  pointOfNoReturn: boolean;
  /** Why the step is where it is, one line per rule, for --explain. */
  explain?: string[];
}

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
}
