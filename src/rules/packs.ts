import type { PackName } from "../model/fleet.ts";
import type { RuleId } from "../model/step.ts";
import { REGISTRY, type RuleEntry } from "./registry.ts";

export {
  ENFORCERS,
  type Enforcer,
  REGISTRY,
  RULE_PACK_NAMES,
  type RuleEntry,
  type RuleKind,
  type RulePackName,
  type RuleStatus,
  rulesOfPack,
} from "./registry.ts";

/**
 * The rule packs over the rule registry (registry.ts: every rule of M1–M12, D1–D10, G1–G5 as one
 * named value, with its one-line statement, kind, status and enforcers). Explanations and
 * violations quote a rule's statement through `describeRule`.
 */
export type RuleSpec = RuleEntry;

export interface RulePack {
  name: PackName;
  rules: RuleSpec[];
}

const M = REGISTRY.filter((r) => r.pack === "polyserve-matrix");
const D = REGISTRY.filter((r) => r.pack === "polycom-dma");
const G = REGISTRY.filter((r) => r.pack === "general");

/** The three packs; every pack also carries the shared G rules. */
export const RULE_PACKS: Record<PackName, RulePack> = {
  "polyserve-matrix": { name: "polyserve-matrix", rules: [...M, ...G] },
  "polycom-dma": { name: "polycom-dma", rules: [...D, ...G] },
  generic: { name: "generic", rules: G },
};

export const RULES: ReadonlyMap<RuleId, RuleSpec> = new Map(REGISTRY.map((r) => [r.id, r]));

/** "M2 numerically highest matrix-known address first, lowest last" */
export function describeRule(id: RuleId): string {
  const r = RULES.get(id);
  return r ? `${id} ${r.statement}` : id;
}
