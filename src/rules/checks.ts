import { type CompatibilityPolicy, isCompatible as isCompatibleUncached } from "../model/compatibility.ts";
import type { RuleId, Step } from "../model/step.ts";
import { maxUnavailable, policyFor, type RuleContext } from "./context.ts";
import { type ClusterRecord, type FleetState, onOldRelease, type ServerRecord, startStep } from "./state.ts";

/** A rule broken by a state, with a reason a person can read. */
export interface RuleViolation {
  rule: RuleId;
  cluster?: string;
  detail: string;
}

export type Decision = { ok: true } | { ok: false; rule: RuleId; reason: string };

const EPS = 1e-9;

// G1/D2 are asked the same few release pairs millions of times when verifying a large plan
const COMPAT = new WeakMap<CompatibilityPolicy, Map<string, boolean>>();
function isCompatible(a: string, b: string, policy: CompatibilityPolicy): boolean {
  if (a === b) return true;
  let m = COMPAT.get(policy);
  if (!m) {
    m = new Map();
    COMPAT.set(policy, m);
  }
  const key = `${a}|${b}`;
  let v = m.get(key);
  if (v === undefined) {
    v = isCompatibleUncached(a, b, policy);
    m.set(key, v);
  }
  return v;
}

function deny(rule: RuleId, reason: string): Decision {
  return { ok: false, rule, reason };
}
const OK: Decision = { ok: true };

// ── capacity (G3) ───────────────────────────────────────────────────────────────────────────

/** A server serves when it runs, is not disabled and is not being installed. */
export function serverServes(r: ServerRecord): boolean {
  return r.running && !r.disabled && r.installing === undefined;
}

/** A DMA cluster serves when it takes conferences as a member of a supercluster (or alone). */
export function clusterServes(c: ClusterRecord): boolean {
  return (
    c.inService && c.installing === undefined && (c.lineage === undefined || c.supercluster !== undefined)
  );
}

/** Fraction of a capacity domain's weight in service now (1 for an empty domain). */
export function domainCapacity(state: FleetState, ctx: RuleContext, domain: string): number {
  let total = 0;
  let serving = 0;
  for (const name of ctx.domainClusters.get(domain) ?? []) {
    const c = state.clusters.get(name)!;
    if (c.pack === "polycom-dma") {
      total += c.capacity;
      if (clusterServes(c)) serving += c.capacity;
    } else {
      for (const r of state.serversOf.get(name) ?? []) {
        total += r.capacity;
        if (serverServes(r)) serving += r.capacity;
      }
    }
  }
  return total === 0 ? 1 : serving / total;
}

// ── state predicates ────────────────────────────────────────────────────────────────────────

const NO_SERVERS: ServerRecord[] = [];

// M2/G2 ranks of a cluster's server records, per rule context (the records' list is stable for a
// state): the checks ask them at every instant of a replay
const RANKS = new WeakMap<RuleContext, WeakMap<ServerRecord[], Int32Array>>();
function ranksOf(ctx: RuleContext, servers: ServerRecord[]): Int32Array {
  let m = RANKS.get(ctx);
  if (!m) {
    m = new WeakMap();
    RANKS.set(ctx, m);
  }
  let r = m.get(servers);
  if (!r || r.length !== servers.length) {
    r = new Int32Array(servers.length);
    for (let i = 0; i < servers.length; i++) r[i] = ctx.rank.get(servers[i]!.name) ?? 0;
    m.set(servers, r);
  }
  return r;
}

// "old" as onOldRelease has it: below the state's target `t` for the cluster (no closure per check)
function isOld(r: ServerRecord, t: string | undefined): boolean {
  return t !== undefined && r.release !== t && r.installing !== t;
}

function checkServerCluster(state: FleetState, ctx: RuleContext, name: string, out: RuleViolation[]): void {
  const cluster = ctx.clusters.get(name)!;
  const servers = state.serversOf.get(name) ?? NO_SERVERS;
  const matrix = cluster.pack === "polyserve-matrix";
  const targeted = ctx.targets.has(name);
  if (!targeted) return;
  let down = 0;
  for (const r of servers) if (!serverServes(r)) down++;
  const limit = maxUnavailable(cluster);
  if (down > limit) {
    out.push({
      rule: matrix ? "M1" : "G3",
      cluster: name,
      detail: `${down} servers of ${name} are out of service at once (${servers
        .filter((r) => !serverServes(r))
        .map((r) => r.name)
        .join(", ")}); at most ${limit}`,
    });
  }
  if (matrix) {
    // "old" as onOldRelease has it: below the state's target for the cluster
    const t = state.targets.get(name);
    const ranks = ranksOf(ctx, servers);
    // M3: no running new-release server below a running old-release one in the address order
    let highestOldRank = Number.POSITIVE_INFINITY;
    let highestOld: ServerRecord | undefined;
    for (let i = 0; i < servers.length; i++) {
      const r = servers[i]!;
      if (r.running && isOld(r, t) && ranks[i]! < highestOldRank) {
        highestOldRank = ranks[i]!;
        highestOld = r;
      }
    }
    if (highestOld)
      for (let i = 0; i < servers.length; i++) {
        const r = servers[i]!;
        if (r.running && !isOld(r, t) && ranks[i]! > highestOldRank) {
          out.push({
            rule: "M3",
            cluster: name,
            detail: `${r.name} (${r.address}) runs ${r.release} while ${highestOld.name} (${highestOld.address}), higher in the address order, still runs ${highestOld.release}: the old-release servers go isolated`,
          });
          break;
        }
      }
    if (highestOld && state.finalized.has(name)) {
      out.push({
        rule: "M4",
        cluster: name,
        detail: `${highestOld.name} runs the old release ${highestOld.release} after the last old-release server left ${name}`,
      });
    }
    for (const fs of state.filesystemsOf.get(name) ?? []) {
      if (!fs.newOnly) continue;
      for (const n of fs.mountedOn) {
        const r = state.servers.get(n);
        if (r && isOld(r, t)) {
          out.push({
            rule: "M5",
            cluster: name,
            detail: `${fs.name} is mounted on old-release ${n} after it was unmounted on the last old-release server`,
          });
          break;
        }
      }
    }
  } else {
    // G1: the releases running side by side are compatible
    let first: string | undefined;
    let mixed = false;
    for (const r of servers)
      if (r.running) {
        if (first === undefined) first = r.release;
        else if (r.release !== first) mixed = true;
      }
    if (mixed) {
      const policy = policyFor(ctx.fleet, cluster);
      const releases = new Set<string>();
      for (const r of servers) if (r.running) releases.add(r.release);
      const list = [...releases];
      for (let i = 0; i < list.length; i++)
        for (let k = i + 1; k < list.length; k++)
          if (!isCompatible(list[i]!, list[k]!, policy))
            out.push({
              rule: "G1",
              cluster: name,
              detail: `${name} runs ${list[i]} and ${list[k]} side by side, incompatible under its policy`,
            });
    }
  }
}

function checkDmaDomain(state: FleetState, ctx: RuleContext, domain: string, out: RuleViolation[]): void {
  // D2: every supercluster of this lineage runs compatible releases (an install in flight may
  // have either release)
  const scNames: string[] = [];
  for (const name of ctx.domainClusters.get(domain) ?? []) {
    const sc = state.clusters.get(name)!.supercluster;
    if (sc !== undefined && !scNames.includes(sc)) scNames.push(sc);
  }
  for (const scName of scNames) {
    const sc = state.superclusters.get(scName)!;
    if (sc.lineage !== domain) continue;
    // the common case first: one release throughout, nothing to compare
    let one: string | undefined;
    let mixed = false;
    for (const m of sc.members) {
      const c = state.clusters.get(m)!;
      if (one === undefined) one = c.release;
      if (c.release !== one || (c.installing !== undefined && c.installing !== one)) {
        mixed = true;
        break;
      }
    }
    if (!mixed) continue;
    const releases: Array<[string, string]> = [];
    for (const m of sc.members) {
      const c = state.clusters.get(m)!;
      releases.push([m, c.release]);
      if (c.installing) releases.push([m, c.installing]);
    }
    const policy = policyFor(ctx.fleet, ctx.clusters.get(releases[0]?.[0] ?? "") ?? ctx.fleet.clusters[0]!);
    outer: for (let i = 0; i < releases.length; i++)
      for (let k = i + 1; k < releases.length; k++) {
        const [a, ra] = releases[i]!;
        const [b, rb] = releases[k]!;
        if (!isCompatible(ra, rb, policy)) {
          out.push({
            rule: "D2",
            cluster: a === b ? a : `${a}, ${b}`,
            detail: `${sc.name} would hold ${a} on ${ra} and ${b} on ${rb}: incompatible releases in one supercluster`,
          });
          break outer;
        }
      }
  }
  // D4: every territory is served by a cluster of one supercluster, unless an outage is allowed
  const territories = state.territoriesOf.get(domain) ?? [];
  for (const t of territories) {
    const p = t.primary === undefined ? undefined : state.clusters.get(t.primary);
    const b = t.backup === undefined ? undefined : state.clusters.get(t.backup);
    if (p && b && p.supercluster !== b.supercluster) {
      out.push({
        rule: "D4",
        cluster: `${p.name}, ${b.name}`,
        detail: `territory ${t.name}: primary ${p.name} and backup ${b.name} are not in one supercluster`,
      });
    }
    if (ctx.capacityFloor <= 0) continue;
    if (!p) {
      out.push({
        rule: "D4",
        detail: `territory ${t.name} is unassigned while the capacity floor requires service`,
      });
    } else if (!clusterServes(p) && !(b && clusterServes(b))) {
      out.push({
        rule: "D4",
        cluster: p.name,
        detail: `territory ${t.name}: neither primary ${p.name}${b ? ` nor backup ${b.name}` : ""} is in service`,
      });
    }
  }
}

/** Every rule of one capacity domain (a supercluster, or a cluster on its own). */
export function checkDomain(state: FleetState, ctx: RuleContext, domain: string): RuleViolation[] {
  const out: RuleViolation[] = [];
  checkDomainInto(state, ctx, domain, out);
  return out;
}

/**
 * `checkDomain`, appending to `out`; returns the domain's fraction of capacity in service
 * (`domainCapacity`), which it computes on the way (the verifier's replay wants both).
 */
export function checkDomainInto(
  state: FleetState,
  ctx: RuleContext,
  domain: string,
  out: RuleViolation[],
): number {
  const names = ctx.domainClusters.get(domain) ?? [];
  let dma = false;
  let total = 0;
  let serving = 0;
  for (const name of names) {
    const c = state.clusters.get(name)!;
    if (c.pack === "polycom-dma") {
      dma = true;
      total += c.capacity;
      if (clusterServes(c)) serving += c.capacity;
    } else {
      checkServerCluster(state, ctx, name, out);
      for (const r of state.serversOf.get(name) ?? NO_SERVERS) {
        total += r.capacity;
        if (serverServes(r)) serving += r.capacity;
      }
    }
  }
  if (dma) checkDmaDomain(state, ctx, domain, out);
  const cap = total === 0 ? 1 : serving / total;
  if (ctx.capacityFloor > 0 && cap + EPS < ctx.capacityFloor) {
    out.push({
      rule: "G3",
      cluster: domain,
      detail: `${domain} has ${formatFraction(cap)} of its capacity in service, below the floor ${formatFraction(ctx.capacityFloor)}`,
    });
  }
  return cap;
}

/** Every rule, everywhere. */
export function checkState(state: FleetState, ctx: RuleContext): RuleViolation[] {
  const out: RuleViolation[] = [];
  for (const d of ctx.domainClusters.keys()) out.push(...checkDomain(state, ctx, d));
  return out;
}

export function formatFraction(x: number): string {
  return `${Math.floor(x * 100 + EPS)}%`;
}

// ── preconditions ───────────────────────────────────────────────────────────────────────────

function higherStillOld(state: FleetState, ctx: RuleContext, r: ServerRecord): ServerRecord | undefined {
  // the highest such server: the one that goes next
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

function serverPreconditions(state: FleetState, ctx: RuleContext, step: Step, r: ServerRecord): Decision {
  const matrix = state.clusters.get(r.cluster)?.pack === "polyserve-matrix";
  const target = ctx.targets.get(r.cluster);
  switch (step.action) {
    case "disable": {
      if (matrix) {
        const h = higherStillOld(state, ctx, r);
        if (h)
          return deny(
            "M2",
            `${h.name} (${h.address}) is higher in the matrix's address order and still on ${h.release}: it is upgraded before ${r.name} (${r.address})`,
          );
        for (const o of state.serversOf.get(r.cluster) ?? [])
          if (o !== r && !serverServes(o))
            return deny("M1", `${o.name} of ${r.cluster} is still being upgraded: one server at a time`);
      } else {
        const rank = ctx.rank.get(r.name)!;
        for (const o of state.serversOf.get(r.cluster) ?? [])
          if (ctx.rank.get(o.name)! < rank && onOldRelease(state, o) && serverServes(o))
            return deny("G2", `${o.name} comes before ${r.name} in the declared order and has not started`);
      }
      return OK;
    }
    case "backup":
      return r.disabled ? OK : deny("M9", `${r.name} is not disabled yet: disable, then back up`);
    case "stop":
      if (!r.disabled)
        return deny("M9", `${r.name} is not disabled yet: its virtual services must move away first`);
      return r.backedUp ? OK : deny("M9", `${r.name}'s configuration is not backed up yet`);
    case "install": {
      if (matrix) {
        const h = higherStillOld(state, ctx, r);
        if (h)
          return deny(
            "M2",
            `${h.name} (${h.address}) is higher in the address order and still on ${h.release}: ${r.name} must wait`,
          );
      }
      return r.running ? deny("M9", `${r.name} still runs: stop it before installing`) : OK;
    }
    case "start": {
      if (r.installing !== undefined) return deny("M9", `${r.name}'s install has not completed`);
      if (target !== undefined && r.release !== target)
        return deny("M10", `${r.name} is still on ${r.release}: it is upgraded before it returns`);
      if (matrix) {
        for (const o of state.serversOf.get(r.cluster) ?? [])
          if (o.running && onOldRelease(state, o) && ctx.rank.get(o.name)! < ctx.rank.get(r.name)!)
            return deny(
              "M3",
              `${o.name} (${o.address}) still runs ${o.release} and is higher in the address order: starting ${r.name} on ${r.release} would isolate the old servers`,
            );
      }
      return OK;
    }
    case "verify":
      return r.running ? OK : deny("M9", `${r.name} is not running: start it before verifying`);
    default:
      return deny("M9", `${step.action} is not a step of the per-server procedure`);
  }
}

function dmaPreconditions(state: FleetState, ctx: RuleContext, step: Step, c: ClusterRecord): Decision {
  const cluster = ctx.clusters.get(c.name)!;
  switch (step.action) {
    case "reassign-territories":
    case "restore-territories": {
      // a reassignment acts in the supercluster of the cluster it is sent to: its members take
      // the territories (D4, D6: territories are reassigned within a supercluster)
      const sc = c.supercluster === undefined ? undefined : state.superclusters.get(c.supercluster);
      for (const a of step.territories ?? []) {
        for (const n of [a.primary, a.backup]) {
          if (n === undefined) continue;
          const o = state.clusters.get(n);
          if (!o || o.lineage !== c.lineage)
            return deny("D4", `territory ${a.name} cannot go to ${n}: it is not a cluster of ${c.lineage}`);
          if (!sc?.members.has(n))
            return deny(
              "D4",
              `territory ${a.name} cannot go to ${n} through ${c.name}: ${n} is not a member of ${c.supercluster ?? `a supercluster with ${c.name}`}`,
            );
        }
      }
      return OK;
    }
    case "busy-out":
      return OK;
    case "leave-supercluster": {
      if (c.supercluster === undefined) return deny("D4", `${c.name} is not a member of a supercluster`);
      for (const t of state.territoriesOf.get(c.lineage ?? "") ?? [])
        if (t.primary === c.name || t.backup === c.name)
          return deny(
            "D4",
            `${c.name} is still ${t.primary === c.name ? "primary" : "backup"} of territory ${t.name}: reassign it first`,
          );
      if (c.inService) return deny("D4", `${c.name} is still in service: busy it out before it leaves`);
      for (const r of state.serversOf.get(c.name) ?? [])
        if (!r.running)
          return deny("D4", `${r.name} is offline: all servers must be online when ${c.name} leaves`);
      return OK;
    }
    case "install": {
      if (c.inService) return deny("D7", `${c.name} is in service: busy it out before the install`);
      if (c.supercluster !== undefined && step.release) {
        const sc = state.superclusters.get(c.supercluster);
        const policy = policyFor(ctx.fleet, cluster);
        for (const m of sc?.members ?? []) {
          const o = state.clusters.get(m)!;
          if (!isCompatible(o.release, step.release, policy))
            return deny(
              "D4",
              `${c.name} is a member of ${c.supercluster} where ${m} runs ${o.release}: ${step.release} is incompatible, so it must leave first`,
            );
        }
      }
      return OK;
    }
    case "verify":
      return c.installing === undefined ? OK : deny("D8", `${c.name}'s install has not completed`);
    case "join-supercluster": {
      if (!c.verified) return deny("D8", `${c.name} has not passed its checks after the install`);
      if (c.supercluster !== undefined)
        return deny("D10", `${c.name} is already a member of ${c.supercluster}`);
      const host = step.joins ? state.clusters.get(step.joins) : undefined;
      const sc = host?.supercluster ? state.superclusters.get(host.supercluster) : undefined;
      if (!host || !sc || sc.founder !== host.name || sc.lineage !== c.lineage)
        return deny(
          "D10",
          `${c.name} must join the founder of the new supercluster, and ${step.joins ?? "nothing"} is not it: its data store would replace the upgraded one`,
        );
      if (!isCompatible(c.release, host.release, policyFor(ctx.fleet, cluster)))
        return deny("D2", `${c.name} runs ${c.release}, incompatible with ${host.name}'s ${host.release}`);
      return OK;
    }
    case "return-to-service":
      if (!c.verified) return deny("D8", `${c.name} has not passed its checks after the install`);
      if (c.lineage !== undefined && c.supercluster === undefined)
        return deny("D6", `${c.name} is in no supercluster: it joins the new one before it returns`);
      return OK;
    default:
      return deny("D7", `${step.action} is not a DMA cluster step`);
  }
}

/**
 * The preconditions of a step in this state (order, procedure, join gates), without the state
 * predicates of what the step's start would lead to. `canStart` adds those.
 */
export function preconditions(state: FleetState, ctx: RuleContext, step: Step): Decision {
  const c = state.clusters.get(step.cluster);
  if (!c) return deny("G3", `unknown cluster ${step.cluster}`);
  if (step.server !== undefined) {
    const r = state.servers.get(step.server);
    if (!r || r.cluster !== c.name) return deny("M9", `unknown server ${step.server} in ${step.cluster}`);
    return serverPreconditions(state, ctx, step, r);
  }
  if (c.pack !== "polycom-dma") return deny("M9", `${step.action} on ${c.name} names no server`);
  return dmaPreconditions(state, ctx, step, c);
}

/**
 * May `step` start now? Checks its preconditions, then whether the state while it runs keeps every
 * rule of its capacity domain. The state is left as it was.
 */
export function canStart(state: FleetState, step: Step, ctx: RuleContext): Decision {
  const pre = preconditions(state, ctx, step);
  if (!pre.ok) return pre;
  const undo = startStep(state, step);
  try {
    const v = checkDomain(state, ctx, ctx.domainOf.get(step.cluster) ?? step.cluster);
    return v.length === 0 ? OK : deny(v[0]!.rule, v[0]!.detail);
  } finally {
    undo();
  }
}
