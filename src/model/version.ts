/**
 * Release versions (rule G1): dotted numbers of any length, compared numerically part by part.
 * A missing part counts as 0, so 3.5 and 3.5.0 are the same release.
 */
export type Version = readonly number[];

const VERSION_RE = /^\d{1,9}(\.\d{1,9})*$/;

export function isVersionString(text: string): boolean {
  return VERSION_RE.test(text);
}

/** Parses "10.0.0.4" into [10, 0, 0, 4]; undefined when the text is not a dotted number. */
export function parseVersion(text: string): Version | undefined {
  if (!VERSION_RE.test(text)) return undefined;
  return text.split(".").map((part) => Number(part));
}

function toVersion(v: string | Version): Version {
  if (typeof v !== "string") return v;
  const parsed = parseVersion(v);
  if (!parsed) throw new TypeError(`not a version: ${JSON.stringify(v)}`);
  return parsed;
}

/** Negative when a < b, 0 when equal, positive when a > b. */
export function compareVersions(a: string | Version, b: string | Version): number {
  const x = toVersion(a);
  const y = toVersion(b);
  const n = Math.max(x.length, y.length);
  for (let i = 0; i < n; i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

export function formatVersion(v: Version): string {
  return v.join(".");
}

/** Part i of a version, 0 when absent (3.5 has patch 0). */
export function versionPart(v: string | Version, i: number): number {
  return toVersion(v)[i] ?? 0;
}

/**
 * True when `version` lies under `prefix`: "3.5.1" is under "3.5" and under "3.5.1", not under "3.50".
 * A prefix with a trailing ".x" ("3.4.x") means the same as the prefix without it.
 */
export function versionMatches(version: string | Version, prefix: string): boolean {
  const p = toVersion(prefix.replace(/\.x$/i, ""));
  const v = toVersion(version);
  for (let i = 0; i < p.length; i++) if ((v[i] ?? 0) !== p[i]) return false;
  return true;
}
