import { compareVersions, versionMatches } from "../model/version.ts";

/**
 * M8: the rolling-upgrade paths the Matrix Server manual supports. Each target lists the source
 * releases (prefixes: "3.4.x" covers 3.4.0, 3.4.7, …) a rolling upgrade may start from.
 */
export const MATRIX_SUPPORTED_PATHS: ReadonlyArray<{ to: string; from: readonly string[] }> = [
  { to: "3.5.1", from: ["3.1.2", "3.5.0"] },
  { to: "3.6.0", from: ["3.4.x"] },
  { to: "4.1.0", from: ["3.6.x"] },
];

/** True when a rolling upgrade from `from` to `to` is a supported path (M8). */
export function isSupportedMatrixPath(from: string, to: string): boolean {
  return MATRIX_SUPPORTED_PATHS.some(
    (p) =>
      versionMatches(to, p.to) && versionMatches(p.to, to) && p.from.some((f) => versionMatches(from, f)),
  );
}

/** "3.5.1 from 3.1.2 or 3.5.0; 3.6.0 from 3.4.x; 4.1.0 from 3.6.x" */
export function describeSupportedPaths(): string {
  return MATRIX_SUPPORTED_PATHS.map((p) => `${p.to} from ${p.from.join(" or ")}`).join("; ");
}

/**
 * M8's chained path: the shortest chain of supported rolling upgrades from `from` to `to`, as the
 * releases each hop upgrades to (the last is `to`): 3.4.2 → 4.1.0 gives ["3.6.0", "4.1.0"]. A
 * direct supported path gives [to]; no chain, undefined. The last hop is always `to` as given. Breadth first over the table, so the
 * first chain found is a shortest one; a hop only ever goes up.
 */
export function chainedMatrixPath(from: string, to: string): string[] | undefined {
  if (isSupportedMatrixPath(from, to)) return [to];
  const seen = new Set<string>([from]);
  let frontier: Array<{ at: string; hops: string[] }> = [{ at: from, hops: [] }];
  while (frontier.length > 0) {
    const next: typeof frontier = [];
    for (const { at, hops } of frontier)
      for (const p of MATRIX_SUPPORTED_PATHS) {
        if (seen.has(p.to) || !p.from.some((f) => versionMatches(at, f))) continue;
        if (compareVersions(p.to, at) <= 0 || compareVersions(p.to, to) > 0) continue;
        seen.add(p.to);
        // the last hop is the target as the operator wrote it (4.1 or 4.1.0): the plan ends on it
        if (compareVersions(p.to, to) === 0) return [...hops, to];
        next.push({ at: p.to, hops: [...hops, p.to] });
      }
    frontier = next;
  }
  return undefined;
}
