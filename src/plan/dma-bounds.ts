import type { Cluster, Supercluster } from "../model/fleet.ts";
import type { StepAction } from "../model/step.ts";
import { stepMs } from "./dma-steps.ts";

/** Subsets of up to five clusters, as bit masks. */
function* masks(n: number): Generator<number> {
  for (let m = 1; m < 1 << n; m++) yield m;
}

function popcount(m: number): number {
  let k = 0;
  for (let x = m; x; x &= x - 1) k++;
  return k;
}

export function permutations<T>(xs: T[]): T[][] {
  if (xs.length <= 1) return [xs];
  const out: T[][] = [];
  xs.forEach((x, i) => {
    for (const rest of permutations([...xs.slice(0, i), ...xs.slice(i + 1)])) out.push([x, ...rest]);
  });
  return out;
}

/**
 * Lower bound of a supercluster's patch or incremental upgrade (docs/planning.md): the longest
 * cluster chain, and for every subset S of clusters, when at most m(S) of them can be out at once
 * (capacity floor, and one cluster left serving), their out-of-service windows need at least
 * max(Σw/m, ⌈|S|/m⌉·min w), plus the reassignment before the first and the restore after the last.
 */
const BOUND_ACTIONS: StepAction[] = [
  "busy-out",
  "leave-supercluster",
  "install",
  "verify",
  "return-to-service",
  "join-supercluster",
  "reassign-territories",
  "restore-territories",
];
// superclusters of one shape (capacities, estimates, territory owners) share their bound
const BOUNDS = new Map<string, number>();

export function superclusterLowerBound(
  sc: Supercluster,
  clusters: Cluster[],
  strategy: "patch" | "incremental",
  allowedOut: number,
  floor: number,
  exact = false,
): number {
  const owns = (c: Cluster) => sc.territories.some((t) => t.primary === c.name || t.backup === c.name);
  let key = `${strategy} ${allowedOut} ${floor} ${exact}`;
  for (const c of clusters)
    key += `|${c.capacity} ${owns(c)} ${BOUND_ACTIONS.map((a) => stepMs(c, a)).join(" ")}`;
  let lb = BOUNDS.get(key);
  if (lb === undefined) {
    if (BOUNDS.size > 10_000) BOUNDS.clear();
    lb = computeLowerBound(clusters, owns, strategy, allowedOut, floor, exact);
    BOUNDS.set(key, lb);
  }
  return lb;
}

/** A supercluster's clusters, as the bounds see them: each one's window and what surrounds it. */
interface BoundParts {
  clusters: Cluster[];
  strategy: "patch" | "incremental";
  /** a cluster's out-of-service chain, busy-out to return */
  base: (c: Cluster) => number;
  /** its join of the new supercluster (incremental), which the founder does not do */
  join: (c: Cluster) => number;
  /** the reassignment before its window, and the restore after it (incremental, when it owns territories) */
  pre: (c: Cluster) => number;
  post: (c: Cluster) => number;
  /** the subsets of clusters that may be out at once, as bit masks */
  feasible: number[];
}

function computeLowerBound(
  clusters: Cluster[],
  owns: (c: Cluster) => boolean,
  strategy: "patch" | "incremental",
  allowedOut: number,
  floor: number,
  exact: boolean,
): number {
  const n = clusters.length;
  const base = (c: Cluster) =>
    stepMs(c, "busy-out") +
    (strategy === "incremental" ? stepMs(c, "leave-supercluster") : 0) +
    stepMs(c, "install") +
    stepMs(c, "verify") +
    stepMs(c, "return-to-service");
  const join = (c: Cluster) => (strategy === "incremental" ? stepMs(c, "join-supercluster") : 0);
  // a reassignment or a restore may be sent to any cluster of the supercluster: the shortest
  const raMin = Math.min(...clusters.map((c) => stepMs(c, "reassign-territories")));
  const rsMin = Math.min(...clusters.map((c) => stepMs(c, "restore-territories")));
  const pre = (c: Cluster) => (strategy === "incremental" && owns(c) ? raMin : 0);
  const post = (c: Cluster) => (strategy === "incremental" && owns(c) ? rsMin : 0);
  let lb = 0;
  for (const c of clusters) lb = Math.max(lb, pre(c) + base(c) + post(c));
  const fits = (m: number) => {
    let cap = 0;
    for (let i = 0; i < n; i++) if (m & (1 << i)) cap += clusters[i]!.capacity;
    return cap <= allowedOut && (popcount(m) < n || (floor <= 0 && strategy === "patch"));
  };
  const parts: BoundParts = {
    clusters,
    strategy,
    base,
    join,
    pre,
    post,
    feasible: [...masks(n)].filter(fits),
  };
  lb = Math.max(lb, subsetsBound(parts));
  if (exact) lb = Math.max(lb, exactWindowsBound(parts));
  // every plan time is a whole ms, so the next whole ms is still a lower bound
  return Math.ceil(lb);
}

/**
 * For every subset S of clusters, when at most m(S) of them can be out at once, their windows need
 * at least max(Σw/m, ⌈|S|/m⌉·min w), plus the reassignment before the first and the restore after
 * the last.
 */
function subsetsBound(parts: BoundParts): number {
  const { clusters, base, join, pre, post, feasible } = parts;
  const n = clusters.length;
  const windows = clusters.map((c) => base(c) + join(c));
  let lb = 0;
  for (const subset of masks(n)) {
    let m = 0;
    for (const q of feasible) if ((q & subset) === q) m = Math.max(m, popcount(q));
    if (m === 0) continue;
    let sum = 0;
    let minW = Number.POSITIVE_INFINITY;
    let maxJoin = 0;
    let minPre = Number.POSITIVE_INFINITY;
    let minPost = Number.POSITIVE_INFINITY;
    for (let i = 0; i < n; i++) {
      if (!(subset & (1 << i))) continue;
      const c = clusters[i]!;
      sum += base(c) + join(c);
      maxJoin = Math.max(maxJoin, join(c));
      minW = Math.min(minW, base(c));
      minPre = Math.min(minPre, pre(c));
      minPost = Math.min(minPost, post(c));
    }
    // at most m at once means the windows fit on m "lanes" (an interval graph with cliques of at
    // most m is m-colourable), so some lane carries ⌈k/m⌉ windows: at least the ⌈k/m⌉ shortest;
    // one of them may be the founder's, which has no join
    const k = popcount(subset);
    const q = Math.ceil(k / m);
    const lanes = windows
      .filter((_, i) => subset & (1 << i))
      .sort((a, b) => a - b)
      .slice(0, q)
      .reduce((a, b) => a + b, 0);
    const span = Math.max((sum - maxJoin) / m, q * minW, lanes - maxJoin);
    lb = Math.max(lb, minPre + span + minPost);
  }
  return lb;
}

/**
 * The windows' exact optimum: whoever founds, the windows placed so that the clusters out
 * together always fit (floor, one cluster serving), with the reassignment before the first
 * and the restore after the last.
 */
function exactWindowsBound(parts: BoundParts): number {
  const { clusters, strategy, base, join, pre, post, feasible } = parts;
  const all = (1 << clusters.length) - 1;
  let minPre = Number.POSITIVE_INFINITY;
  let minPost = Number.POSITIVE_INFINITY;
  for (const c of clusters) {
    minPre = Math.min(minPre, pre(c));
    minPost = Math.min(minPost, post(c));
  }
  const ok = new Uint8Array(all + 1);
  for (const q of feasible) ok[q] = 1;
  ok[0] = 1;
  let best = Number.POSITIVE_INFINITY;
  const founders = strategy === "incremental" ? clusters.map((_, i) => i) : [-1];
  for (const founder of founders) {
    const w = clusters.map((c, i) => base(c) + (i === founder ? 0 : join(c)));
    best = Math.min(best, windowsOptimum(w, ok));
  }
  return minPre + best + minPost;
}

/**
 * The shortest span in which windows of lengths `w` can be placed so that the set of windows open
 * at any instant is allowed (`ok[mask]`, closed under subsets). Serial schedule generation (each
 * window in turn at the earliest instant it fits) over every order of the windows: every active
 * schedule, among them an optimal one, is generated by some order (Kolisch 1996), and with at most
 * five clusters (D1) there are at most 120 orders.
 */
function windowsOptimum(w: number[], ok: Uint8Array): number {
  const n = w.length;
  for (let j = 0; j < n; j++) if (!ok[1 << j]) return 0; // no plan anyway (the floor)
  let best = Number.POSITIVE_INFINITY;
  const start = new Array<number>(n);
  const placed: number[] = [];
  const fitsAt = (j: number, t: number): boolean => {
    // the set open at t, and at every start of a placed window inside [t, t + w[j])
    const points = [t];
    for (const i of placed) if (start[i]! > t && start[i]! < t + w[j]!) points.push(start[i]!);
    for (const p of points) {
      let m = 1 << j;
      for (const i of placed) if (start[i]! <= p && p < start[i]! + w[i]!) m |= 1 << i;
      if (!ok[m]) return false;
    }
    return true;
  };
  for (const order of permutations(w.map((_, i) => i))) {
    placed.length = 0;
    let span = 0;
    for (const j of order) {
      const candidates = [0, ...placed.map((i) => start[i]! + w[i]!)].sort((a, b) => a - b);
      const t = candidates.find((c) => fitsAt(j, c));
      if (t === undefined) return Number.POSITIVE_INFINITY; // a window that fits nowhere: never
      start[j] = t;
      placed.push(j);
      span = Math.max(span, t + w[j]!);
      if (span >= best) break;
    }
    best = Math.min(best, span);
  }
  return best;
}
