import { type Diagnostic, formatDiagnostic, isRollgateError, RollgateError } from "../model/errors.ts";
import { stateFileError } from "../store/state-file.ts";

/**
 * Where the CLI writes: results on stdout, diagnostics on stderr. Colour only on a TTY and never
 * when NO_COLOR is set (https://no-color.org).
 */
export interface Output {
  out(line: string): void;
  err(line: string): void;
  json(value: unknown): void;
  readonly color: boolean;
  readonly isTTY: boolean;
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
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    json: (value) => process.stdout.write(`${JSON.stringify(value)}\n`),
    color,
    isTTY: Boolean(process.stdout.isTTY),
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
  return (style, text) => (color ? `\u001b[${CODES[style]}m${text}\u001b[0m` : text);
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
  if (err.diagnostics.length > 0) {
    o.err(paint("red", `error: ${err.message}`));
    for (const d of err.diagnostics) o.err(`  ${formatDiagnostic(d)}`);
  } else {
    o.err(paint("red", `error: ${err.message} [${err.code}]`));
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
