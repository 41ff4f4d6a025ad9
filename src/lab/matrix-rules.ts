import { compareReleases, compareServerAddresses } from "./judge.ts";

/**
 * How a PolyServe matrix behaves (Matrix Server 3.5.1 Upgrade Guide, rules.md M3–M10), written
 * for the lab and independent of rules/: pure functions over the servers' facts. The world
 * (world.ts, server-procedure.ts) applies what they decide. Each returns the words the appliance says.
 */
export interface MatrixMember {
  name: string;
  address: string;
  release: string;
  /** M11: the server's operating mode, on a matrix that has modes. */
  mode?: string;
  /**
   * M11: how late the mode came in the matrix's history of modes (0: the first). On one release a
   * later mode is the newer one: M3–M5 treat a mode change as they treat a release change.
   */
  modeRank?: number;
}

/** Where a server stands in the matrix's history: its release, then (M11) its mode's rank. */
export interface Level {
  release: string;
  modeRank?: number;
}

/** Compares two levels: the releases, then (M11, on one release) the modes' ranks. */
export function compareLevels(a: Level, b: Level): number {
  return compareReleases(a.release, b.release) || (a.modeRank ?? 0) - (b.modeRank ?? 0);
}

/** A member's release as the appliance says it, with its mode where the matrix has modes. */
export function levelWords(m: MatrixMember): string {
  return m.mode === undefined ? m.release : `${m.release} in mode ${m.mode}`;
}

export function lowestLevel(ms: readonly MatrixMember[]): MatrixMember | undefined {
  return ms.reduce<MatrixMember | undefined>(
    (lo, m) => (lo === undefined || compareLevels(m, lo) < 0 ? m : lo),
    undefined,
  );
}

export function highestLevel(ms: readonly MatrixMember[]): MatrixMember | undefined {
  return ms.reduce<MatrixMember | undefined>(
    (hi, m) => (hi === undefined || compareLevels(m, hi) > 0 ? m : hi),
    undefined,
  );
}

export function lowestRelease(ms: readonly MatrixMember[]): string | undefined {
  return ms.reduce<string | undefined>(
    (lo, m) => (lo === undefined || compareReleases(m.release, lo) < 0 ? m.release : lo),
    undefined,
  );
}

export function highestRelease(ms: readonly MatrixMember[]): string | undefined {
  return ms.reduce<string | undefined>(
    (hi, m) => (hi === undefined || compareReleases(m.release, hi) > 0 ? m.release : hi),
    undefined,
  );
}

/** Servers of different releases run together. */
export function isMixed(running: readonly MatrixMember[]): boolean {
  const lo = lowestRelease(running);
  const hi = highestRelease(running);
  return lo !== undefined && hi !== undefined && compareReleases(lo, hi) !== 0;
}

/** Servers of different levels (releases, or M11 modes) run together. */
export function isMixedLevel(running: readonly MatrixMember[]): boolean {
  const lo = lowestLevel(running);
  const hi = highestLevel(running);
  return lo !== undefined && hi !== undefined && compareLevels(lo, hi) !== 0;
}

/**
 * M3: a newer-release server runs while an older-release server with a higher address runs too
 * (M11: on one release, a newer mode beside an older one). Returns the offending (newer,
 * lower-addressed) server and the higher older ones, or undefined.
 */
export function outOfOrder(
  running: readonly MatrixMember[],
): { offender: MatrixMember; higher: MatrixMember[] } | undefined {
  for (const n of running) {
    const higher = running.filter(
      (o) => compareLevels(n, o) > 0 && compareServerAddresses(o.address, n.address) > 0,
    );
    if (higher.length > 0) return { offender: n, higher };
  }
  return undefined;
}

/**
 * M4 (join gate, finalization) and M10 (out-of-matrix servers) for a server that starts.
 * `floor` is the lowest level the matrix still admits (a release, M11: and a mode on it, `words`
 * as the appliance says it); `mixedSince` when servers of different levels began to run together;
 * `outSince` when the joiner left the matrix.
 */
export function joinRefusal(args: {
  joiner: MatrixMember;
  others: readonly MatrixMember[];
  floor: Level & { words: string };
  mixedSince: number | null;
  outSince: number | null;
}): { rule: string; message: string } | undefined {
  const { joiner, others, floor } = args;
  if (compareLevels(joiner, floor) < 0) {
    return {
      rule: "M4",
      message: `${joiner.name} runs ${levelWords(joiner)}, but the last server older than ${floor.words} has left the matrix: only servers on ${floor.words} or later may join`,
    };
  }
  const hi = highestLevel(others);
  if (
    hi !== undefined &&
    compareLevels(joiner, hi) < 0 &&
    args.mixedSince !== null &&
    args.outSince !== null &&
    args.outSince < args.mixedSince
  ) {
    return {
      rule: "M10",
      message: `${joiner.name} was out of the matrix when the upgrade to ${levelWords(hi)} began: upgrade it before it returns`,
    };
  }
  return undefined;
}

/**
 * M5: once a filesystem is unmounted on the last older-release server, an older-release server may
 * mount it only after it is unmounted on every newer-release server.
 */
export function mountRefusal(
  filesystem: string,
  target: MatrixMember,
  mounters: readonly MatrixMember[],
): { rule: string; message: string } | undefined {
  if (mounters.length === 0) return undefined;
  if (mounters.some((m) => compareLevels(m, target) <= 0)) return undefined;
  const names = mounters.map((m) => m.name).join(", ");
  return {
    rule: "M5",
    message: `${filesystem} is no longer mounted on any server running ${levelWords(target)} or older; it cannot be mounted on ${target.name} (${levelWords(target)}) until it is unmounted on ${names} (${levelWords(highestLevel(mounters)!)})`,
  };
}

/** M7: while the matrix is mixed, management operations go to a server running the old release. */
export function managementRefusal(
  receiver: MatrixMember,
  running: readonly MatrixMember[],
): { rule: string; message: string } | undefined {
  if (!isMixed(running)) return undefined;
  const lo = lowestRelease(running)!;
  if (compareReleases(receiver.release, lo) <= 0) return undefined;
  const old = running.filter((m) => compareReleases(m.release, lo) === 0).map((m) => m.name);
  return {
    rule: "M7",
    message: `the matrix is mixed (${lo} and ${highestRelease(running)}): send management operations to a server running ${lo} (${old.join(", ")}), not to ${receiver.name}`,
  };
}

/**
 * M8 as the appliance knows it: the releases a rolling upgrade to each release may start from (the
 * Matrix Server guide's table; "3.4.x" is any 3.4 release). The lab's own copy, not rules/'s.
 */
const ROLLING_FROM: ReadonlyArray<readonly [to: string, from: readonly string[]]> = [
  ["3.5.1", ["3.1.2", "3.5.0"]],
  ["3.6.0", ["3.4.x"]],
  ["4.1.0", ["3.6.x"]],
];

function releaseIs(release: string, pattern: string): boolean {
  if (!pattern.endsWith(".x")) return compareReleases(release, pattern) === 0;
  return release.startsWith(pattern.slice(0, -1));
}

/**
 * M8: installing `to` on a server that runs `from` while other servers of the matrix run it (a
 * rolling upgrade) needs a supported path, or is a return to the older release another running
 * server still has; the refusal's words, or undefined. With the whole matrix down (a full stop)
 * any release may be installed.
 */
export function unsupportedRollingInstall(
  server: MatrixMember,
  to: string,
  othersRunning: readonly MatrixMember[],
): string | undefined {
  if (othersRunning.length === 0 || compareReleases(server.release, to) === 0) return undefined;
  // going back to the older release the matrix still runs (a rollback before its point of no return)
  if (
    compareReleases(to, server.release) < 0 &&
    othersRunning.some((m) => compareReleases(m.release, to) === 0)
  )
    return undefined;
  if (ROLLING_FROM.some(([t, from]) => releaseIs(to, t) && from.some((f) => releaseIs(server.release, f))))
    return undefined;
  return `a rolling upgrade from ${server.release} to ${to} is not supported while ${othersRunning
    .map((m) => m.name)
    .join(", ")} run${othersRunning.length === 1 ? "s" : ""} the matrix: supported are ${ROLLING_FROM.map(
    ([t, f]) => `${t} from ${f.join(" or ")}`,
  ).join("; ")}; anything else needs a chain of supported upgrades or a full stop`;
}

/**
 * M11: a matrix's passes are complete rolling passes, one after the other. A mode change waits
 * until every server of the matrix runs one release, and one mode change at a time (the servers
 * span at most two modes); a release change waits until every server runs one mode. The refusal's
 * words, or undefined.
 */
export function passRefusal(
  server: MatrixMember,
  change: { release: string } | { mode: string },
  all: readonly MatrixMember[],
): string | undefined {
  if (server.mode === undefined) return undefined;
  if ("release" in change) {
    const modes = [...new Set(all.map((m) => m.mode))];
    if (modes.length > 1)
      return `the matrix's servers run in ${modes.join(" and ")}: a release change waits until the mode change is over on every server (each pass is a complete rolling pass)`;
    return undefined;
  }
  const releases = [...new Set(all.map((m) => m.release))];
  if (releases.length > 1)
    return `the matrix's servers run ${releases.join(" and ")}: a mode change waits until every server runs one release (each pass is a complete rolling pass)`;
  const modes = new Set(all.map((m) => m.mode));
  if (modes.size > 1 && !modes.has(change.mode))
    return `the matrix is changing mode between ${[...modes].join(" and ")}: one mode change at a time, not to ${change.mode} too`;
  return undefined;
}
