/**
 * The contracts every layer shares: rule ids, step actions, strategies, territory assignments and
 * the step itself (the unit of a plan, of the rule checks, of the engine and of the journal).
 * They sit at the bottom (model/), so that rules/, plan/, run/, drivers/ and the lab all name
 * them without importing each other. Fields may be added; none renamed (issue 3's contract).
 */

/** Rule ids of the rule catalog (rules/registry.ts: M1–M12, D1–D10, G1–G5, with letters such as D8b). */
export type RuleId = string;

export const MATRIX_ACTIONS = [
  "disable",
  "backup",
  "stop",
  "install",
  "set-mode",
  "start",
  "verify",
  // not a step of a plan: an abort with return to service enables a server the run only disabled
  // (run/engine/abort-return.ts, M9's disable undone; docs/appliance-api.md's enable)
  "enable",
] as const;
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

export const STRATEGIES = [
  "rolling",
  "patch",
  "maintenance-window",
  "incremental",
  "all-at-once",
  "two-halves",
] as const;
export type Strategy = (typeof STRATEGIES)[number];
export type StrategyChoice = Strategy | "auto";

/** A territory assignment as a step sets it. */
export interface TerritoryAssignment {
  name: string;
  primary: string;
  backup?: string;
}

/** One rolling pass of a multi-pass upgrade (every step of the pass shares one frozen object). */
export interface StepPass {
  /** 1-based. */
  n: number;
  /** How many passes the cluster's upgrade takes. */
  of: number;
  /** The release every server of the cluster runs once the pass is over. */
  to: string;
  /**
   * A mode pass (M11): the mode every server of the matrix runs in once the pass is over (its
   * per-server procedure sets the mode, `set-mode`, where a release pass installs). Absent: a
   * release pass.
   */
  mode?: string;
  /** The rule that made the upgrade take several passes: M8 (a chained path), M11 (declared passes). */
  rule: RuleId;
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
  /** set-mode (M11): the mode the server is set to. */
  mode?: string;
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
  /**
   * The rolling pass of its cluster the step belongs to, when the cluster's upgrade takes more than
   * one (M8's chained path: 3.4.2 → 3.6.0 → 4.1.0, one pass per hop). Absent in a one-pass upgrade.
   */
  pass?: StepPass;
  /**
   * M12's full stop (`--strategy all-at-once`): the matrix is down for the upgrade, every server
   * upgraded together; one at a time (M1) and the address order (M2) do not apply to its steps.
   */
  fullStop?: true;
  /**
   * M12's two halves (`--strategy two-halves`): the half of the matrix it belongs to. Half 1, the
   * top of the address order, is upgraded together while half 2 runs the matrix; then half 2,
   * together, while half 1 runs it on the new release. One at a time (M1) does not apply; the
   * address order (M2) holds between the halves, M3 and M5 hold throughout.
   */
  half?: 1 | 2;
  /**
   * D9: a DMA install that rolls the cluster's last applied upgrade back to `release` (the lab and
   * an appliance refuse any other way to an older release). Its point of no return: the data
   * written since that upgrade may be lost.
   */
  rollback?: true;
  /** Why the step is where it is, one line per rule, for --explain. */
  explain?: string[];
}

/**
 * What a point of no return gives up, in the words the plan, the question and the journal use
 * (G4): an upgrade's old release; a DMA rollback's data written since the upgrade (D9, the
 * manual's "data written since may be lost"); the last member's leave, its supercluster.
 */
const OLD_RELEASE_GONE = "the old release cannot come back";

/** A mode pass's (M11): the servers in the old mode cannot rejoin once the last one has left (M4). */
const OLD_MODE_GONE = "the old mode cannot come back";

/** `noReturnWords` as the question at a point of no return puts it ("… cannot come back after it"). */
export function noReturnAfterIt(step: Step): string {
  const words = noReturnWords(step);
  return words === OLD_RELEASE_GONE || words === OLD_MODE_GONE ? `${words} after it` : `after it ${words}`;
}

export function noReturnWords(step: Step): string {
  if (step.rollback)
    return "the cluster's data store returns to its state before its last upgrade, and data written since may be lost (D9)";
  if (step.action === "leave-supercluster" && step.id.endsWith("@rollback"))
    return "its supercluster is gone with its last member";
  if (step.pass?.mode !== undefined) return OLD_MODE_GONE;
  return OLD_RELEASE_GONE;
}
