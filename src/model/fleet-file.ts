import type { Diagnostic, ErrorCode } from "./errors.ts";
import type { Fleet } from "./fleet.ts";
import { checkMeaning } from "./fleet-meaning.ts";
import { normalize } from "./fleet-normalize.ts";
import { parseFleetYaml } from "./fleet-parse.ts";
import { prune } from "./fleet-prune.ts";
import { formatPath, Reporter } from "./fleet-reporter.ts";
import { fleetFileSchema } from "./fleet-schema.ts";
import { reportIssue } from "./fleet-shape.ts";

export { closest } from "./fleet-names.ts";
export { formatPath } from "./fleet-reporter.ts";

/**
 * Fleet file → Fleet. Pure: takes the text and the name to report it by. Every error is collected
 * (YAML syntax, shape, then meaning) and returned at once, each with line, column and field path.
 * Never throws for any input.
 */
export type FleetParseResult = { ok: true; fleet: Fleet } | { ok: false; diagnostics: Diagnostic[] };

/**
 * The largest fleet file accepted: 8 MiB. A fleet of 10,000 servers written out in full (every
 * estimate of every cluster, a driver each) takes about 2 MB, so this leaves room for 40,000 and
 * more, and keeps validation (linear, about a second per MiB) and its memory bounded. Larger files
 * are refused before they are parsed. docs/security.md, "Input limits".
 */
export const MAX_FLEET_FILE_BYTES = 8 * 1024 * 1024;

/** The diagnostic for a fleet file of `bytes` bytes (or more, when read from a pipe), beyond the limit. */
export function fleetTooLarge(file: string, bytes: number, atLeast = false): Diagnostic {
  const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
  const size = atLeast ? `more than ${MAX_FLEET_FILE_BYTES} bytes` : `${mib(bytes)} (${bytes} bytes)`;
  return {
    code: "ROLLGATE_E_FLEET_TOO_LARGE",
    message: `the fleet file is ${size}, larger than the limit of ${mib(MAX_FLEET_FILE_BYTES)} (${MAX_FLEET_FILE_BYTES} bytes)`,
    file,
    expected: `a fleet file of at most ${MAX_FLEET_FILE_BYTES} bytes`,
  };
}

/**
 * The pipeline (docs/architecture.md): fleet-parse.ts (YAML with positions), the schema and
 * fleet-shape.ts (shape issues in words), fleet-prune.ts (the well-shaped part of a misshapen
 * file), fleet-meaning.ts (the checks of meaning), fleet-normalize.ts (the `Fleet`).
 */
export function parseFleetText(text: string, file = "fleet.yaml"): FleetParseResult {
  // a string's length is at most its UTF-8 size: anything longer is over the limit in bytes too
  if (text.length > MAX_FLEET_FILE_BYTES)
    return { ok: false, diagnostics: [fleetTooLarge(file, text.length)] };
  const parsed = parseFleetYaml(text, file);
  if (!parsed.ok) return parsed;
  const { doc, lines } = parsed;
  const rep = new Reporter(file, doc, lines);
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    rep.add("ROLLGATE_E_FLEET_YAML", [], (e as Error).message);
    return { ok: false, diagnostics: rep.diagnostics };
  }
  const shape = fleetFileSchema.safeParse(raw);
  if (!shape.success) {
    for (const issue of shape.error.issues) reportIssue(rep, issue, raw);
    // All at once: the checks of meaning also run on what is well shaped. The list entries with a
    // shape error (a server, a cluster, a territory, …) are set aside; what the rest then says
    // about the entries set aside (an unknown cluster that is only misshapen) is not reported.
    const part = prune(raw, shape.error.issues);
    if (part) {
      const meaning = new Reporter(file, doc, lines, part.toFile);
      checkMeaning(meaning, part.data);
      // a matrix whose mode is misshapen names no mode for the checks of its passes (M11): they
      // would report it missing
      const badMode = new Set(
        shape.error.issues
          .filter((i) => i.path.length === 3 && i.path[0] === "clusters" && i.path[2] === "mode")
          .map((i) => `clusters[${String(i.path[1])}]`),
      );
      for (const d of meaning.diagnostics) {
        const ref = meaning.references.get(d);
        const cluster = /^clusters\[\d+\]/.exec(d.path ?? "")?.[0];
        if (d.code === "ROLLGATE_E_FLEET_PASSES" && cluster !== undefined && badMode.has(cluster)) continue;
        if (!ref || !part.setAside[ref.kind].has(ref.name)) rep.diagnostics.push(d);
      }
    }
    return { ok: false, diagnostics: sortDiagnostics(rep.diagnostics) };
  }
  checkMeaning(rep, shape.data);
  if (rep.diagnostics.length > 0) return { ok: false, diagnostics: sortDiagnostics(rep.diagnostics) };
  return { ok: true, fleet: normalize(shape.data) };
}

function sortDiagnostics(ds: Diagnostic[]): Diagnostic[] {
  return [...ds].sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
}

/**
 * A diagnostic at `path` of a fleet file's text, located as validation locates its own: for a
 * check of the file made where the shell knows more than the file (a webhook's `secretEnv` that
 * names a variable not set). Pure: the caller reads the text.
 */
export function fleetDiagnosticAt(
  text: string,
  file: string,
  path: ReadonlyArray<string | number>,
  code: ErrorCode,
  message: string,
  expected?: string,
): Diagnostic {
  const parsed = parseFleetYaml(text, file);
  if (!parsed.ok) return { code, message, file, path: formatPath(path), ...(expected ? { expected } : {}) };
  const rep = new Reporter(file, parsed.doc, parsed.lines);
  rep.add(code, path, message, expected);
  return rep.diagnostics[0]!;
}
