import type { RuleId } from "../model/step.ts";
import { CLUSTER_PRECONDITIONS, SERVER_PRECONDITIONS } from "./preconditions.ts";
import {
  d2OneRelease,
  d4TerritoriesServed,
  g1SideBySide,
  g3CapacityFloor,
  m1g3Unavailable,
  m3OutOfOrder,
  m3TopSegment,
  m4NoOldAfterLast,
  m5NewOnlyMounts,
  m8SupportedSideBySide,
  m11OnePassAtATime,
} from "./predicates.ts";

/**
 * The functions that decide each rule: the registry's link from an id to its code. The planner,
 * the verifier and the engine's gate ask these through rules/checks.ts (canStart, preconditions,
 * checkDomain); `rollgate rules --json` lists their names; test/rules/traceability.test.ts checks
 * that every built state predicate and step precondition of the registry has its function here,
 * and that no function here decides a rule the registry says is not built.
 */
export interface RuleFunctions {
  /** Step preconditions: what must hold before a step may start. */
  preconditions: readonly string[];
  /** State predicates: what holds at every instant of a plan and a run. */
  predicates: readonly string[];
}

const STATE_PREDICATES: ReadonlyArray<{ rule: RuleId; check: { name: string } }> = [
  { rule: "M1", check: m1g3Unavailable },
  { rule: "G3", check: m1g3Unavailable },
  { rule: "M3", check: m3TopSegment },
  { rule: "M3", check: m3OutOfOrder },
  { rule: "M4", check: m4NoOldAfterLast },
  { rule: "M5", check: m5NewOnlyMounts },
  { rule: "M8", check: m8SupportedSideBySide },
  { rule: "M11", check: m11OnePassAtATime },
  { rule: "G1", check: g1SideBySide },
  { rule: "D2", check: d2OneRelease },
  { rule: "D4", check: d4TerritoriesServed },
  { rule: "G3", check: g3CapacityFloor },
];

const PRECONDITIONS: ReadonlyArray<{ rule: RuleId; check: { name: string } }> = [
  ...SERVER_PRECONDITIONS,
  ...CLUSTER_PRECONDITIONS,
];

/** The names of the functions that decide `rule` (empty lists: none decides it by itself). */
export function functionsOf(rule: RuleId): RuleFunctions {
  return {
    preconditions: PRECONDITIONS.filter((p) => p.rule === rule).map((p) => p.check.name),
    predicates: STATE_PREDICATES.filter((p) => p.rule === rule).map((p) => p.check.name),
  };
}

/** Every rule some function decides. */
export function rulesWithFunctions(): RuleId[] {
  return [...new Set([...PRECONDITIONS, ...STATE_PREDICATES].map((p) => p.rule))];
}
