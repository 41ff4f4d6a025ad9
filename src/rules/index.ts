/**
 * rules/: the rule packs (M1–M12, D1–D10, G1–G5; catalog in registry.ts) as named predicates. Pure: no I/O, no clock.
 *
 * The planner builds with these rules, the verifier (plan/verify.ts) checks plans with them, and
 * the engine (run/) calls them at runtime to explain why a step waits. The API, in the order an
 * engine uses it:
 *
 *   const ctx = ruleContext(fleet, plan.targets)          // targets: Map cluster → release
 *   const state = initialState(fleet, ctx.targets)         // the fleet as the file describes it
 *   canStart(state, step, ctx)     → { ok: true } | { ok: false, rule: "M4", reason: "…" }
 *   startStep(state, step)         // mutates: the effect that holds while the step runs; returns an Undo
 *   finishStep(state, step)        // mutates: the effect of the completed step; returns an Undo
 *   applyStep(state, step)         → a new FleetState with the step's whole effect (copying)
 *   failedStates(state, step)      → the states a failed step may leave behind (copies)
 *   failedState(state, step)       → the first of those: started, not completed
 *   checkState(state, ctx)         → RuleViolation[] (every rule, every capacity domain)
 *   checkDomain(state, ctx, d)     → RuleViolation[] for one domain (a supercluster, else a cluster)
 *   domainCapacity(state, ctx, d)  → fraction of the domain's capacity in service (G3)
 *
 * Every denial and violation names a rule id (`M2`, `D4`, `G3`, …) and says why in words, e.g.
 * "M2: srv3 (10.10.1.3) is higher in the matrix's address order and still on 3.5.0: it is
 * upgraded before srv2 (10.10.1.2)". `describeRule(id)` gives a rule's one-line statement,
 * `REGISTRY` (registry.ts) every rule with its kind, status and where it is enforced, and
 * `RULE_PACKS` every pack's rules.
 *
 * A FleetState is plain data (Maps of records). Its "old" and "new" releases are relative to the
 * targets it was created with. The engine may also set records from what it observes (e.g. a
 * server's `release`, `running`) before asking `canStart`.
 */
export {
  compatibleIn,
  isOld,
  maxUnavailable,
  PACK_COMPATIBILITY,
  PACK_MAX_UNAVAILABLE,
  policyFor,
  type RuleContext,
  ruleContext,
  upgradeOrder,
} from "./context.ts";
export {
  canStart,
  checkDomain,
  checkDomainInto,
  checkState,
  clusterServes,
  type Decision,
  domainCapacity,
  preconditions,
  type RuleViolation,
  serverServes,
} from "./checks.ts";
export { type M3Member, m3OutOfOrder } from "./predicates.ts";
export { functionsOf, type RuleFunctions, rulesWithFunctions } from "./functions.ts";
export { allEstimates, DEFAULT_ESTIMATES, estimateFor } from "../model/estimates.ts";
export {
  describeRule,
  ENFORCERS,
  type Enforcer,
  REGISTRY,
  RULE_PACK_NAMES,
  RULE_PACKS,
  RULES,
  type RuleEntry,
  type RuleKind,
  type RulePack,
  type RulePackName,
  type RuleSpec,
  type RuleStatus,
  rulesOfPack,
} from "./packs.ts";
export {
  applyStep,
  type ClusterRecord,
  cloneState,
  type FilesystemRecord,
  type FleetState,
  failedState,
  failedStates,
  finishStep,
  initialState,
  newSuperclusterName,
  observedStopped,
  onOldRelease,
  PARTIAL_EFFECT,
  type ServerRecord,
  type SuperclusterRecord,
  startStep,
  type TerritoryRecord,
  type Undo,
} from "./state.ts";
export { describeSupportedPaths, isSupportedMatrixPath, MATRIX_SUPPORTED_PATHS } from "./supported-paths.ts";
