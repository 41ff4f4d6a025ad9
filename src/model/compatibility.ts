import { compareVersions, versionMatches, versionPart } from "./version.ts";

/**
 * Rule G1: which releases may run side by side in one cluster or supercluster.
 * Declared per pack (its default) or per fleet / cluster in the fleet file.
 */
export type CompatibilityPolicy =
  | { kind: "same-major-minor" }
  | { kind: "same-major" }
  /** Same major, minor numbers at most `max` apart. */
  | { kind: "minor-distance"; max: number }
  /** Explicit table: each entry names two version prefixes ("3.5", "3.6.x") that may meet. */
  | { kind: "table"; pairs: ReadonlyArray<readonly [string, string]> };

export function isCompatible(a: string, b: string, policy: CompatibilityPolicy): boolean {
  if (compareVersions(a, b) === 0) return true;
  switch (policy.kind) {
    case "same-major-minor":
      return versionPart(a, 0) === versionPart(b, 0) && versionPart(a, 1) === versionPart(b, 1);
    case "same-major":
      return versionPart(a, 0) === versionPart(b, 0);
    case "minor-distance":
      return (
        versionPart(a, 0) === versionPart(b, 0) &&
        Math.abs(versionPart(a, 1) - versionPart(b, 1)) <= policy.max
      );
    case "table":
      return policy.pairs.some(
        ([p, q]) =>
          (versionMatches(a, p) && versionMatches(b, q)) || (versionMatches(a, q) && versionMatches(b, p)),
      );
  }
}

export function describePolicy(policy: CompatibilityPolicy): string {
  switch (policy.kind) {
    case "same-major-minor":
      return "same major.minor";
    case "same-major":
      return "same major";
    case "minor-distance":
      return `same major, at most ${policy.max} minor release(s) apart`;
    case "table":
      return `explicit table (${policy.pairs.map(([p, q]) => `${p}~${q}`).join(", ")})`;
  }
}
