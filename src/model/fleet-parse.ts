import { isScalar, isSeq, LineCounter, parseDocument, visit, type Document } from "yaml";
import type { Diagnostic } from "./errors.ts";

/** The fleet file's YAML as a document that keeps every node's position, or its syntax errors. */
export type FleetYaml =
  | { ok: true; doc: Document; lines: LineCounter }
  | { ok: false; diagnostics: Diagnostic[] };

/**
 * Steps 1 and 2 of the pipeline (docs/architecture.md): `yaml` parses the text (syntax errors stop
 * here), and numbers written where a version belongs keep their text as written.
 */
export function parseFleetYaml(text: string, file: string): FleetYaml {
  const lines = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter: lines,
    prettyErrors: false,
    uniqueKeys: true,
    strict: true,
  });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      diagnostics: doc.errors.map((e) => {
        const pos = e.linePos?.[0] ?? lines.linePos(e.pos[0]);
        return {
          code: "ROLLGATE_E_FLEET_YAML" as const,
          message: e.message.split("\n")[0]!.replace(/ at line \d+, column \d+.*$/, ""),
          file,
          line: pos.line,
          column: pos.col,
          expected: "well-formed YAML (check the indentation)",
        };
      }),
    };
  }
  keepVersionsAsWritten(doc);
  return { ok: true, doc, lines };
}

/** `version: 3.5` and `version: 10` are numbers to YAML; keep the text as written ("3.50" stays "3.50"). */
function keepVersionsAsWritten(doc: Document): void {
  const versionish = new Set(["version"]);
  visit(doc, {
    Pair(_, pair) {
      if (isScalar(pair.key) && versionish.has(String(pair.key.value)) && isScalar(pair.value)) {
        if (typeof pair.value.value === "number" && pair.value.source !== undefined)
          pair.value.value = pair.value.source;
      }
    },
    Seq(_, seq) {
      // compatibility tables: [[3.5, 3.6]]
      for (const item of seq.items) {
        if (isSeq(item)) {
          for (const s of item.items)
            if (isScalar(s) && typeof s.value === "number" && s.source) s.value = s.source;
        }
      }
    },
  });
}
