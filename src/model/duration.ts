import { RollgateError } from "./errors.ts";

/** Durations in the fleet file: "90s", "15m", "2h", "1h30m", "500ms". Returned in seconds. */
const UNIT_SECONDS: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };
const DURATION_RE = /^(?:(\d+(?:\.\d+)?)(ms|s|m|h|d))+$/;
const PART_RE = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/g;

/**
 * The longest duration a fleet file may give (an estimate, maxMixedWindow, a driver timeout): 7 days.
 * The manuals' installs take minutes to hours and their windows a few hours; a week is far beyond
 * any of them, and keeps every sum the planner makes (a whole fleet's steps one after another)
 * exact in milliseconds. docs/security.md, "Input limits".
 */
export const MAX_DURATION_SECONDS = 7 * 86_400;

export function parseDuration(text: string): number | undefined {
  const t = text.trim();
  if (!DURATION_RE.test(t)) return undefined;
  let total = 0;
  for (const m of t.matchAll(PART_RE)) total += Number(m[1]) * UNIT_SECONDS[m[2]!]!;
  return total;
}

/** 5400 → "1h30m", 90 → "1m30s", 0 → "0s". */
export function formatDuration(seconds: number): string {
  let s = Math.round(seconds);
  if (s <= 0) return "0s";
  const parts: string[] = [];
  for (const [unit, size] of [
    ["h", 3600],
    ["m", 60],
    ["s", 1],
  ] as const) {
    if (s >= size) {
      parts.push(`${Math.floor(s / size)}${unit}`);
      s %= size;
    }
  }
  return parts.join("");
}

/**
 * An environment knob given in seconds (ROLLGATE_LEASE_SECONDS, ROLLGATE_STATE_WAIT_SECONDS,
 * ROLLGATE_SERVE_POLL_SECONDS): unset or empty, undefined; a number from `min` to `max`, that
 * number; anything else is refused with ROLLGATE_E_USAGE (exit 2), naming the knob and its range.
 */
export function envSeconds(
  env: Readonly<Record<string, string | undefined>>,
  name: string,
  min: number,
  max: number,
): number | undefined {
  const given = env[name];
  if (given === undefined || given === "") return undefined;
  const n = Number(given);
  if (!Number.isFinite(n) || n < min || n > max)
    throw new RollgateError(
      "ROLLGATE_E_USAGE",
      `${name} must be a number of seconds from ${min} to ${max}, not ${JSON.stringify(given)}`,
    );
  return n;
}
