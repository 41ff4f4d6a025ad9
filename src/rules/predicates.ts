import type { RuleId } from "../model/step.ts";
import { isCompatible } from "./compatible.ts";
import type { Cluster } from "../model/fleet.ts";
import { compareVersions } from "../model/version.ts";
import { describeSupportedPaths, isSupportedMatrixPath } from "./supported-paths.ts";
import { maxUnavailable, policyFor, type RuleContext, upgradeOrder } from "./context.ts";
import { type ClusterRecord, type FleetState, levelOf, type ServerRecord } from "./state.ts";

/**
 * The state predicates: what holds at every instant of a plan and of a run, checked per capacity
 * domain (a supercluster's lineage, else one cluster). Each rule is one named function appending
 * what breaks it to `out`; `checkDomainInto` asks them in catalog order (the verifier asks at
 * every instant of a replay, so they share one pass over a domain's clusters where they can).
 */

/** A rule broken by a state, with a reason a person can read. */
export interface RuleViolation {
  rule: RuleId;
  cluster?: string;
  detail: string;
}

const EPS = 1e-9;

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

// "old" as onOldRelease has it: not on the state's target `t` for the cluster, or in a mode pass
// (M11) not in its mode `m` (no closure per check)
function isOld(r: ServerRecord, t: string | undefined, m: string | undefined): boolean {
  return (
    (t !== undefined && r.release !== t && r.installing !== t) ||
    (m !== undefined && r.mode !== m && r.settingMode !== m)
  );
}

/** The facts of one server cluster the predicates share (one lookup per cluster and instant). */
interface ServerClusterFacts {
  name: string;
  servers: ServerRecord[];
  /** The newer release: the cluster's target, or in a rollback the release it leaves ("old" is any other). */
  target: string | undefined;
  /** M11: the mode of the mode pass under way ("old" is any other mode); absent in a release pass. */
  targetMode: string | undefined;
  /** Upgraded all at once, the matrix down, or in two halves (M12): M1 does not apply. */
  fullStop: boolean;
}

/**
 * M1 (matrix: one server at a time) and G3 (any cluster: at most its max-unavailable servers out
 * of service at once): one count, the rule of the cluster's pack.
 */
export function m1g3Unavailable(ctx: RuleContext, f: ServerClusterFacts, out: RuleViolation[]): void {
  const cluster = ctx.clusters.get(f.name)!;
  let down = 0;
  for (const r of f.servers) if (!serverServes(r)) down++;
  // a full stop or two halves (M12) take many servers down on purpose; the floor (G3) still judges it
  const limit = f.fullStop ? cluster.servers.length : maxUnavailable(cluster);
  if (down <= limit) return;
  out.push({
    rule: cluster.pack === "polyserve-matrix" ? "M1" : "G3",
    cluster: f.name,
    detail: `${down} servers of ${f.name} are out of service at once (${f.servers
      .filter((r) => !serverServes(r))
      .map((r) => r.name)
      .join(", ")}); at most ${limit}`,
  });
}

/** The running old-release server highest in the address order (M3, M4 start from it). */
function highestRunningOld(
  ctx: RuleContext,
  f: ServerClusterFacts,
): { server: ServerRecord; rank: number } | undefined {
  const ranks = ranksOf(ctx, f.servers);
  let found: { server: ServerRecord; rank: number } | undefined;
  for (let i = 0; i < f.servers.length; i++) {
    const r = f.servers[i]!;
    if (r.running && isOld(r, f.target, f.targetMode) && (found === undefined || ranks[i]! < found.rank))
      found = { server: r, rank: ranks[i]! };
  }
  return found;
}

/** M3: no running new-release server below a running old-release one in the address order. */
export function m3TopSegment(ctx: RuleContext, f: ServerClusterFacts, out: RuleViolation[]): void {
  const highest = highestRunningOld(ctx, f);
  if (!highest) return;
  const ranks = ranksOf(ctx, f.servers);
  for (let i = 0; i < f.servers.length; i++) {
    const r = f.servers[i]!;
    if (r.running && !isOld(r, f.target, f.targetMode) && ranks[i]! > highest.rank) {
      const h = highest.server;
      out.push({
        rule: "M3",
        cluster: f.name,
        detail: `${r.name} (${r.address}) runs ${levelOf(r, f.targetMode)} while ${h.name} (${h.address}), higher in the address order, still runs ${levelOf(h, f.targetMode)}: the old-release servers go isolated`,
      });
      return;
    }
  }
}

/** A matrix server as the engine sees it: whether it reports the target release, and its state. */
export interface M3Member {
  server: string;
  onTarget: boolean;
  /** As reported: "running", "isolated", "stopped", … (an isolated server still runs). */
  state: string;
}

/**
 * M3 over what a matrix's servers report, for the engine's watch (run/effects.ts): the servers in
 * `state` ("running": upgraded out of order; "stopped": set aside by the correction) that report
 * the target release while a running old-release server sits above them in the address order
 * (M2's order, upgradeOrder). The same reading as m3TopSegment, over observations.
 */
export function m3OutOfOrder(
  cluster: Cluster,
  members: readonly M3Member[],
  state: "running" | "stopped",
): string[] {
  const rank = new Map(upgradeOrder(cluster).map((s, i) => [s.name, i]));
  let highestOld = Number.POSITIVE_INFINITY;
  for (const m of members)
    if ((m.state === "running" || m.state === "isolated") && !m.onTarget)
      highestOld = Math.min(highestOld, rank.get(m.server) ?? Number.POSITIVE_INFINITY);
  return members
    .filter((m) => m.state === state && m.onTarget && (rank.get(m.server) ?? -1) > highestOld)
    .map((m) => m.server);
}

/** M4: once the last old-release server has left the matrix, no old-release server runs in it. */
export function m4NoOldAfterLast(
  state: FleetState,
  ctx: RuleContext,
  f: ServerClusterFacts,
  out: RuleViolation[],
): void {
  if (!state.finalized.has(f.name)) return;
  const highest = highestRunningOld(ctx, f);
  if (!highest) return;
  const kind = f.targetMode === undefined ? "release" : "mode";
  out.push({
    rule: "M4",
    cluster: f.name,
    detail: `${highest.server.name} runs the old ${kind} ${kind === "release" ? highest.server.release : (highest.server.mode ?? "(none)")} after the last old-${kind} server left ${f.name}`,
  });
}

/** M5: a filesystem unmounted on the last old-release server is mounted on no old-release server. */
export function m5NewOnlyMounts(state: FleetState, f: ServerClusterFacts, out: RuleViolation[]): void {
  for (const fs of state.filesystemsOf.get(f.name) ?? []) {
    if (!fs.newOnly) continue;
    for (const n of fs.mountedOn) {
      const r = state.servers.get(n);
      if (r && isOld(r, f.target, f.targetMode)) {
        out.push({
          rule: "M5",
          cluster: f.name,
          detail: `${fs.name} is mounted on old-release ${n} after it was unmounted on the last old-release server`,
        });
        break;
      }
    }
  }
}

/**
 * The releases a cluster's running servers run, when there are two or more (undefined when they
 * run one: the common case, answered without a set, since the verifier asks at every instant).
 */
function releasesSideBySide(f: ServerClusterFacts): string[] | undefined {
  let first: string | undefined;
  let mixed = false;
  for (const r of f.servers)
    if (r.running) {
      if (first === undefined) first = r.release;
      else if (r.release !== first) mixed = true;
    }
  if (!mixed) return undefined;
  const releases = new Set<string>();
  for (const r of f.servers) if (r.running) releases.add(r.release);
  return [...releases];
}

/** G1: the releases running side by side in a (non-matrix) cluster are compatible. */
export function g1SideBySide(ctx: RuleContext, f: ServerClusterFacts, out: RuleViolation[]): void {
  const list = releasesSideBySide(f);
  if (!list) return;
  const policy = policyFor(ctx.fleet, ctx.clusters.get(f.name)!);
  for (let i = 0; i < list.length; i++)
    for (let k = i + 1; k < list.length; k++)
      if (!isCompatible(list[i]!, list[k]!, policy))
        out.push({
          rule: "G1",
          cluster: f.name,
          detail: `${f.name} runs ${list[i]} and ${list[k]} side by side, incompatible under its policy`,
        });
}

/**
 * M8: the releases running side by side in a matrix are those of one supported rolling upgrade
 * (the older has a supported path to the newer). A matrix running 3.4.2 beside 4.1.0 is no rolling
 * upgrade at all: no plan can start from it.
 */
export function m8SupportedSideBySide(f: ServerClusterFacts, out: RuleViolation[]): void {
  const releases = releasesSideBySide(f)?.sort(compareVersions);
  if (!releases) return;
  for (let i = 0; i < releases.length; i++)
    for (let k = i + 1; k < releases.length; k++)
      if (!isSupportedMatrixPath(releases[i]!, releases[k]!)) {
        out.push({
          rule: "M8",
          cluster: f.name,
          detail: `${f.name} runs ${releases[i]} and ${releases[k]} side by side: ${releases[i]} → ${releases[k]} is not a supported rolling upgrade (supported: ${describeSupportedPaths()})`,
        });
        return;
      }
}

/**
 * M11: a matrix's passes are complete rolling passes, one after the other: its servers never
 * differ in release and in mode at once (a mode change waits until every server runs one release,
 * a release change until every server runs one mode). A server being installed or set counts with
 * both of its possible releases or modes.
 */
export function m11OnePassAtATime(f: ServerClusterFacts, out: RuleViolation[]): void {
  let release: string | undefined;
  let mode: string | undefined;
  let releases = false;
  let modes = false;
  for (const r of f.servers) {
    if (r.mode === undefined && r.settingMode === undefined) continue;
    release ??= r.release;
    mode ??= r.mode;
    if (r.release !== release || (r.installing !== undefined && r.installing !== release)) releases = true;
    if (r.mode !== mode || (r.settingMode !== undefined && r.settingMode !== mode)) modes = true;
  }
  if (!releases || !modes) return;
  const list = f.servers
    .filter((r) => r.mode !== undefined)
    .map((r) => `${r.name} ${r.release} ${r.mode}`)
    .join(", ");
  out.push({
    rule: "M11",
    cluster: f.name,
    detail: `${f.name} differs in release and in mode at once (${list}): each pass completes before the next begins`,
  });
}

function checkServerCluster(state: FleetState, ctx: RuleContext, name: string, out: RuleViolation[]): void {
  if (!ctx.targets.has(name)) return;
  const f: ServerClusterFacts = {
    name,
    servers: state.serversOf.get(name) ?? NO_SERVERS,
    target: state.rollbackFrom.get(name) ?? state.targets.get(name),
    targetMode: state.targetModes.get(name),
    fullStop: state.fullStop.has(name) || state.firstHalf.has(name),
  };
  m1g3Unavailable(ctx, f, out);
  if (ctx.clusters.get(name)!.pack === "polyserve-matrix") {
    m3TopSegment(ctx, f, out);
    m4NoOldAfterLast(state, ctx, f, out);
    m5NewOnlyMounts(state, f, out);
    m8SupportedSideBySide(f, out);
    m11OnePassAtATime(f, out);
  } else {
    g1SideBySide(ctx, f, out);
  }
}

/**
 * D2: every supercluster of this lineage runs compatible releases (an install in flight may have
 * either release).
 */
export function d2OneRelease(
  state: FleetState,
  ctx: RuleContext,
  domain: string,
  out: RuleViolation[],
): void {
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
}

/**
 * D4: every territory is served by a cluster of one supercluster: primary and backup together,
 * and (unless the floor allows an outage) one of them in service.
 */
export function d4TerritoriesServed(
  state: FleetState,
  ctx: RuleContext,
  domain: string,
  out: RuleViolation[],
): void {
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

function checkDmaDomain(state: FleetState, ctx: RuleContext, domain: string, out: RuleViolation[]): void {
  d2OneRelease(state, ctx, domain, out);
  d4TerritoriesServed(state, ctx, domain, out);
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
  g3CapacityFloor(ctx, domain, cap, out);
  return cap;
}

/** G3: a capacity domain keeps at least the floor's fraction of its capacity in service. */
export function g3CapacityFloor(
  ctx: RuleContext,
  domain: string,
  capacity: number,
  out: RuleViolation[],
): void {
  if (ctx.capacityFloor > 0 && capacity + EPS < ctx.capacityFloor)
    out.push({
      rule: "G3",
      cluster: domain,
      detail: `${domain} has ${formatFraction(capacity)} of its capacity in service, below the floor ${formatFraction(ctx.capacityFloor)}`,
    });
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
