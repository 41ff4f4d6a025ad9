import { RollgateError } from "../model/errors.ts";
import { DMA_ACTIONS, MATRIX_ACTIONS, type RuleId, type Step } from "../model/step.ts";
import { compareVersions } from "../model/version.ts";
import { isCompatible } from "./compatible.ts";
import { describeSupportedPaths, isSupportedMatrixPath } from "./supported-paths.ts";
import { policyFor, type RuleContext } from "./context.ts";
import { serverServes } from "./predicates.ts";
import { type ClusterRecord, type FleetState, levelOf, onOldRelease, type ServerRecord } from "./state.ts";

/**
 * The step preconditions, one named function per rule: what must hold before a step may start.
 * Each returns the reason the step is held back, or undefined when its rule lets it start.
 * `preconditions` asks them in catalog order and stops at the first (the verifier replays
 * millions of steps); `blockers` asks every one of them (the engine says all that holds a step
 * back). The registry (rules/functions.ts) names each function beside its rule.
 */

export type Decision =
  | { ok: true }
  | {
      ok: false;
      rule: RuleId;
      reason: string;
      /** Every rule that holds the step back, the first one included (canStart fills it). */
      blockers?: Blocker[];
    };

export interface Blocker {
  rule: RuleId;
  reason: string;
}

/** A server step's precondition: the step, the server it acts on, and whether it is a matrix server. */
export type ServerPrecondition = (
  state: FleetState,
  ctx: RuleContext,
  step: Step,
  server: ServerRecord,
  matrix: boolean,
) => string | undefined;

/** A DMA cluster step's precondition. */
export type ClusterPrecondition = (
  state: FleetState,
  ctx: RuleContext,
  step: Step,
  cluster: ClusterRecord,
) => string | undefined;

/** The server of `r`'s cluster highest in the upgrade order still on the old release, ranked above `r`. */
function higherStillOld(state: FleetState, ctx: RuleContext, r: ServerRecord): ServerRecord | undefined {
  let best: ServerRecord | undefined;
  let bestRank = ctx.rank.get(r.name)!;
  for (const o of state.serversOf.get(r.cluster) ?? []) {
    const k = ctx.rank.get(o.name)!;
    if (k < bestRank && onOldRelease(state, o)) {
      best = o;
      bestRank = k;
    }
  }
  return best;
}

// ── the matrix and generic per-server procedure ─────────────────────────────────────────────

/** M2: a matrix is upgraded from its highest address down; a server waits for every higher one. */
export const m2AddressOrder: ServerPrecondition = (state, ctx, step, r, matrix) => {
  if (!matrix || (step.action !== "disable" && step.action !== "install" && step.action !== "set-mode"))
    return undefined;
  if (state.rollbackFrom.has(r.cluster)) return undefined; // a rollback goes lowest first (m3RollbackOrder)
  if (state.fullStop.has(r.cluster)) return undefined; // all at once, the matrix down (M12)
  const first = state.firstHalf.get(r.cluster);
  if (first !== undefined) return halvesInOrder(state, r, first); // two halves (M12)
  const h = higherStillOld(state, ctx, r);
  if (!h) return undefined;
  return step.action === "disable"
    ? `${h.name} (${h.address}) is higher in the matrix's address order and still on ${levelOf(h, state.targetModes.get(h.cluster))}: it is upgraded before ${r.name} (${r.address})`
    : `${h.name} (${h.address}) is higher in the address order and still on ${levelOf(h, state.targetModes.get(h.cluster))}: ${r.name} must wait`;
};

/**
 * M2 in two halves (M12): the first half (the top of the address order) is upgraded together; a
 * server of the second half begins only once every server of the first runs the new release.
 */
function halvesInOrder(state: FleetState, r: ServerRecord, first: ReadonlySet<string>): string | undefined {
  if (first.has(r.name)) return undefined;
  for (const o of state.serversOf.get(r.cluster) ?? [])
    if (first.has(o.name) && (onOldRelease(state, o) || !o.running || o.installing !== undefined))
      return `${o.name} (${o.address}) of the first half (the top of the address order) is not back on the new release yet: the second half, ${r.name} (${r.address}) with it, waits for it`;
  return undefined;
}

/** M1: one matrix server at a time: no server leaves while another is being upgraded. */
export const m1OneAtATime: ServerPrecondition = (state, _ctx, step, r, matrix) => {
  if (!matrix || step.action !== "disable" || state.fullStop.has(r.cluster) || state.firstHalf.has(r.cluster))
    return undefined;
  for (const o of state.serversOf.get(r.cluster) ?? [])
    if (o !== r && !serverServes(o))
      return `${o.name} of ${r.cluster} is out of service (being upgraded, or stopped): one server at a time`;
  return undefined;
};

/** G2: a generic cluster upgrades in its declared order. */
export const g2DeclaredOrder: ServerPrecondition = (state, ctx, step, r, matrix) => {
  if (matrix || step.action !== "disable") return undefined;
  const rank = ctx.rank.get(r.name)!;
  for (const o of state.serversOf.get(r.cluster) ?? [])
    if (ctx.rank.get(o.name)! < rank && onOldRelease(state, o) && serverServes(o))
      return `${o.name} comes before ${r.name} in the declared order and has not started`;
  return undefined;
};

/**
 * M9: the per-server procedure, in its order: disable, back up, stop, install, start, verify (a
 * mode pass, M11, sets the mode where a release pass installs).
 */
export const m9Procedure: ServerPrecondition = (_state, _ctx, step, r) => {
  switch (step.action) {
    case "disable":
      return undefined;
    case "backup":
      return r.disabled ? undefined : `${r.name} is not disabled yet: disable, then back up`;
    case "stop":
      if (!r.disabled) return `${r.name} is not disabled yet: its virtual services must move away first`;
      return r.backedUp ? undefined : `${r.name}'s configuration is not backed up yet`;
    case "install":
      return r.running ? `${r.name} still runs: stop it before installing` : undefined;
    case "set-mode":
      return r.running ? `${r.name} still runs: stop it before setting its mode` : undefined;
    case "start":
      if (r.settingMode !== undefined) return `${r.name}'s mode change has not completed`;
      return r.installing !== undefined ? `${r.name}'s install has not completed` : undefined;
    case "verify":
      return r.running ? undefined : `${r.name} is not running: start it before verifying`;
    default:
      return undefined;
  }
};

/** M10: a server returns to the matrix only on the new release. */
export const m10ReturnUpgraded: ServerPrecondition = (state, _ctx, step, r) => {
  if (step.action !== "start") return undefined;
  const target = state.targets.get(r.cluster);
  if (target !== undefined && r.release !== target)
    return `${r.name} is still on ${r.release}: it is upgraded before it returns`;
  // a mode pass (M11): the server returns in the pass's mode
  const mode = state.targetModes.get(r.cluster);
  return mode !== undefined && r.mode !== mode
    ? `${r.name} is still in mode ${r.mode ?? "(none)"}: its mode is set to ${mode} before it returns`
    : undefined;
};

/**
 * M3 in a rollback: the servers go back to the old release lowest address first, one at a time,
 * so that those still on the newer release stay a top segment of the address order. A server
 * begins only once every lower-addressed server has gone back.
 */
export const m3RollbackOrder: ServerPrecondition = (state, ctx, step, r, matrix) => {
  const from = state.rollbackFrom.get(r.cluster);
  if (!matrix || from === undefined || (step.action !== "disable" && step.action !== "install"))
    return undefined;
  const target = state.targets.get(r.cluster);
  const rank = ctx.rank.get(r.name)!;
  for (const o of state.serversOf.get(r.cluster) ?? [])
    if (ctx.rank.get(o.name)! > rank && o.release !== target && o.installing !== target)
      return `${o.name} (${o.address}) is lower in the address order and still on ${o.release}: it goes back to ${target} before ${r.name} (${r.address}), so that the ${from} servers stay a top segment`;
  return undefined;
};

/** M3: a new-release server starts only when no higher-addressed old-release server runs. */
export const m3NoIsolation: ServerPrecondition = (state, ctx, step, r, matrix) => {
  if (!matrix || step.action !== "start") return undefined;
  const from = state.rollbackFrom.get(r.cluster);
  if (from !== undefined) {
    // a rollback: a server back on the old release starts only with no newer-release server below it
    return m3NewerBelowNone(state, ctx, r, from, r.release === from);
  }
  for (const o of state.serversOf.get(r.cluster) ?? [])
    if (o.running && onOldRelease(state, o) && ctx.rank.get(o.name)! < ctx.rank.get(r.name)!)
      return `${o.name} (${o.address}) still runs ${levelOf(o, state.targetModes.get(o.cluster))} and is higher in the address order: starting ${r.name} on ${levelOf(r, state.targetModes.get(r.cluster))} would isolate the old servers`;
  return undefined;
};

/** M3 for a server that starts in a rollback: `onNewer`, no older one runs above it; else, no newer one below. */
function m3NewerBelowNone(
  state: FleetState,
  ctx: RuleContext,
  r: ServerRecord,
  newer: string,
  onNewer: boolean,
): string | undefined {
  const rank = ctx.rank.get(r.name)!;
  for (const o of state.serversOf.get(r.cluster) ?? []) {
    if (!o.running || o === r) continue;
    const k = ctx.rank.get(o.name)!;
    if (onNewer && k < rank && o.release !== newer)
      return `${o.name} (${o.address}) still runs ${o.release} and is higher in the address order: starting ${r.name} on ${newer} would isolate it`;
    if (!onNewer && k > rank && o.release === newer)
      return `${o.name} (${o.address}) runs ${newer} and is lower in the address order: starting ${r.name} on ${r.release} above it would isolate ${r.name}`;
  }
  return undefined;
}

/**
 * M8: a rolling install (another server of the matrix still runs it) goes along a supported path;
 * with the whole matrix down (a full stop, M12) any release may be installed.
 */
export const m8SupportedPath: ServerPrecondition = (state, _ctx, step, r, matrix) => {
  if (!matrix || step.action !== "install" || !step.release || r.release === step.release) return undefined;
  if (isSupportedMatrixPath(r.release, step.release)) return undefined;
  const servers = state.serversOf.get(r.cluster) ?? [];
  // a rollback before the point of no return (M4): back to the release the matrix still runs
  if (
    state.rollbackFrom.has(r.cluster) &&
    compareVersions(step.release, r.release) < 0 &&
    servers.some((o) => o !== r && o.running && o.release === step.release)
  )
    return undefined;
  for (const o of servers)
    if (o !== r && o.running)
      return `${r.release} → ${step.release} on ${r.name} is not a supported rolling upgrade while ${o.name} runs the matrix (supported: ${describeSupportedPaths()})`;
  return undefined;
};

/**
 * The passes of a cluster follow each other, and one begins only once the pass before is over:
 * every server on its release (and, after a mode pass, in its mode), installed, running and enabled
 * again (each pass is a whole rolling upgrade, M1–M5). Asked for the passes of `rule`: M8's chain,
 * M11's declared passes.
 */
function passBlocked(rule: RuleId, state: FleetState, step: Step, r: ServerRecord): string | undefined {
  const pass = step.pass;
  if (pass === undefined || pass.rule !== rule) return undefined;
  const cur = state.passOf.get(r.cluster) ?? 0;
  if (pass.n === cur) return undefined;
  if (pass.n < cur) return `${step.id} belongs to pass ${pass.n} of ${r.cluster}, but pass ${cur} has begun`;
  if (pass.n > cur + 1) return `${step.id} belongs to pass ${pass.n} of ${r.cluster}, before pass ${cur + 1}`;
  if (cur === 0) return undefined;
  const prev = state.targets.get(r.cluster)!;
  const prevMode = state.targetModes.get(r.cluster);
  const what = pass.mode === undefined ? `to ${pass.to}` : `to mode ${pass.mode}`;
  const before = prevMode === undefined ? `to ${prev}` : `to mode ${prevMode}`;
  for (const o of state.serversOf.get(r.cluster) ?? []) {
    const why = stillInPass(o, prev, prevMode);
    if (why)
      return `pass ${pass.n} of ${r.cluster} (${what}) begins only once pass ${cur} (${before}) is over, and ${o.name} ${why}`;
  }
  return undefined;
}

/** Why server `o` has not finished the pass to `release` (and `mode`, a mode pass), or undefined. */
function stillInPass(o: ServerRecord, release: string, mode: string | undefined): string | undefined {
  if (o.installing !== undefined) return "is being installed";
  if (o.settingMode !== undefined) return "is having its mode set";
  if (compareVersions(o.release, release) < 0) return `still runs ${o.release}`;
  if (mode !== undefined && o.mode !== mode) return `is still in mode ${o.mode ?? "(none)"}`;
  if (!o.running) return "is not running";
  return o.disabled ? "is disabled" : undefined;
}

/** M8's chain: its passes, one after the other. */
export const passesInOrder: ServerPrecondition = (state, _ctx, step, r) => passBlocked("M8", state, step, r);

/** M11: the declared passes, one after the other, each a complete rolling pass. */
export const m11PassesInOrder: ServerPrecondition = (state, _ctx, step, r) =>
  passBlocked("M11", state, step, r);

/** Server-step preconditions in the order they are asked (the first that holds a step back is its rule). */
export const SERVER_PRECONDITIONS: ReadonlyArray<{ rule: RuleId; check: ServerPrecondition }> = [
  { rule: "M8", check: passesInOrder },
  { rule: "M11", check: m11PassesInOrder },
  { rule: "M2", check: m2AddressOrder },
  { rule: "M1", check: m1OneAtATime },
  { rule: "G2", check: g2DeclaredOrder },
  { rule: "M9", check: m9Procedure },
  { rule: "M10", check: m10ReturnUpgraded },
  { rule: "M8", check: m8SupportedPath },
  { rule: "M3", check: m3NoIsolation },
  { rule: "M3", check: m3RollbackOrder },
];

// ── the DMA cluster procedure ───────────────────────────────────────────────────────────────

/** D8: a cluster is verified after its install, and only a verified cluster joins or serves. */
export const d8Verified: ClusterPrecondition = (_state, _ctx, step, c) => {
  if (step.action === "verify")
    return c.installing === undefined ? undefined : `${c.name}'s install has not completed`;
  if (step.action === "join-supercluster" || step.action === "return-to-service")
    return c.verified ? undefined : `${c.name} has not passed its checks after the install`;
  return undefined;
};

/** D7: the install runs on a cluster taken out of service. */
export const d7BusiedOutForInstall: ClusterPrecondition = (_state, _ctx, step, c) =>
  step.action === "install" && c.inService
    ? `${c.name} is in service: busy it out before the install`
    : undefined;

/**
 * D4: territories go only to members of the supercluster they are reassigned in; a cluster leaves
 * only with no territory, busied out, every server online; an incompatible install happens outside
 * the supercluster.
 */
export const d4BeforeLeaving: ClusterPrecondition = (state, ctx, step, c) => {
  switch (step.action) {
    case "reassign-territories":
    case "restore-territories": {
      // a reassignment acts in the supercluster of the cluster it is sent to: its members take
      // the territories (D4, D6: territories are reassigned within a supercluster)
      const sc = c.supercluster === undefined ? undefined : state.superclusters.get(c.supercluster);
      for (const a of step.territories ?? [])
        for (const n of [a.primary, a.backup]) {
          if (n === undefined) continue;
          const o = state.clusters.get(n);
          if (!o || o.lineage !== c.lineage)
            return `territory ${a.name} cannot go to ${n}: it is not a cluster of ${c.lineage}`;
          if (!sc?.members.has(n))
            return `territory ${a.name} cannot go to ${n} through ${c.name}: ${n} is not a member of ${c.supercluster ?? `a supercluster with ${c.name}`}`;
        }
      return undefined;
    }
    case "leave-supercluster": {
      if (c.supercluster === undefined) return `${c.name} is not a member of a supercluster`;
      for (const t of state.territoriesOf.get(c.lineage ?? "") ?? [])
        if (t.primary === c.name || t.backup === c.name)
          return `${c.name} is still ${t.primary === c.name ? "primary" : "backup"} of territory ${t.name}: reassign it first`;
      if (c.inService) return `${c.name} is still in service: busy it out before it leaves`;
      for (const r of state.serversOf.get(c.name) ?? [])
        if (!r.running) return `${r.name} is offline: all servers must be online when ${c.name} leaves`;
      return undefined;
    }
    case "install": {
      if (c.supercluster === undefined || !step.release) return undefined;
      const policy = policyFor(ctx.fleet, ctx.clusters.get(c.name)!);
      for (const m of state.superclusters.get(c.supercluster)?.members ?? []) {
        const o = state.clusters.get(m)!;
        if (!isCompatible(o.release, step.release, policy))
          return `${c.name} is a member of ${c.supercluster} where ${m} runs ${o.release}: ${step.release} is incompatible, so it must leave first`;
      }
      return undefined;
    }
    default:
      return undefined;
  }
};

/** D10: an upgraded cluster joins the founder of the new supercluster, never the other way. */
export const d10JoinTheFounder: ClusterPrecondition = (state, _ctx, step, c) => {
  if (step.action !== "join-supercluster") return undefined;
  if (c.supercluster !== undefined) return `${c.name} is already a member of ${c.supercluster}`;
  const host = step.joins ? state.clusters.get(step.joins) : undefined;
  const sc = host?.supercluster ? state.superclusters.get(host.supercluster) : undefined;
  // a supercluster of the file (no founder: its members share the lineage's data store) is joined
  // through any member, the joiner's data store replaced by the supercluster's (a rollback's
  // rejoin, D9); a new one only through its founder
  if (!host || !sc || (sc.founder !== undefined && sc.founder !== host.name) || sc.lineage !== c.lineage)
    return `${c.name} must join the founder of the new supercluster, and ${step.joins ?? "nothing"} is not it: its data store would replace the upgraded one`;
  return undefined;
};

/** D2: a cluster joins only a supercluster whose release is compatible with its own. */
export const d2CompatibleJoin: ClusterPrecondition = (state, ctx, step, c) => {
  if (step.action !== "join-supercluster") return undefined;
  const host = step.joins ? state.clusters.get(step.joins) : undefined;
  if (!host) return undefined; // D10 holds such a join back
  return isCompatible(c.release, host.release, policyFor(ctx.fleet, ctx.clusters.get(c.name)!))
    ? undefined
    : `${c.name} runs ${c.release}, incompatible with ${host.name}'s ${host.release}`;
};

/** D6: a cluster of a supercluster returns to service only as a member of one. */
export const d6ServeAsMember: ClusterPrecondition = (_state, _ctx, step, c) =>
  step.action === "return-to-service" && c.lineage !== undefined && c.supercluster === undefined
    ? `${c.name} is in no supercluster: it joins the new one before it returns`
    : undefined;

/** DMA-step preconditions in the order they are asked. */
export const CLUSTER_PRECONDITIONS: ReadonlyArray<{ rule: RuleId; check: ClusterPrecondition }> = [
  { rule: "D8", check: d8Verified },
  { rule: "D7", check: d7BusiedOutForInstall },
  { rule: "D4", check: d4BeforeLeaving },
  { rule: "D10", check: d10JoinTheFounder },
  { rule: "D2", check: d2CompatibleJoin },
  { rule: "D6", check: d6ServeAsMember },
];

// ── asking them ─────────────────────────────────────────────────────────────────────────────

/** A step this fleet cannot have: the plan was made for another fleet. No rule: a catalog error. */
function foreignStep(step: Step, why: string): RollgateError {
  return new RollgateError(
    "ROLLGATE_E_PLAN_FOREIGN_STEP",
    `step ${step.id}: ${why}: the plan does not belong to this fleet`,
  );
}

type Subject =
  | { kind: "server"; server: ServerRecord; matrix: boolean }
  | { kind: "cluster"; cluster: ClusterRecord };

function subjectOf(state: FleetState, step: Step): Subject {
  const c = state.clusters.get(step.cluster);
  if (!c) throw foreignStep(step, `no cluster ${step.cluster}`);
  if (step.server !== undefined) {
    const r = state.servers.get(step.server);
    if (!r || r.cluster !== c.name) throw foreignStep(step, `no server ${step.server} in ${step.cluster}`);
    if (!(MATRIX_ACTIONS as readonly string[]).includes(step.action))
      throw foreignStep(step, `${step.action} is not a step of the per-server procedure`);
    return { kind: "server", server: r, matrix: c.pack === "polyserve-matrix" };
  }
  if (c.pack !== "polycom-dma") throw foreignStep(step, `${step.action} on ${c.name} names no server`);
  if (!(DMA_ACTIONS as readonly string[]).includes(step.action))
    throw foreignStep(step, `${step.action} is not a DMA cluster step`);
  return { kind: "cluster", cluster: c };
}

function ask(state: FleetState, ctx: RuleContext, step: Step, all: boolean): Blocker[] {
  const subject = subjectOf(state, step);
  const out: Blocker[] = [];
  if (subject.kind === "server") {
    for (const p of SERVER_PRECONDITIONS) {
      const reason = p.check(state, ctx, step, subject.server, subject.matrix);
      if (reason === undefined) continue;
      out.push({ rule: p.rule, reason });
      if (!all) break;
    }
  } else {
    for (const p of CLUSTER_PRECONDITIONS) {
      const reason = p.check(state, ctx, step, subject.cluster);
      if (reason === undefined) continue;
      out.push({ rule: p.rule, reason });
      if (!all) break;
    }
  }
  return out;
}

const OK: Decision = { ok: true };

/**
 * The preconditions of a step in this state (order, procedure, join gates), without the state
 * predicates of what the step's start would lead to: the first rule that holds it back. Throws
 * ROLLGATE_E_PLAN_FOREIGN_STEP for a step whose cluster, server or action the fleet lacks.
 */
export function preconditions(state: FleetState, ctx: RuleContext, step: Step): Decision {
  const [first] = ask(state, ctx, step, false);
  return first ? { ok: false, rule: first.rule, reason: first.reason } : OK;
}

/** Every precondition rule that holds `step` back now, each with its reason (empty: none). */
export function preconditionBlockers(state: FleetState, ctx: RuleContext, step: Step): Blocker[] {
  return ask(state, ctx, step, true);
}
