import { type Command, Option } from "commander";
import type { EventLog } from "./logging.ts";
import type { CliContext } from "./main.ts";

/**
 * `--log-format text|json` and `--log-level` of apply, resume, demo and serve (docs/cli.md). This
 * module is all a command loads to register them; logging.ts (and pino) only with
 * `--log-format json`.
 */
export const LOG_FORMATS = ["text", "json"] as const;
export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "silent"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LogOpts {
  logFormat?: LogFormat;
  logLevel?: LogLevel;
}

/** Adds --log-format and --log-level to a command. */
export function logOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option("--log-format <format>", "stderr as human text, or as JSON lines (one per event)")
        .choices(LOG_FORMATS)
        .default("text"),
    )
    .addOption(
      new Option("--log-level <level>", "the least level logged with --log-format json")
        .choices(LOG_LEVELS)
        .default("info"),
    );
}

/**
 * Starts JSON logging for a command when asked: ctx.output's diagnostics become log lines, and
 * the returned EventLog follows the run's events. Undefined with --log-format text.
 */
export async function startLogging(
  ctx: CliContext,
  opts: LogOpts,
  command: string,
): Promise<EventLog | undefined> {
  if (opts.logFormat !== "json") return undefined;
  const { createJsonLog, EventLog, loggingOutput } = await import("./logging.ts");
  const log = await createJsonLog(opts.logLevel ?? "info", command);
  ctx.output = loggingOutput(ctx.output, log);
  return new EventLog(log);
}

/** The commands that take --log-format and --log-level (added here, so each command file stays as it is). */
export const LOGGED_COMMANDS = ["apply", "resume", "demo", "serve"] as const;

export function addLogOptions(program: Command): void {
  for (const name of LOGGED_COMMANDS) {
    const cmd = program.commands.find((c) => c.name() === name);
    if (cmd) logOptions(cmd);
  }
}
