import { randomBytes } from "node:crypto";
import { type Diagnostic, formatDiagnostic, isRollgateError, RollgateError } from "../model/errors.ts";
import { stateFileError } from "../store/state-file-error.ts";

/**
 * Where the CLI writes: results on stdout, diagnostics on stderr. Colour only on a TTY and never
 * when NO_COLOR is set (https://no-color.org).
 */
export interface Output {
  /** A line of results; control characters in it are shown escaped (terminalText). */
  out(line: string): void;
  /** A line of diagnostics on stderr, escaped the same way. */
  err(line: string): void;
  /**
   * A line of diagnostics with its fields (code, file, line, column, field), at a level: a log
   * line with those fields under `--log-format json` (logging.ts); absent, `err(line)` is used.
   */
  errWith?(line: string, fields: Record<string, unknown>, level: "error" | "warn" | "info"): void;
  json(value: unknown): void;
  readonly color: boolean;
  /** Whether stdout is a terminal. */
  readonly isTTY: boolean;
  /** Whether stderr is a terminal (a secret such as a dashboard token is printed only there). */
  readonly errIsTTY: boolean;
}

/**
 * Text for a terminal, made in one place. Names, versions and messages come from the fleet file,
 * the state file and the drivers' answers; an escape sequence among them (`\u001b[2K\r✔ ok`)
 * could erase a line and fake another. Every C0 control but newline and tab, DEL, every C1
 * control and the bidirectional overrides are shown escaped (`\x1b[2K\r`). rollgate's own
 * colours are not ESC characters until here: painter() writes them as a marker holding a random
 * per-process nonce, which no input can forge, and only the marker becomes an SGR sequence.
 */
const NONCE = randomBytes(8).toString("hex");
const MARK = `\uE000${NONCE}:`;
const MARK_RE = new RegExp(`\uE000${NONCE}:(\\d+)m`, "g");
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

export function escapeControls(text: string): string {
  return text.replace(CONTROLS, (c) => {
    const n = c.charCodeAt(0);
    if (c === "\r") return "\\r";
    if (c === "\u001b") return "\\x1b";
    return n < 0x100 ? `\\x${n.toString(16).padStart(2, "0")}` : `\\u${n.toString(16).padStart(4, "0")}`;
  });
}

export function terminalText(text: string): string {
  return escapeControls(text).replace(MARK_RE, "\u001b[$1m");
}

/**
 * JSON for stdout: JSON.stringify escapes C0 controls but leaves DEL, C1 controls and the
 * bidirectional overrides raw; they are written as \u escapes (the same JSON value).
 */
export function jsonText(value: unknown): string {
  return JSON.stringify(value).replace(
    /[\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

let pipeGuarded = false;

/** A reader that closes its end early (`rollgate status | head`) ends the command quietly. */
function guardClosedPipes(): void {
  if (pipeGuarded) return;
  pipeGuarded = true;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (e: NodeJS.ErrnoException) => {
      if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
      throw e;
    });
  }
}

export function processOutput(): Output {
  guardClosedPipes();
  const color = Boolean(process.stdout.isTTY) && !process.env.NO_COLOR && process.env.TERM !== "dumb";
  return {
    out: (line) => process.stdout.write(`${terminalText(line)}\n`),
    err: (line) => process.stderr.write(`${terminalText(line)}\n`),
    json: (value) => process.stdout.write(`${jsonText(value)}\n`),
    color,
    isTTY: Boolean(process.stdout.isTTY),
    errIsTTY: Boolean(process.stderr.isTTY),
  };
}

const CODES = {
  red: 31,
  green: 32,
  yellow: 33,
  blue: 34,
  magenta: 35,
  cyan: 36,
  gray: 90,
  bold: 1,
  dim: 2,
} as const;
export type Paint = (style: keyof typeof CODES, text: string) => string;

export function painter(color: boolean): Paint {
  return (style, text) => (color ? `${MARK}${CODES[style]}m${text}${MARK}0m` : text);
}

/** Prints an error (no stack trace for a RollgateError) and returns the exit code. */
export function reportError(o: Output, e: unknown, asJson: boolean): number {
  const err = isRollgateError(e)
    ? e
    : (stateFileError(e) ??
      new RollgateError("ROLLGATE_E_INTERNAL", `internal error: ${(e as Error)?.message ?? String(e)}`, {
        details: { stack: (e as Error)?.stack },
      }));
  if (asJson) {
    o.json({
      ok: false,
      error: { ...err.toJSON(), ...(err.code === "ROLLGATE_E_INTERNAL" ? { details: undefined } : {}) },
    });
  }
  const paint = painter(o.color);
  const say = (line: string, fields: Record<string, unknown>) =>
    o.errWith ? o.errWith(line, fields, "error") : o.err(line);
  if (err.diagnostics.length > 0) {
    say(paint("red", `error: ${err.message}`), { code: err.code, diagnostics: err.diagnostics.length });
    for (const d of err.diagnostics)
      say(`  ${formatDiagnostic(d)}`, {
        code: d.code,
        file: d.file,
        line: d.line,
        column: d.column,
        field: d.path,
        expected: d.expected,
      });
  } else {
    say(paint("red", `error: ${err.message} [${err.code}]`), { code: err.code });
  }
  if (err.code === "ROLLGATE_E_INTERNAL") {
    o.err("This is a bug in rollgate. Run again with ROLLGATE_DEBUG=1 for the stack trace, and report it.");
    if (process.env.ROLLGATE_DEBUG) o.err(String((err.details as { stack?: string }).stack ?? ""));
  }
  return err.exitCode;
}

export function diagnosticsToJson(ds: Diagnostic[]): unknown[] {
  return ds.map((d) => ({ ...d }));
}
