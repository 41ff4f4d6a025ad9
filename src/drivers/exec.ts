import { execFile } from "node:child_process";
import type { ExecDriverSpec } from "../model/fleet.ts";
import type {
  ActionArgs,
  ActionOutcome,
  ActionTarget,
  Driver,
  DriverAction,
  ServerObservation,
} from "./driver.ts";
import { readObservation } from "./observation.ts";

/**
 * The exec driver: one command per action, run WITHOUT a shell (execFile, arguments as a list), so
 * no value from the fleet can be interpreted by a shell. See docs/drivers.md.
 *
 * Placeholders replaced inside each argument: {name} {address} (the server that receives the
 * command), {server} (the server acted on: differs for a matrix management operation sent to an
 * old-release server, M7), {cluster} {release} {mode} (set-mode, M11) {joins}
 * {supercluster} {filesystem} {territories} (JSON) {unassigned} (JSON: D5's record step). The `status` command must print a JSON object
 * with at least { "state", "release" } (the ServerObservation fields of src/drivers/driver.ts).
 * An action's command succeeds with exit code 0; anything else is reported as refused.
 */
/** How a command list becomes the process to run (the ssh driver runs it on the server). */
export interface CommandRunner {
  kind: string;
  code: "ROLLGATE_E_EXEC_DRIVER" | "ROLLGATE_E_SSH_DRIVER";
  /** Where a missing command belongs in the fleet file, e.g. "driver.exec.commands". */
  field: string;
  /** The local argument list that runs `argv` for `target` (identity for exec). */
  wrap(argv: string[], target: ActionTarget): string[];
  /** Why a run failed before the command itself could (e.g. ssh could not connect), if it did. */
  transportFailure?(code: number, stderr: string): string | undefined;
  /**
   * The connection a command for `target` rides on, when commands share one (ssh multiplexing),
   * and how many may run over it at once; none: every command on its own.
   */
  channel?(target: ActionTarget): { key: string; limit: number } | undefined;
}

/**
 * Commands holding or waiting for a place on their connection, in this process (one map for every
 * driver: two clusters reaching one server share its connection, and its limit).
 */
const channels = new Map<string, { n: number; waiting: Array<() => void> }>();

async function takePlace(key: string, limit: number): Promise<() => void> {
  let slot = channels.get(key);
  if (!slot) {
    slot = { n: 0, waiting: [] };
    channels.set(key, slot);
  }
  const mine = slot;
  if (mine.n >= limit) await new Promise<void>((r) => mine.waiting.push(r));
  else mine.n++;
  return () => {
    const next = mine.waiting.shift();
    if (next)
      next(); // the place passes on as it is
    else if (--mine.n === 0) channels.delete(key);
  };
}

const LOCAL: CommandRunner = {
  kind: "exec",
  code: "ROLLGATE_E_EXEC_DRIVER",
  field: "driver.exec.commands",
  wrap: (argv) => argv,
};

export class ExecDriver implements Driver {
  readonly kind: string;

  constructor(
    private readonly spec: ExecDriverSpec,
    private readonly runner: CommandRunner = LOCAL,
  ) {
    this.kind = runner.kind;
  }

  /** Runs a command for `target`, after waiting for a place on its connection (ssh). */
  private async runFor(
    target: ActionTarget,
    argv: string[],
    timeoutMs: number,
  ): ReturnType<ExecDriver["run"]> {
    const channel = this.runner.channel?.(target);
    if (!channel) return this.run(this.runner.wrap(argv, target), timeoutMs);
    const release = await takePlace(channel.key, channel.limit);
    try {
      return await this.run(this.runner.wrap(argv, target), timeoutMs);
    } finally {
      release();
    }
  }

  /** The command of an action with its placeholders filled in, as it runs on the server. */
  argv(command: string[], target: ActionTarget, args: ActionArgs): string[] {
    const values: Record<string, string> = {
      name: target.server.name,
      server: args.server ?? target.server.name,
      address: target.server.address,
      cluster: target.cluster.name,
      release: args.release ?? "",
      mode: args.mode ?? "",
      joins: args.joins ?? "",
      supercluster: args.supercluster ?? "",
      filesystem: args.filesystem ?? "",
      territories: args.territories ? JSON.stringify(args.territories) : "",
      unassigned: args.unassigned ? JSON.stringify(args.unassigned) : "",
    };
    return command.map((part) => part.replace(/\{(\w+)\}/g, (m, key: string) => values[key] ?? m));
  }

  private run(
    argv: string[],
    timeoutMs: number,
  ): Promise<{ code: number; stdout: string; stderr: string; timedOut: boolean; notStarted?: string }> {
    return new Promise((resolve) => {
      const [file, ...rest] = argv;
      const child = execFile(
        file!,
        rest,
        { timeout: timeoutMs, maxBuffer: 4 * 1024 * 1024, windowsHide: true },
        (error, stdout, stderr) => {
          const err = error as (NodeJS.ErrnoException & { code?: number | string; killed?: boolean }) | null;
          const code = err ? (typeof err.code === "number" ? err.code : 127) : 0;
          resolve({
            code,
            stdout: String(stdout),
            stderr: String(stderr || err?.message || ""),
            timedOut: Boolean(err?.killed),
            // the program itself could not be started (not installed, not executable)
            ...(typeof err?.code === "string"
              ? { notStarted: `"${file}" could not be started (${err.code})` }
              : {}),
          });
        },
      );
      child.stdin?.end(); // a command that reads its input gets end-of-file, never waits for a person
    });
  }

  private timeout(options?: { timeoutMs?: number }): number {
    return options?.timeoutMs ?? (this.spec.timeout ? this.spec.timeout * 1000 : 60_000);
  }

  async observe(target: ActionTarget, options?: { timeoutMs?: number }): Promise<ServerObservation> {
    const unreachable: ServerObservation = {
      server: target.server.name,
      cluster: target.cluster.name,
      state: "unreachable",
      release: target.server.version,
    };
    const command = this.spec.commands.status;
    if (!command) return unreachable;
    const timeoutMs = this.timeout(options);
    const r = await this.runFor(target, this.argv(command, target, {}), timeoutMs);
    const field = `${this.runner.field}.status`;
    const driverField = this.runner.field.replace(/\.commands$/, "");
    if (r.timedOut) {
      const setting =
        options?.timeoutMs === undefined && this.spec.timeout
          ? `${driverField}.timeout`
          : `the default; set ${driverField}.timeout`;
      return { ...unreachable, error: `${field} gave no answer within ${timeoutMs / 1000}s (${setting})` };
    }
    if (r.code !== 0) {
      const why =
        r.notStarted ??
        this.runner.transportFailure?.(r.code, r.stderr) ??
        `${field} exited ${r.code}${lastLine(r.stderr) ? `: ${lastLine(r.stderr)}` : ""}`;
      return { ...unreachable, error: why };
    }
    let answer: unknown;
    try {
      answer = JSON.parse(r.stdout);
    } catch {
      // JSON.parse throws only a SyntaxError: the command printed no JSON
      return {
        ...unreachable,
        error: `${field} printed no JSON status${r.stdout.trim() ? ` (it printed "${r.stdout.trim().slice(0, 60)}")` : " (nothing)"}`,
      };
    }
    return readObservation(
      answer,
      target,
      `the ${this.kind} driver's status output (${this.runner.field}.status)`,
    );
  }

  async perform(
    target: ActionTarget,
    action: DriverAction,
    args: ActionArgs,
    options?: { timeoutMs?: number },
  ): Promise<ActionOutcome> {
    const { code, field, kind } = this.runner;
    const command = this.spec.commands[action];
    if (!command) {
      return {
        ok: false,
        code,
        message: `the ${kind} driver has no command for "${action}" (${field}.${action})`,
      };
    }
    const r = await this.runFor(target, this.argv(command, target, args), this.timeout(options));
    if (r.code === 0) return { ok: true };
    const transport = r.timedOut
      ? undefined
      : (r.notStarted ?? this.runner.transportFailure?.(r.code, r.stderr));
    return {
      ok: false,
      code,
      message: r.timedOut
        ? `"${command[0]} …" timed out`
        : (transport ??
          `"${command[0]} …" exited ${r.code}: ${r.stderr.trim().split("\n").slice(-3).join(" ")}`),
    };
  }
}

/** The last non-empty line of a command's stderr, short. */
function lastLine(text: string): string {
  const lines = text.trim().split("\n");
  return (lines[lines.length - 1] ?? "").trim().slice(0, 200);
}
