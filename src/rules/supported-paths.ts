import { versionMatches } from "../model/version.ts";

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
