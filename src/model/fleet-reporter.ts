import { isMap, isScalar, type Document, type LineCounter, type Node } from "yaml";
import type { Diagnostic, ErrorCode } from "./errors.ts";

/**
 * Where the fleet file's diagnostics point: a path of fields, and the reporter that turns one into
 * a diagnostic with the line and column of the node it names.
 */
export type Path = ReadonlyArray<string | number>;

export function formatPath(path: Path): string {
  let out = "";
  for (const p of path) out += typeof p === "number" ? `[${p}]` : out ? `.${p}` : p;
  return out;
}

/** What a "no such cluster/server" diagnostic refers to (see `prune`). */
export interface Reference {
  kind: "cluster" | "server";
  name: string;
}

export class Reporter {
  readonly diagnostics: Diagnostic[] = [];
  /** Diagnostics that say a named cluster or server does not exist, and which one. */
  readonly references = new Map<Diagnostic, Reference>();
  constructor(
    private readonly file: string,
    private readonly doc: Document,
    private readonly lines: LineCounter,
    /** Maps a path of a pruned copy (see `prune`) back to the file's own path. */
    private readonly toFile: (path: Path) => Path = (p) => p,
  ) {}

  /** Position of the node at `path`, or of its nearest existing ancestor. */
  private position(path: Path, onKey = false): { line: number; column: number } {
    for (let n = path.length; n >= 0; n--) {
      const sub = path.slice(0, n);
      const node = (sub.length === 0 ? this.doc.contents : this.doc.getIn(sub, true)) as
        | Node
        | null
        | undefined;
      if (node && typeof node === "object" && "range" in node && node.range) {
        let offset = node.range[0];
        if (onKey || n < path.length) {
          const parent = (
            sub.length === 0 ? this.doc.contents : this.doc.getIn(sub.slice(0, -1), true)
          ) as Node | null;
          if (n === path.length && isMap(parent)) {
            const pair = parent.items.find((it) => isScalar(it.key) && it.key.value === sub[sub.length - 1]);
            if (pair && isScalar(pair.key) && pair.key.range) offset = pair.key.range[0];
          }
        }
        const { line, col } = this.lines.linePos(offset);
        return { line, column: col };
      }
    }
    return { line: 1, column: 1 };
  }

  /** A diagnostic that a cluster or server named here does not exist. */
  missing(code: ErrorCode, at: Path, ref: Reference, message: string, expected: string): void {
    this.add(code, at, message, expected);
    this.references.set(this.diagnostics[this.diagnostics.length - 1]!, ref);
  }

  add(code: ErrorCode, at: Path, message: string, expected?: string, onKey = false): void {
    const path = this.toFile(at);
    this.diagnostics.push({
      code,
      message,
      file: this.file,
      ...this.position(path, onKey),
      path: formatPath(path) || "(document)",
      ...(expected ? { expected } : {}),
    });
  }
}
