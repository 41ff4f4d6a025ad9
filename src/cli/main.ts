import { Command, CommanderError, InvalidArgumentError } from "commander";
import { RollgateError } from "../model/errors.ts";
import { MAX_SPEED, MIN_SPEED } from "../lab/speed-bounds.ts";
import { registerCommands } from "./commands/index.ts";
import { addExamples } from "./examples.ts";
import { addLogOptions } from "./log-options.ts";
import { type Output, processOutput, reportError, terminalText } from "./output.ts";
import { installSecretNet } from "./secret-net.ts";
import { ROLLGATE_VERSION } from "./version.ts";

/**
 * The `rollgate` program. Commands live one per file in ./commands and only parse flags, call one
 * function and render. Exit codes: 0 ok, 1 an operation halted, 2 bad input or usage, 3 internal error.
 */
export interface CliContext {
  output: Output;
  /** Set by a command to report its exit code (0 when untouched). */
  exitCode: number;
}

export function buildProgram(ctx: CliContext): Command {
  const program = new Command();
  program
    .name("rollgate")
    .description("Plan, rehearse and apply rule-checked rolling upgrades of clustered server software.")
    .version(ROLLGATE_VERSION, "-V, --version", "print the version of rollgate")
    // the program's options only before the command: a command's own --version (import ansible
    // --version 10.0.1, a release) is the command's, not rollgate's
    .enablePositionalOptions()
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride()
    .configureOutput({
      writeOut: (s) => process.stdout.write(terminalText(s)),
      writeErr: (s) => process.stderr.write(terminalText(s)),
      // commander's own usage errors (unknown option, missing argument, invalid choice) carry the
      // catalog's code like every other error
      outputError: (s, write) => write(s.replace(/\n?$/, " [ROLLGATE_E_USAGE]\n")),
    })
    .addHelpText(
      "after",
      "\nExit codes: 0 ok, 1 an operation halted (escalation, abort, pause, Ctrl-C, a question answered no), 2 bad input or usage, 3 internal error.\nDocs: README.md, docs/errors.md",
    );
  registerCommands(program, ctx);
  addLogOptions(program);
  addExamples(program);
  for (const cmd of program.commands) cmd.exitOverride().showHelpAfterError("(run with --help for usage)");
  return program;
}

/** Wraps a command's action: errors become a printed message and the catalog's exit code. */
export function action<A extends unknown[]>(
  ctx: CliContext,
  fn: (...args: A) => Promise<number | undefined> | number | undefined,
): (...args: A) => Promise<void> {
  return async (...args: A) => {
    const opts = args.find(
      (a) => a && typeof a === "object" && !Array.isArray(a) && !(a instanceof Command),
    ) as { json?: boolean } | undefined;
    try {
      ctx.exitCode = (await fn(...args)) ?? 0;
    } catch (e) {
      ctx.exitCode = reportError(ctx.output, e, Boolean(opts?.json));
    }
  };
}

export async function main(argv: string[]): Promise<number> {
  installSecretNet(argv);
  const ctx: CliContext = { output: processOutput(), exitCode: 0 };
  const program = buildProgram(ctx);
  try {
    await program.parseAsync(argv);
    return ctx.exitCode;
  } catch (e) {
    if (e instanceof CommanderError) {
      if (
        e.code === "commander.helpDisplayed" ||
        e.code === "commander.version" ||
        e.code === "commander.help"
      )
        return 0;
      return 2; // commander has printed the usage error already
    }
    return reportError(ctx.output, e, false);
  }
}

/** Commander argument parsers that turn bad values into usage errors (exit 2). */
export function parsePositiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError("expected a positive number");
  return n;
}

/** --speed of the lab and the demo: a finite number within the lab's bounds (docs/lab.md). */
export function parseSpeed(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < MIN_SPEED || n > MAX_SPEED)
    throw new InvalidArgumentError(`expected a number from ${MIN_SPEED} to ${MAX_SPEED}`);
  return n;
}

export function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError("expected a port number 0–65535");
  return n;
}

export function usageError(message: string): RollgateError {
  return new RollgateError("ROLLGATE_E_USAGE", message);
}
