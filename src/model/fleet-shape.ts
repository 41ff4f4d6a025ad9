import type { z } from "zod";
import { DRIVER_COMMAND_NAMES, ESTIMATE_KEYS, expectedAt, keysAt, valuesAt } from "./fleet-schema.ts";
import { closest } from "./fleet-names.ts";
import type { Path, Reporter } from "./fleet-reporter.ts";

/**
 * One shape issue as a diagnostic that says what was expected there and what was found, in the
 * schema's words (fleet-schema.ts expectedAt), with a "did you mean" for a misspelt key or value.
 * `raw` is the document as parsed: zod 4 does not carry the input in its issues.
 */
export function reportIssue(rep: Reporter, issue: z.core.$ZodIssue, raw: unknown): void {
  const path = issue.path.filter((p): p is string | number => typeof p !== "symbol");
  if (issue.code === "unrecognized_keys") {
    const known = knownKeys(path) ?? keysAt(path);
    for (const key of issue.keys) {
      const near = known && closest(key, known);
      rep.add(
        "ROLLGATE_E_FLEET_SCHEMA",
        [...path, key],
        `unknown ${known === DRIVER_COMMAND_NAMES ? "command" : "field"} "${key}"${near ? `: did you mean ${near}?` : ""}`,
        known ? `one of ${known.join(", ")}` : "no such field (is it misspelt?)",
        true,
      );
    }
    return;
  }
  if (path.length === 1 && path[0] === "apiVersion") {
    rep.add(
      "ROLLGATE_E_FLEET_API_VERSION",
      path,
      "apiVersion must be rollgate/v1",
      '"apiVersion: rollgate/v1"',
    );
    return;
  }
  const value = valueAt(raw, path);
  const wanted = expectedAt(path);
  // expected …, found …: the diagnostic's message says both; `expected` keeps the first for JSON
  const foundIt = (expected: string, extra = "") => {
    rep.add(
      "ROLLGATE_E_FLEET_SCHEMA",
      path,
      `expected ${expected}, found ${found(value.value)}${extra}`,
      expected,
    );
  };
  if (issue.code === "invalid_type") {
    if (!value.present) {
      rep.add("ROLLGATE_E_FLEET_SCHEMA", path, "required field is missing", wanted ?? issue.expected);
      return;
    }
    foundIt(wanted ?? article(issue.expected));
    return;
  }
  if (issue.code === "invalid_value") {
    const allowed = issue.values.map((v) => String(v));
    const near = typeof value.value === "string" ? closest(value.value, allowed) : undefined;
    foundIt(`one of ${allowed.join(", ")}`, near ? ` (did you mean ${near}?)` : "");
    return;
  }
  if (issue.code === "invalid_union") {
    foundIt(wanted ?? issue.message, nearForm(path, value.value));
    return;
  }
  if (issue.code === "too_small" || issue.code === "too_big") {
    if (Array.isArray(value.value)) {
      // a list too short or too long: zod's own words say how many
      rep.add("ROLLGATE_E_FLEET_SCHEMA", path, `${issue.message.replace(/^Too (small|big): /, "")}`, wanted);
      return;
    }
    foundIt(wanted ?? issue.message);
    return;
  }
  if (issue.code === "invalid_key") {
    rep.add("ROLLGATE_E_FLEET_SCHEMA", path, "unknown key", "a known action name (install, settle, …)");
    return;
  }
  rep.add("ROLLGATE_E_FLEET_SCHEMA", path, issue.message, wanted);
}

/** " (did you mean same-major?)" for a misspelt word or key of one of the forms a union accepts. */
function nearForm(path: readonly (string | number)[], v: unknown): string {
  let near: string | undefined;
  if (typeof v === "string") near = closest(v, valuesAt(path));
  else if (v && typeof v === "object" && !Array.isArray(v)) {
    const keys = keysAt(path) ?? [];
    const unknown = Object.keys(v).find((k) => !keys.includes(k));
    near = unknown === undefined ? undefined : closest(unknown, keys);
    if (near) return ` (did you mean ${near} instead of ${unknown}?)`;
  }
  return near ? ` (did you mean ${near}?)` : "";
}

/** The value at `path` of the parsed document, and whether its key is there at all. */
function valueAt(raw: unknown, path: readonly (string | number)[]): { present: boolean; value: unknown } {
  let v: unknown = raw;
  for (const seg of path) {
    if (v === null || typeof v !== "object" || !(seg in (v as object)))
      return { present: false, value: undefined };
    v = (v as Record<string | number, unknown>)[seg];
  }
  return { present: true, value: v };
}

/** "number" → "a number" (zod's type names, when the schema has no words of its own). */
const article = (type: string) => (type === "array" ? "a list" : type === "object" ? "a map" : `a ${type}`);

/** What was found, in words: `the string "60%"`, `a list of 2 items`, `the number 12`. */
function found(v: unknown): string {
  if (v === null || v === undefined) return "nothing (an empty value)";
  if (Array.isArray(v)) return `a list of ${v.length} item${v.length === 1 ? "" : "s"}`;
  if (typeof v === "object") {
    const keys = Object.keys(v);
    if (keys.length === 0) return "an empty map ({})";
    return `a map (with ${keys.slice(0, 4).join(", ")}${keys.length > 4 ? ", …" : ""})`;
  }
  const text = JSON.stringify(v);
  return `the ${typeof v} ${text.length > 60 ? `${text.slice(0, 57)}…"` : text}`;
}

/** The names a map at `path` may have, where the schema fixes them (commands, estimates). */
function knownKeys(path: Path): readonly string[] | undefined {
  const last = path[path.length - 1];
  const kind = path[path.length - 2];
  if (last === "commands" && (kind === "exec" || kind === "ssh")) return DRIVER_COMMAND_NAMES;
  if (last === "estimates") return ESTIMATE_KEYS;
  return undefined;
}
