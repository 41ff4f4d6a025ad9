import type { PackName } from "../model/fleet.ts";
import type { RuleId } from "../plan/types.ts";

/**
 * The rule packs and the ids of the manuals' rules (M1–M12, D1–D10, G1–G5). Each id has a one-line title that
 * explanations and violations quote. `enforced` says how the id bears on planning: as a state
 * predicate (checked at every instant), a precondition of steps (checked before a step starts), a
 * planning choice (strategy, order, schedule) or not at all (it concerns the engine or the lab).
 */
export interface RuleSpec {
  id: RuleId;
  title: string;
  enforced: "state" | "precondition" | "planning" | "engine";
}

const M: RuleSpec[] = [
  { id: "M1", title: "one server of a matrix at a time", enforced: "state" },
  {
    id: "M2",
    title: "numerically highest matrix-known address first, lowest last",
    enforced: "precondition",
  },
  {
    id: "M3",
    title: "new-release servers form a top segment of the address order",
    enforced: "state",
  },
  {
    id: "M4",
    title: "once the last old-release server has left, only new-release servers join",
    enforced: "state",
  },
  {
    id: "M5",
    title: "a filesystem unmounted on the last old-release server stays new-only",
    enforced: "state",
  },
  {
    id: "M6",
    title: "mixed-release operation is transient: the mixed window is minimized",
    enforced: "planning",
  },
  { id: "M7", title: "while mixed, manage through an old-release server", enforced: "engine" },
  { id: "M8", title: "rolling upgrades only along the supported paths", enforced: "planning" },
  {
    id: "M9",
    title: "per-server procedure: disable, back up, stop, install, start, verify",
    enforced: "precondition",
  },
  { id: "M10", title: "a server out of the matrix is upgraded before it returns", enforced: "precondition" },
  { id: "M11", title: "multi-pass upgrades repeat M1–M5 per pass", enforced: "planning" },
  { id: "M12", title: "alternatives: all at once, or two halves", enforced: "planning" },
];

const D: RuleSpec[] = [
  {
    id: "D1",
    title: "a supercluster is up to five peer clusters of one or two servers",
    enforced: "planning",
  },
  { id: "D2", title: "clusters of one supercluster always run compatible releases", enforced: "state" },
  {
    id: "D3",
    title: "a patch upgrade runs on each cluster while it stays in the supercluster",
    enforced: "planning",
  },
  {
    id: "D4",
    title: "before leaving: territories reassigned, busied out, all servers online",
    enforced: "precondition",
  },
  { id: "D5", title: "maintenance window: all leave, all upgrade, rejoin the first", enforced: "planning" },
  {
    id: "D6",
    title: "incremental: leave, upgrade, join the new supercluster, one by one",
    enforced: "planning",
  },
  {
    id: "D7",
    title: "basic procedure: install on every server of the cluster, then settle",
    enforced: "precondition",
  },
  { id: "D8", title: "verify after the install; escalate on failure", enforced: "precondition" },
  { id: "D8a", title: "escalate when login fails long after the estimated install time", enforced: "engine" },
  { id: "D8b", title: "escalate when the dashboard shows one server of two", enforced: "engine" },
  { id: "D8c", title: "escalate when the servers' package versions differ", enforced: "engine" },
  { id: "D9", title: "only the last upgrade can be rolled back", enforced: "planning" },
  {
    id: "D10",
    title: "upgraded clusters join the founder of the new supercluster",
    enforced: "precondition",
  },
];

const G: RuleSpec[] = [
  {
    id: "G1",
    title: "releases running side by side are compatible under the declared policy",
    enforced: "state",
  },
  { id: "G2", title: "servers are upgraded in the declared order", enforced: "precondition" },
  { id: "G3", title: "max unavailable servers per cluster and capacity floor per domain", enforced: "state" },
  { id: "G4", title: "points of no return are marked and confirmed", enforced: "planning" },
  { id: "G5", title: "observe before acting; a step already done is recorded as done", enforced: "engine" },
];

export interface RulePack {
  name: PackName;
  rules: RuleSpec[];
}

/** The three packs; every pack also carries the shared G rules. */
export const RULE_PACKS: Record<PackName, RulePack> = {
  "polyserve-matrix": { name: "polyserve-matrix", rules: [...M, ...G] },
  "polycom-dma": { name: "polycom-dma", rules: [...D, ...G] },
  generic: { name: "generic", rules: G },
};

export const RULES: ReadonlyMap<RuleId, RuleSpec> = new Map([...M, ...D, ...G].map((r) => [r.id, r]));

/** "M2 numerically highest matrix-known address first, lowest last" */
export function describeRule(id: RuleId): string {
  const r = RULES.get(id);
  return r ? `${id} ${r.title}` : id;
}
