import { RollgateError } from "../model/errors.ts";
import type { Cluster, DeclaredPass, Fleet } from "../model/fleet.ts";
import { maxUnavailable, policyFor, upgradeOrder } from "../rules/context.ts";
import {
  chainedMatrixPath,
  describeSupportedPaths,
  isSupportedMatrixPath,
} from "../rules/supported-paths.ts";
import { describePolicy } from "../model/compatibility.ts";
import { estimateMs } from "./time.ts";
import { cmpVersions, compatible } from "./versions.ts";
import type { Step, StepPass } from "../model/step.ts";

/** A piece of a plan for one capacity domain; every time in integer ms from 0 (plan/time.ts). */
export interface DomainPlan {
  domain: string;
  /** Steps with start and end in ms (the planner converts them to seconds at the end). */
  steps: Step[];
  ms: number;
  lowerBoundMs: number;
  /** What the planner found and did about it, with rule ids (a supercluster part way, G5). */
  notes?: string[];
}

const MATRIX_CHAIN = ["disable", "backup", "stop", "install", "start", "verify"] as const;
/** M11: a mode pass's per-server procedure (M9's, the mode set where a release pass installs). */
const MODE_CHAIN = ["disable", "backup", "stop", "set-mode", "start", "verify"] as const;

// Shared, frozen rule lists (one array per kind of step keeps 100k-server plans small).
const RULE_LISTS = {
  disable: Object.freeze(["M1", "M2", "M9", "G3"]),
  backup: Object.freeze(["M9"]),
  stop: Object.freeze(["M9"]),
  stopFs: Object.freeze(["M9", "M5"]),
  stopLast: Object.freeze(["M9", "M4", "G4"]),
  stopLastFs: Object.freeze(["M9", "M4", "M5", "G4"]),
  install: Object.freeze(["M1", "M2", "M8", "M9"]),
  setMode: Object.freeze(["M1", "M2", "M9", "M11"]),
  start: Object.freeze(["M3", "M9"]),
  startFs: Object.freeze(["M3", "M5", "M9"]),
  startLast: Object.freeze(["M3", "M4", "M9", "G4"]),
  verify: Object.freeze(["M6", "M9"]),
  gDisable: Object.freeze(["G2", "G3"]),
  gStep: Object.freeze(["G2"]),
  gInstall: Object.freeze(["G1", "G2"]),
  gStart: Object.freeze(["G1"]),
} as const;

const NO_AFTER: string[] = [];

// the rule lists of a declared pass's steps (M11 placed them): one shared copy per list
const M11_LISTS = new Map<readonly string[], readonly string[]>();
function withM11(list: readonly string[]): readonly string[] {
  let l = M11_LISTS.get(list);
  if (!l) {
    l = Object.freeze([...list, "M11"]);
    M11_LISTS.set(list, l);
  }
  return l;
}

/**
 * The rolling upgrade of one matrix (M1, M2, M9) or generic (G1–G3) cluster: the per-server
 * procedure, in order, one server (matrix) or one batch (generic: up to maxUnavailable servers
 * within the capacity floor) at a time.
 */
export function planRollingCluster(fleet: Fleet, cluster: Cluster, target: string): DomainPlan {
  const source = cluster.servers.reduce(
    (v, s) => (cmpVersions(s.version, v) < 0 ? s.version : v),
    cluster.servers[0]!.version,
  );
  const passes = passesOf(fleet, cluster, source, target);
  const steps: Step[] = [];
  let t = 0;
  let lowerBound = 0;
  let after: string[] = NO_AFTER;
  for (let k = 0; k < passes.length; k++) {
    const { to, mode, rule } = passes[k]!;
    // a mode pass is always marked as one (its procedure sets the mode), even as the only one left
    const pass: StepPass | undefined =
      passes.length > 1 || mode !== undefined
        ? Object.freeze({ n: k + 1, of: passes.length, to, ...(mode !== undefined ? { mode } : {}), rule })
        : undefined;
    // a server takes a pass when it runs below the pass's release (or, a mode pass, in another
    // mode), as the file says or after the passes before (a server already on a later release from
    // a part-done chain skips it)
    const takes =
      mode === undefined ? (s: Server) => cmpVersions(s.version, to) < 0 : (s: Server) => s.mode !== mode;
    const p = planPass(fleet, cluster, to, pass, takes, after, t);
    steps.push(...p.steps);
    t = p.ms;
    lowerBound += p.lowerBoundMs;
    if (p.steps.length > 0) after = [p.steps[p.steps.length - 1]!.id];
  }
  const notes = passNotes(cluster, source, target, passes);
  return { domain: cluster.name, steps, ms: t, lowerBoundMs: lowerBound, ...(notes ? { notes } : {}) };
}

/** One rolling pass of a cluster's upgrade: to a release (M8's hop) or, M11, to a mode on it. */
interface PassSpec {
  to: string;
  mode?: string;
  rule: "M8" | "M11";
}

/** What --explain says about the passes: M8's chain, M11's declared passes. */
function passNotes(
  cluster: Cluster,
  source: string,
  target: string,
  passes: readonly PassSpec[],
): string[] | undefined {
  const notes: string[] = [];
  const hops = passes.filter((p) => p.rule === "M8");
  if (hops.length > 0)
    notes.push(
      `${cluster.name}: no supported rolling upgrade from ${source} to ${target} (M8); planned as a chain of ${hops.length} rolling passes, ${[source, ...hops.map((h) => h.to)].join(" → ")}, each a full pass in the address order with its own point of no return (M1–M5, M4/G4). Supported paths: ${describeSupportedPaths()}`,
    );
  if (cluster.passes && passes.length > 1)
    notes.push(
      `${cluster.name}: the fleet file declares its upgrade as passes (M11), ${passes.length} to go: ${passes
        .map(
          (p, i) =>
            `pass ${i + 1} ${p.mode === undefined ? `release ${p.to}` : `mode ${p.mode} (on ${p.to})`}`,
        )
        .join(
          ", ",
        )}; each a complete rolling pass in the address order (M1–M5) with its own point of no return, begun once the one before is over; a mode pass sets each server's mode where a release pass installs`,
    );
  return notes.length ? notes : undefined;
}

/**
 * The passes the cluster's upgrade takes, in order: the fleet file's declared passes (M11; none
 * declared: one release change), the release change being [target] for a supported path (M8) or a
 * generic cluster (G1), the shortest chain of supported paths otherwise, one pass per hop.
 */
function passesOf(fleet: Fleet, cluster: Cluster, source: string, target: string): PassSpec[] {
  const declared = cluster.passes ?? [{ kind: "release" as const }];
  refuseUnfinishedPass(cluster, declared, target);
  const out: PassSpec[] = [];
  let release = source;
  for (const d of declared) {
    if (d.kind === "mode") {
      out.push({ to: release, mode: d.mode, rule: "M11" });
      continue;
    }
    if (cmpVersions(source, target) >= 0) {
      // nothing to install (the release is done, a mode pass remains): no release pass
      release = target;
      continue;
    }
    const hops = releaseHops(fleet, cluster, source, target);
    const rule = hops.length > 1 ? "M8" : "M11";
    for (const to of hops) out.push({ to, rule });
    release = target;
  }
  return out;
}

/**
 * M11: the first pass with work to do begins only once the pass under way in the file is over: a
 * release change while the servers run two modes (a mode pass part way), or a mode change while
 * they run two releases (a release change part way), is refused with the way on.
 */
function refuseUnfinishedPass(cluster: Cluster, declared: readonly DeclaredPass[], target: string): void {
  const modes = [...new Set(cluster.servers.map((s) => s.mode).filter((m) => m !== undefined))];
  const releases = [...new Set(cluster.servers.map((s) => s.version))].sort(cmpVersions);
  if (modes.length < 2 && releases.length < 2) return;
  const first = declared.find((d) =>
    d.kind === "mode"
      ? cluster.servers.some((s) => s.mode !== d.mode)
      : cluster.servers.some((s) => cmpVersions(s.version, target) < 0),
  );
  if (first?.kind === "release" && modes.length > 1)
    throw new RollgateError(
      "ROLLGATE_E_FLEET_PASSES",
      `matrix ${cluster.name}'s servers run in modes ${modes.join(" and ")}: its mode pass is part way, and the release change waits until it is over (M11: each pass complete before the next). Finish the mode pass first: rollgate apply FLEET --to ${releases[0]} (the release it runs), then the release`,
      { details: { cluster: cluster.name, modes } },
    );
  if (first?.kind === "mode" && releases.length > 1)
    throw new RollgateError(
      "ROLLGATE_E_FLEET_PASSES",
      `matrix ${cluster.name}'s servers run ${releases.join(" and ")}: its release change is part way, and the mode change to ${first.mode} waits until it is over (M11: each pass complete before the next). Finish the release change first (passes: [release, { mode: ${first.mode} }])`,
      { details: { cluster: cluster.name, releases } },
    );
}

/** The release change's hops: [target] on a supported path (M8) or a generic cluster, else the chain. */
function releaseHops(fleet: Fleet, cluster: Cluster, source: string, target: string): string[] {
  if (cluster.pack !== "polyserve-matrix" || isSupportedMatrixPath(source, target)) {
    refuseUnsupportedPath(fleet, cluster, source, target);
    return [target];
  }
  const chain = chainedMatrixPath(source, target);
  if (chain) return chain;
  refuseUnsupportedPath(fleet, cluster, source, target);
  return [target];
}

/**
 * One rolling pass to `to`: the per-server procedure of every server `takes` selects, in the
 * upgrade order (`back`: the reverse, a rollback's lowest address first, with no point of no
 * return), from `t0` on, the first steps after `after` (the previous pass's last step).
 */
export function planPass(
  fleet: Fleet,
  cluster: Cluster,
  to: string,
  pass: StepPass | undefined,
  takes: (s: Server) => boolean,
  after: string[],
  t0: number,
  back = false,
): DomainPlan {
  const matrix = cluster.pack === "polyserve-matrix";
  const order = upgradeOrder(cluster).filter(takes);
  if (back) order.reverse();
  // M11: a mode pass's per-server procedure sets the mode where a release pass installs
  const procedure = pass?.mode === undefined ? MATRIX_CHAIN : MODE_CHAIN;
  const actionMs = procedure.map((a) => estimateMs(cluster, a));
  const chain = actionMs.reduce((a, b) => a + b, 0);
  const floor = fleet.defaults.capacityFloor;
  const total = cluster.servers.reduce((n, s) => n + s.capacity, 0);
  const allowedOut = (1 - floor) * total + 1e-9;
  const limit = maxUnavailable(cluster);

  const batches = batchesOf(cluster, order, allowedOut, limit, total, floor);

  const hasFs = cluster.filesystems.length > 0;
  const suffix = pass ? (pass.mode === undefined ? `@${to}` : `@mode-${pass.mode}`) : "";
  const steps: Step[] = [];
  let t = t0;
  let prevEnds: string[] = after;
  const lastIndex = order.length - 1;
  let idx = 0;
  for (const batch of batches) {
    const ends: string[] = [];
    for (const s of batch) {
      const base = `${cluster.name}/${s.name}/`;
      let at = t;
      let prevId: string | undefined;
      for (let a = 0; a < procedure.length; a++) {
        const action = procedure[a]!;
        const id = base + action + suffix;
        // M4: the stop of the last old-release server is the point of no return
        // (a lone server: its start, when the matrix comes back on the new release only)
        const pnr =
          !back && matrix && idx === lastIndex && action === (cluster.servers.length > 1 ? "stop" : "start");
        const rules =
          action === "set-mode"
            ? RULE_LISTS.setMode
            : back
              ? rollbackRules(matrix, action)
              : pass?.rule === "M11" || (pass !== undefined && cluster.passes !== undefined)
                ? withM11(stepRules(matrix, action, pnr, hasFs))
                : stepRules(matrix, action, pnr, hasFs);
        const step: Step = {
          id,
          action,
          cluster: cluster.name,
          server: s.name,
          after: prevId === undefined ? prevEnds : [prevId],
          start: at,
          end: at + actionMs[a]!,
          rules: rules as string[],
          pointOfNoReturn: pnr,
        };
        if (action === "install") step.release = to;
        if (action === "set-mode") step.mode = pass!.mode!;
        if (pass) step.pass = pass;
        steps.push(step);
        at += actionMs[a]!;
        prevId = id;
      }
      ends.push(prevId!);
      idx++;
    }
    prevEnds = ends;
    t += chain;
  }
  const lowerBound = rollingLowerBound(order, matrix ? 1 : limit, allowedOut, chain);
  return { domain: cluster.name, steps, ms: t, lowerBoundMs: lowerBound };
}

/**
 * M11: a matrix whose fleet file declares a mode pass has its passes planned as complete rolling
 * passes, one after the other; M12's alternatives replace one rolling pass, not a declared series.
 */
function refuseDeclaredModePass(cluster: Cluster, strategy: string): void {
  if (!cluster.passes?.some((p) => p.kind === "mode")) return;
  throw new RollgateError(
    "ROLLGATE_E_PLAN_STRATEGY_NOT_APPLICABLE",
    `matrix ${cluster.name} declares its upgrade as passes with a mode change (M11): each pass is a complete rolling pass, so ${strategy} (M12) does not apply; use --strategy rolling`,
    { details: { cluster: cluster.name, strategy } },
  );
}

/**
 * M12's full stop (`--strategy all-at-once`): the matrix down, every server upgraded together.
 * Each server is disabled, backed up and stopped, in parallel; once every server is stopped the
 * installs run together (with the matrix down any release may be installed, M8), then every
 * server starts and is verified. The first start on the new release commits the matrix to it
 * (M4), and any start may be the first: each is a point of no return (G4).
 * A full outage for the whole upgrade: only with a capacity floor of 0 (G3).
 */
export function planAllAtOnce(fleet: Fleet, cluster: Cluster, target: string): DomainPlan {
  refuseDeclaredModePass(cluster, "all-at-once");
  if (fleet.defaults.capacityFloor > 0)
    throw new RollgateError(
      "ROLLGATE_E_PLAN_FLOOR_UNREACHABLE",
      `all-at-once takes matrix ${cluster.name} fully down (M12), below the capacity floor ${fleet.defaults.capacityFloor} (G3); use the rolling strategy, or set defaults.capacityFloor: 0`,
      { details: { cluster: cluster.name, floor: fleet.defaults.capacityFloor } },
    );
  const ms = Object.fromEntries(MATRIX_CHAIN.map((a) => [a, estimateMs(cluster, a)])) as Record<
    (typeof MATRIX_CHAIN)[number],
    number
  >;
  const servers = upgradeOrder(cluster);
  const steps: Step[] = [];
  const make = (s: Server, action: (typeof MATRIX_CHAIN)[number], start: number, after: string[]): Step => {
    // M4: the first server back on the new release commits the matrix to it (any start may be first)
    const pnr = action === "start";
    const step: Step = {
      id: `${cluster.name}/${s.name}/${action}`,
      action,
      cluster: cluster.name,
      server: s.name,
      after,
      start,
      end: start + ms[action],
      rules: FULL_STOP_RULES[action] as string[],
      pointOfNoReturn: pnr,
      fullStop: true,
    };
    if (action === "install") step.release = target;
    steps.push(step);
    return step;
  };
  const stopsEnd = ms.disable + ms.backup + ms.stop;
  const stops = servers.map((s) => {
    const d = make(s, "disable", 0, NO_AFTER);
    const b = make(s, "backup", d.end, [d.id]);
    return make(s, "stop", b.end, [b.id]);
  });
  const down = stops.map((x) => x.id);
  // the servers already on the target are stopped with the others and started again: no install
  const toInstall = servers.filter((s) => cmpVersions(s.version, target) < 0);
  const installs = toInstall.map((s) => make(s, "install", stopsEnd, down));
  const installed = installs.length > 0 ? installs.map((x) => x.id) : down;
  const startAt = stopsEnd + (installs.length > 0 ? ms.install : 0);
  for (const s of servers) {
    const st = make(s, "start", startAt, installed);
    make(s, "verify", st.end, [st.id]);
  }
  const total = startAt + ms.start + ms.verify;
  steps.sort((a, b) => a.start - b.start); // stable: the servers in their order within each phase
  return {
    domain: cluster.name,
    steps,
    ms: total,
    lowerBoundMs: total,
    notes: [
      `${cluster.name}: all at once (M12): the matrix is down from the first stop to the last start, every server upgraded together${
        isSupportedMatrixPath(
          servers.reduce((v, s) => (cmpVersions(s.version, v) < 0 ? s.version : v), target),
          target,
        )
          ? ""
          : "; with the matrix down the release may be installed off the supported rolling paths (M8)"
      }`,
    ],
  };
}

/**
 * M12's two halves (`--strategy two-halves`): the matrix split in two segments of its address
 * order. The first half (the top) is disabled, backed up, stopped and installed together while the
 * second runs the matrix on the old release; it then starts on the new release, a top segment of
 * the address order beside the old servers below it (M3), which a supported rolling path allows
 * (M8). Then the second half is upgraded together while the first runs the matrix: the stop of its
 * last old-release server is the point of no return (M4), and any of its stops may be the last
 * (G4). A filesystem the first half mounts again on the new release is still mounted on the old
 * half, until that half stops (M5). One at a time (M1) does not apply; the floor (G3) does, to each
 * half out at once. The split is the one that keeps the most capacity in service.
 */
export function planTwoHalves(fleet: Fleet, cluster: Cluster, target: string): DomainPlan {
  refuseDeclaredModePass(cluster, "two-halves");
  const source = cluster.servers.reduce(
    (v, s) => (cmpVersions(s.version, v) < 0 ? s.version : v),
    cluster.servers[0]!.version,
  );
  if (!isSupportedMatrixPath(source, target))
    throw new RollgateError(
      "ROLLGATE_E_PLAN_UNSUPPORTED_PATH",
      `matrix ${cluster.name}: two-halves runs ${source} and ${target} side by side when the first half returns, and ${source} → ${target} is not a supported rolling upgrade (M8; supported: ${describeSupportedPaths()}). Use --strategy rolling (a chain of supported passes where there is one) or all-at-once (the matrix down)`,
      { details: { cluster: cluster.name, from: source, to: target } },
    );
  const todo = upgradeOrder(cluster).filter((s) => cmpVersions(s.version, target) < 0);
  if (todo.length < 2)
    throw new RollgateError(
      "ROLLGATE_E_PLAN_STRATEGY_NOT_APPLICABLE",
      `matrix ${cluster.name}: two-halves needs two servers or more to upgrade, and ${todo.length === 0 ? "none is" : `only ${todo[0]!.name} is`} below ${target}; use --strategy rolling`,
      { details: { cluster: cluster.name } },
    );
  const total = cluster.servers.reduce((n, s) => n + s.capacity, 0);
  const floor = fleet.defaults.capacityFloor;
  const allowedOut = (1 - floor) * total + 1e-9;
  // the split that keeps the most in service while either half is out
  let best = 1;
  let bestOut = Number.POSITIVE_INFINITY;
  const cap = (list: Server[]) => list.reduce((n, s) => n + s.capacity, 0);
  for (let k = 1; k < todo.length; k++) {
    const out = Math.max(cap(todo.slice(0, k)), cap(todo.slice(k)));
    if (out < bestOut) {
      bestOut = out;
      best = k;
    }
  }
  if (bestOut > allowedOut)
    throw new RollgateError(
      "ROLLGATE_E_PLAN_FLOOR_UNREACHABLE",
      `two-halves takes half of matrix ${cluster.name} out of service at once (M12): ${fmtPct((total - bestOut) / total)} of its capacity stays in service at best, below the floor ${fmtPct(floor)} (G3); use --strategy rolling, or lower defaults.capacityFloor`,
      { details: { cluster: cluster.name, floor } },
    );
  const halves: [Server[], Server[]] = [todo.slice(0, best), todo.slice(best)];
  const ms = Object.fromEntries(MATRIX_CHAIN.map((a) => [a, estimateMs(cluster, a)])) as Record<
    (typeof MATRIX_CHAIN)[number],
    number
  >;
  const hasFs = cluster.filesystems.length > 0;
  const steps: Step[] = [];
  let after: string[] = NO_AFTER;
  let t = 0;
  for (const half of [1, 2] as const) {
    const servers = half === 1 ? halves[0] : halves[1];
    const verifies: string[] = [];
    for (const s of servers) {
      let at = t;
      let prev = after;
      for (const action of MATRIX_CHAIN) {
        // M4: in the second half any stop may be the last old-release server's
        const pnr = half === 2 && action === "stop";
        const step: Step = {
          id: `${cluster.name}/${s.name}/${action}`,
          action,
          cluster: cluster.name,
          server: s.name,
          after: prev,
          start: at,
          end: at + ms[action],
          rules: TWO_HALVES_RULES[action](pnr, hasFs) as string[],
          pointOfNoReturn: pnr,
          half,
        };
        if (action === "install") step.release = target;
        steps.push(step);
        at = step.end;
        prev = [step.id];
      }
      verifies.push(prev[0]!);
    }
    after = verifies;
    t += MATRIX_CHAIN.reduce((n, a) => n + ms[a], 0);
  }
  steps.sort((a, b) => a.start - b.start); // stable: the servers in their order within each phase
  const names = (list: Server[]) => list.map((s) => s.name).join(", ");
  return {
    domain: cluster.name,
    steps,
    ms: t,
    lowerBoundMs: t,
    notes: [
      `${cluster.name}: two halves (M12): first ${names(halves[0])} (the top of the address order) together while ${names(halves[1])} run${halves[1].length === 1 ? "s" : ""} the matrix on ${source}; they return on ${target} above the ${source} servers (M3, M8); then ${names(halves[1])} together while the first half runs it. ${fmtPct((total - bestOut) / total)} of the capacity stays in service; the stops of the second half are the point of no return (M4, G4)`,
    ],
  };
}

const TWO_HALVES_RULES: Record<
  (typeof MATRIX_CHAIN)[number],
  (pnr: boolean, fs: boolean) => readonly string[]
> = {
  disable: () => ["M12", "M2", "M9", "G3"],
  backup: () => ["M9"],
  stop: (pnr, fs) => ["M12", "M9", ...(pnr ? ["M4", "G4"] : []), ...(fs ? ["M5"] : [])],
  install: () => ["M12", "M8", "M9"],
  start: (_pnr, fs) => ["M12", "M3", "M9", ...(fs ? ["M5"] : [])],
  verify: () => ["M9"],
};

const FULL_STOP_RULES = {
  disable: Object.freeze(["M12", "M9"]),
  backup: Object.freeze(["M9"]),
  stop: Object.freeze(["M12", "M9"]),
  install: Object.freeze(["M12", "M8", "M9"]),
  start: Object.freeze(["M12", "M3", "M4", "M9", "G4"]),
  verify: Object.freeze(["M9"]),
} as const;

/** M8 for a matrix, G1 for a generic cluster: the rolling upgrade from `source` to `target` is supported. */
function refuseUnsupportedPath(fleet: Fleet, cluster: Cluster, source: string, target: string): void {
  const matrix = cluster.pack === "polyserve-matrix";
  if (matrix && !isSupportedMatrixPath(source, target))
    throw new RollgateError(
      "ROLLGATE_E_PLAN_UNSUPPORTED_PATH",
      `matrix ${cluster.name}: no supported rolling upgrade from ${source} to ${target}, direct or as a chain of supported ones (M8). Supported paths: ${describeSupportedPaths()}. A full-stop upgrade (M12) installs any release with the matrix down: --strategy all-at-once (a full outage; needs defaults.capacityFloor: 0)`,
      { details: { cluster: cluster.name, from: source, to: target } },
    );
  if (!matrix && !compatible(fleet, cluster, source, target))
    throw new RollgateError(
      "ROLLGATE_E_PLAN_UNSUPPORTED_PATH",
      `cluster ${cluster.name}: ${source} and ${target} are incompatible under its policy (${describePolicy(policyFor(fleet, cluster))}, G1), so they cannot run side by side during a rolling upgrade`,
      { details: { cluster: cluster.name, from: source, to: target } },
    );
}

type Server = Cluster["servers"][number];

/** The batches of servers out at once: matrix one server each (M1); generic as many as maxUnavailable and the floor allow. */
function batchesOf(
  cluster: Cluster,
  order: Server[],
  allowedOut: number,
  limit: number,
  total: number,
  floor: number,
): Server[][] {
  const matrix = cluster.pack === "polyserve-matrix";
  const batches: Server[][] = [];
  let cur: Server[] = [];
  let curCap = 0;
  for (const s of order) {
    if (s.capacity > allowedOut || limit < 1)
      throw new RollgateError(
        "ROLLGATE_E_PLAN_FLOOR_UNREACHABLE",
        `cluster ${cluster.name}: taking ${s.name} out of service leaves ${fmtPct((total - s.capacity) / total)} of its capacity, below the floor ${fmtPct(floor)} (G3); a rolling upgrade is impossible. Lower defaults.capacityFloor or add servers`,
        { details: { cluster: cluster.name, floor } },
      );
    if (cur.length > 0 && (matrix || cur.length >= limit || curCap + s.capacity > allowedOut)) {
      batches.push(cur);
      cur = [];
      curCap = 0;
    }
    cur.push(s);
    curCap += s.capacity;
  }
  if (cur.length > 0) batches.push(cur);

  return batches;
}

// a rollback's steps: lowest address first keeps the newer servers a top segment (M3), back to
// the release the matrix still runs, before the point of no return (M4)
const ROLLBACK_RULES = {
  disable: Object.freeze(["M1", "M3", "M9", "G3"]),
  install: Object.freeze(["M1", "M3", "M4", "M9"]),
  start: Object.freeze(["M3", "M4", "M9"]),
} as const;

function rollbackRules(matrix: boolean, action: (typeof MATRIX_CHAIN)[number]): readonly string[] {
  if (!matrix) return stepRules(false, action, false, false);
  return action === "disable" || action === "install" || action === "start"
    ? ROLLBACK_RULES[action]
    : RULE_LISTS[action];
}

/** The rules a step of the per-server procedure carries (M4/G4 on the point of no return, M5 with filesystems). */
function stepRules(
  matrix: boolean,
  action: (typeof MATRIX_CHAIN)[number],
  pnr: boolean,
  hasFs: boolean,
): readonly string[] {
  return matrix
    ? action === "stop"
      ? pnr
        ? hasFs
          ? RULE_LISTS.stopLastFs
          : RULE_LISTS.stopLast
        : hasFs
          ? RULE_LISTS.stopFs
          : RULE_LISTS.stop
      : action === "start"
        ? pnr
          ? RULE_LISTS.startLast
          : hasFs
            ? RULE_LISTS.startFs
            : RULE_LISTS.start
        : RULE_LISTS[action]
    : action === "disable"
      ? RULE_LISTS.gDisable
      : action === "install"
        ? RULE_LISTS.gInstall
        : action === "start"
          ? RULE_LISTS.gStart
          : RULE_LISTS.gStep;
}

/**
 * Lower bound (docs/planning.md): at most k servers can be out at once, where k is the most
 * servers (smallest capacities first) within `limit` (1 for a matrix, else maxUnavailable) and the
 * floor; each is out for a whole chain, and a server's chain is serial.
 */
function rollingLowerBound(order: Server[], limit: number, allowedOut: number, chain: number): number {
  let k = 0;
  let capOut = 0;
  for (const c of order.map((s) => s.capacity).sort((a, b) => a - b)) {
    if (k >= limit || capOut + c > allowedOut) break;
    k++;
    capOut += c;
  }
  return order.length === 0 ? 0 : Math.ceil(order.length / Math.max(1, k)) * chain;
}

export function fmtPct(x: number): string {
  return `${Math.floor(x * 100 + 1e-9)}%`;
}
