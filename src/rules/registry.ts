import type { PackName } from "../model/fleet.ts";
import type { RuleId } from "../model/step.ts";

/**
 * The rule registry: every rule of the catalog (docs/rules.md; M1–M12, D1–D10 with D8a–c,
 * G1–G5) as one named value, with what it says, why the manuals ask for it, and where rollgate
 * enforces it. `rollgate rules` prints it; test/rules/traceability.test.ts keeps it honest (a
 * `built` rule names at least one enforcer and is named by a test; the rest say `not built`).
 *
 * Where a rule is enforced (`enforcedBy`), each entry found by reading the code for the id:
 * - planner: src/plan/ builds plans that keep it (order, strategy, schedule, marks, refusals);
 * - verifier: plan/verify.ts replays every plan over rules/state.ts and checks it with the
 *   predicates of rules/checks.ts (state predicates, step preconditions, end-state checks);
 * - engine: src/run/ at run time: its rule gate (run/rule-gate.ts) asks the same rules/checks.ts
 *   predicates again before every step, and its own reactions (observed effects, escalations,
 *   alerts, return to service);
 * - lab: src/lab/, the simulated appliances behave as the manual says (refuse, isolate, fail).
 *
 * Pure data: no I/O.
 */

/** How a rule bears on an upgrade. */
export type RuleKind =
  /** holds at every instant of a plan and a run */
  | "state predicate"
  /** holds before a step starts */
  | "step precondition"
  /** a choice the planner makes: strategy, order, schedule, marks */
  | "planning"
  /** what the engine does while a run goes on: observe, route, escalate, alert */
  | "engine reaction"
  /** behaviour of the appliances, found only in the lab */
  | "lab";

export type Enforcer = "planner" | "verifier" | "engine" | "lab";

export const ENFORCERS: readonly Enforcer[] = ["planner", "verifier", "engine", "lab"];

export type RuleStatus = "built" | "not built";

/** The packs rules belong to: a fleet file's pack names, and `general` for the G rules every pack carries. */
export type RulePackName = Exclude<PackName, "generic"> | "general";

export interface RuleEntry {
  id: RuleId;
  pack: RulePackName;
  /** One line: what the rule requires (explanations and violations quote it). */
  statement: string;
  kind: RuleKind;
  /** Why the manual asks for it, in our words. */
  why: string;
  status: RuleStatus;
  /** Where rollgate enforces it; empty when `not built`. */
  enforcedBy: readonly Enforcer[];
  /** What part is built, when not all of it, or what the id is used for when not built. */
  note?: string;
}

const MATRIX = "polyserve-matrix" as const;
const DMA = "polycom-dma" as const;
const GENERAL = "general" as const;

// ── Matrix Server (polyserve-matrix) ───────────────────────────────────────────────────────────

export const M1: RuleEntry = {
  id: "M1",
  pack: MATRIX,
  statement: "one server of a matrix at a time",
  kind: "state predicate",
  why: "the matrix tolerates one member away at a time during a rolling upgrade",
  status: "built",
  enforcedBy: ["planner", "verifier", "engine"],
};

export const M2: RuleEntry = {
  id: "M2",
  pack: MATRIX,
  statement: "numerically highest matrix-known address first, lowest last",
  kind: "step precondition",
  why: "old-release servers expect upgraded servers above them in the address order; the order that matters is the address the matrix lists, not the highest interface",
  status: "built",
  enforcedBy: ["planner", "verifier", "engine"],
};

export const M3: RuleEntry = {
  id: "M3",
  pack: MATRIX,
  statement: "new-release servers form a top segment of the address order",
  kind: "state predicate",
  why: "a new-release server running above an old-release one makes the old ones think they must leave: they stop sending configuration and status updates",
  status: "built",
  enforcedBy: ["planner", "verifier", "engine", "lab"],
};

export const M4: RuleEntry = {
  id: "M4",
  pack: MATRIX,
  statement: "once the last old-release server has left, only new-release servers join",
  kind: "state predicate",
  why: "the matrix finalizes on the new release when its last old-release server leaves: from then on no server can return on the old release (a point of no return)",
  status: "built",
  enforcedBy: ["planner", "verifier", "engine", "lab"],
};

export const M5: RuleEntry = {
  id: "M5",
  pack: MATRIX,
  statement: "a filesystem unmounted on the last old-release server stays new-only",
  kind: "state predicate",
  why: "the shared filesystem may be mounted by both releases only until the last old-release server lets it go",
  status: "built",
  enforcedBy: ["planner", "verifier", "engine", "lab"],
};

export const M6: RuleEntry = {
  id: "M6",
  pack: MATRIX,
  statement: "mixed-release operation is transient: the mixed window is minimized",
  kind: "planning",
  why: "a mixed-release matrix is supported only while the upgrade runs, so it should last as short a time as possible",
  status: "built",
  enforcedBy: ["planner", "verifier", "engine"],
  note: "the planner schedules the servers back to back and reports the mixed window; the verifier checks every server ends on the target; the engine alerts past the fleet's maxMixedWindow (an alert, not a halt)",
};

export const M7: RuleEntry = {
  id: "M7",
  pack: MATRIX,
  statement: "while mixed, manage through an old-release server",
  kind: "engine reaction",
  why: "while the matrix is mixed, management commands are understood only by a server on the old release",
  status: "built",
  enforcedBy: ["engine", "lab"],
};

export const M8: RuleEntry = {
  id: "M8",
  pack: MATRIX,
  statement: "rolling upgrades only along the supported paths",
  kind: "planning",
  why: "the manual supports a rolling upgrade only from listed source releases; any other source needs a chain of supported upgrades or a full stop",
  status: "built",
  enforcedBy: ["planner", "verifier", "engine", "lab"],
  note: "a source with no direct supported path is planned as the shortest chain of supported rolling upgrades (3.4.2 → 3.6.0 → 4.1.0), one full pass per hop with its own point of no return; with no chain, the planner refuses (ROLLGATE_E_PLAN_UNSUPPORTED_PATH) and lists the supported paths. The verifier and the engine's gate check every rolling install's path and that a pass begins only once the one before is over; the lab refuses an unsupported rolling install by itself. A matrix already running two releases off a supported path (3.4.2 beside 4.1.0) breaks M8 as it stands: the verifier reports it before the first step and the planner refuses it as bad input (ROLLGATE_E_PLAN_FLEET_BREAKS_RULES). A full stop (M12, --strategy all-at-once) installs any release with the matrix down",
};

export const M9: RuleEntry = {
  id: "M9",
  pack: MATRIX,
  statement: "per-server procedure: disable, back up, stop, install, start, verify",
  kind: "step precondition",
  why: "disabling first moves the virtual services away; the backup allows recovery; the server counts as upgraded only once it has rejoined on the new release",
  status: "built",
  enforcedBy: ["planner", "verifier", "engine", "lab"],
};

export const M10: RuleEntry = {
  id: "M10",
  pack: MATRIX,
  statement: "a server out of the matrix is upgraded before it returns",
  kind: "step precondition",
  why: "a server away during the upgrade would come back on the old release into a matrix that has moved on",
  status: "built",
  enforcedBy: ["verifier", "engine", "lab"],
};

export const M11: RuleEntry = {
  id: "M11",
  pack: MATRIX,
  statement: "multi-pass upgrades repeat M1–M5 per pass",
  kind: "planning",
  why: "some upgrades need two complete rolling passes (e.g. a release change, then a mode change), each one a rolling upgrade in its own right",
  status: "built",
  enforcedBy: ["planner", "verifier", "engine", "lab"],
  note: "a matrix's fleet file declares its mode (`mode:`) and its upgrade's passes in order (`passes: [release, { mode: M }]`); the planner plans each as a complete rolling pass in the address order with its own point of no return, a mode pass's per-server procedure setting the mode (set-mode) where a release pass installs, and skips a pass already done. The verifier holds a pass back until the one before is over (m11PassesInOrder) and judges M3–M5 on the modes in a mode pass; no state may differ in release and in mode at once (m11OnePassAtATime). The engine sets, observes and verifies the mode; the lab refuses a mode change in a matrix of two releases and a release change in one of two modes, and judges a newer mode as a newer release (M3 isolation, M4's join gate, M5). Going back from a mode pass is not built: rollback and abort --rollback refuse it",
};

export const M12: RuleEntry = {
  id: "M12",
  pack: MATRIX,
  statement: "alternatives: all at once, or two halves",
  kind: "planning",
  why: "when a rolling upgrade is not possible, the manual offers a full stop (all servers at once) or two halves",
  status: "built",
  enforcedBy: ["planner", "verifier", "engine", "lab"],
  note: "both alternatives, as strategies of a matrix, never picked by auto, shown by --compare beside rolling: the full stop (--strategy all-at-once: every server stopped, installed and started together, a full outage, only at capacity floor 0, any release) and the two halves (--strategy two-halves: the top of the address order upgraded together while the rest runs the matrix, then the rest together; no outage, half the matrix out at once within the floor, a supported path only, M3 and M5 kept at the switch)",
};

// ── DMA supercluster (polycom-dma) ─────────────────────────────────────────────────────────────

export const D1: RuleEntry = {
  id: "D1",
  pack: DMA,
  statement: "a supercluster is up to five peer clusters of one or two servers",
  kind: "planning",
  why: "the product's limits: a supercluster has at most five clusters, all peers, each of one or two servers",
  status: "built",
  enforcedBy: ["engine", "lab"],
  note: "the fleet file's validation (model/fleet-file.ts) refuses a bigger supercluster or cluster, or mixed packs; the engine checks a joining cluster is in no other supercluster; the lab refuses a sixth member",
};

export const D2: RuleEntry = {
  id: "D2",
  pack: DMA,
  statement: "clusters of one supercluster always run compatible releases",
  kind: "state predicate",
  why: "clusters of one supercluster share data; only releases of the same major.minor understand each other",
  status: "built",
  enforcedBy: ["planner", "verifier", "engine", "lab"],
};

export const D3: RuleEntry = {
  id: "D3",
  pack: DMA,
  statement: "a patch upgrade runs on each cluster while it stays in the supercluster",
  kind: "planning",
  why: "a compatible (patch) release may run beside the others, so a cluster needs not leave to be upgraded",
  status: "built",
  enforcedBy: ["planner", "engine"],
};

export const D4: RuleEntry = {
  id: "D4",
  pack: DMA,
  statement: "before leaving: territories reassigned, busied out, all servers online",
  kind: "step precondition",
  why: "a leaving cluster's territories must be served by others, its calls must end first, and a server offline during removal may come back inconsistent",
  status: "built",
  enforcedBy: ["planner", "verifier", "engine", "lab"],
};

export const D5: RuleEntry = {
  id: "D5",
  pack: DMA,
  statement: "maintenance window: all leave, all upgrade, rejoin the first",
  kind: "planning",
  why: "the simplest and fastest strategy, at the price of no service for the window",
  status: "built",
  enforcedBy: ["planner", "engine", "lab"],
};

export const D6: RuleEntry = {
  id: "D6",
  pack: DMA,
  statement: "incremental: leave, upgrade, join the new supercluster, one by one",
  kind: "planning",
  why: "keeps service up with two superclusters side by side, at the price of reassignments at every leave and join and a much longer run",
  status: "built",
  enforcedBy: ["planner", "verifier", "engine", "lab"],
};

export const D7: RuleEntry = {
  id: "D7",
  pack: DMA,
  statement: "basic procedure: install on every server of the cluster, then settle",
  kind: "step precondition",
  why: "the install runs on both servers of a cluster and takes its own backup; login works again only some minutes after it",
  status: "built",
  enforcedBy: ["planner", "verifier", "engine", "lab"],
};

export const D8: RuleEntry = {
  id: "D8",
  pack: DMA,
  statement: "verify after the install; escalate on failure",
  kind: "step precondition",
  why: "an upgraded cluster is used again only once it shows itself clustered, both servers up and the private link working; anything else needs a person",
  status: "built",
  enforcedBy: ["planner", "verifier", "engine", "lab"],
};

export const D8a: RuleEntry = {
  id: "D8a",
  pack: DMA,
  statement: "escalate when login fails long after the estimated install time",
  kind: "engine reaction",
  why: "a login still failing well past the package's estimated install time means the install went wrong",
  status: "built",
  enforcedBy: ["engine", "lab"],
};

export const D8b: RuleEntry = {
  id: "D8b",
  pack: DMA,
  statement: "escalate when the dashboard shows one server of two",
  kind: "engine reaction",
  why: "a two-server cluster showing one server after its upgrade has lost its pair",
  status: "built",
  enforcedBy: ["engine", "lab"],
};

export const D8c: RuleEntry = {
  id: "D8c",
  pack: DMA,
  statement: "escalate when the servers' package versions differ",
  kind: "engine reaction",
  why: "the two servers of a cluster must run the same package; a difference means one install did not take",
  status: "built",
  enforcedBy: ["engine", "lab"],
};

export const D9: RuleEntry = {
  id: "D9",
  pack: DMA,
  statement: "only the last upgrade can be rolled back",
  kind: "planning",
  why: "a rollback restores the database from before the last upgrade only (losing what was written since), and a superclustered cluster must leave to be rolled back",
  status: "built",
  enforcedBy: ["planner", "verifier", "engine", "lab"],
  note: "rollgate rollback FLEET --cluster C (and apply --rollback --cluster C) reads from the cluster what its rollback returns to (rollbackTo: the release before its last applied upgrade, none after a rollback) and plans the manual's procedure: its territories to the other members (D4), busy out, leave, roll back (an install marked rollback: the point of no return, G4, since data written since the upgrade may be lost), verify (D8), rejoin a compatible supercluster of its lineage (D2, D10), return, territories back; the verifier replays it; the engine performs it as a journaled run; the lab keeps the release before the last upgrade and the data store from then, restores both on a rollback, and refuses a rollback to any other release, a second step back, and a plain install of an older release. The planner also cites D9 with G4 on the leave it marks as a point of no return",
};

export const D10: RuleEntry = {
  id: "D10",
  pack: DMA,
  statement: "upgraded clusters join the founder of the new supercluster",
  kind: "step precondition",
  why: "a joining cluster's data store is replaced by a copy of the one it joins, so the direction decides whose data survives",
  status: "built",
  enforcedBy: ["planner", "verifier", "engine", "lab"],
};

// ── every pack (general) ───────────────────────────────────────────────────────────────────────

export const G1: RuleEntry = {
  id: "G1",
  pack: GENERAL,
  statement: "releases running side by side are compatible under the declared policy",
  kind: "state predicate",
  why: "a rolling upgrade runs two releases together; they must be able to work together under the pack's or the fleet's policy",
  status: "built",
  enforcedBy: ["planner", "verifier", "engine"],
};

export const G2: RuleEntry = {
  id: "G2",
  pack: GENERAL,
  statement: "servers are upgraded in the declared order",
  kind: "step precondition",
  why: "products other than the two with manuals have their own order (by address, by name, leader last, an explicit list)",
  status: "built",
  enforcedBy: ["planner", "verifier", "engine"],
  note: "every declared form is built (address descending or ascending, name, roleLast, list), for the generic pack; the matrix pack always uses M2, DMA installs a cluster's servers together (D7)",
};

export const G3: RuleEntry = {
  id: "G3",
  pack: GENERAL,
  statement: "max unavailable servers per cluster and capacity floor per domain",
  kind: "state predicate",
  why: "an upgrade without an outage keeps enough servers serving at every instant",
  status: "built",
  enforcedBy: ["planner", "verifier", "engine", "lab"],
};

export const G4: RuleEntry = {
  id: "G4",
  pack: GENERAL,
  statement: "points of no return are marked and confirmed",
  kind: "planning",
  why: "after some steps the old release cannot come back; an operator should say yes to them knowingly",
  status: "built",
  enforcedBy: ["planner", "verifier", "engine"],
};

export const G5: RuleEntry = {
  id: "G5",
  pack: GENERAL,
  statement: "observe before acting; a step already done is recorded as done",
  kind: "engine reaction",
  why: "the fleet may differ from the plan (an operator acted by hand, a run was interrupted); repeating a done step can do harm",
  status: "built",
  enforcedBy: ["planner", "engine", "lab"],
  note: "the planner plans a part-done fleet from where it stands; the engine observes before each step; the lab answers a repeated action as already done",
};

/** Every rule, in catalog order. */
export const REGISTRY: readonly RuleEntry[] = [
  M1,
  M2,
  M3,
  M4,
  M5,
  M6,
  M7,
  M8,
  M9,
  M10,
  M11,
  M12,
  D1,
  D2,
  D3,
  D4,
  D5,
  D6,
  D7,
  D8,
  D8a,
  D8b,
  D8c,
  D9,
  D10,
  G1,
  G2,
  G3,
  G4,
  G5,
];

/** The pack names `rollgate rules --pack` takes. */
export const RULE_PACK_NAMES: readonly RulePackName[] = [MATRIX, DMA, GENERAL];

/** The rules of one registry pack (`general`: the G rules). */
export function rulesOfPack(pack: RulePackName): RuleEntry[] {
  return REGISTRY.filter((r) => r.pack === pack);
}

/**
 * Where a rule is documented: its section of docs/rules.md, whose heading is the id itself (GitHub
 * lowercases a heading into its anchor: `### D8b` → `#d8b`). "docs/rules.md#m3"
 */
export function ruleDocLink(id: RuleId): string {
  return `docs/rules.md#${id.toLowerCase()}`;
}
