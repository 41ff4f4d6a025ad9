import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { copyFileSync } from "node:fs";
import { join } from "node:path";
import { type Lab, startLab } from "../../src/lab/index.ts";
import { BIN, REPO, tempDir } from "./cli.ts";

/** A lab of an example fleet in a fresh temp dir (real HTTP servers on loopback). */
export async function labOf(
  example: string,
  speed: number,
): Promise<{ lab: Lab; dir: string; fleet: string }> {
  const dir = tempDir("rollgate-run-test-");
  const fleetPath = join(dir, `${example}.yaml`);
  copyFileSync(join(REPO, "examples", `${example}.yaml`), fleetPath);
  const lab = await startLab(fleetPath, { speed });
  return { lab, dir, fleet: lab.derivedFleetPath };
}

export interface EngineProcess {
  child: ChildProcessWithoutNullStreams;
  /** JSON events (and the final report) printed so far. */
  lines: Record<string, unknown>[];
  stderr: () => string;
  exited: Promise<number>;
  /** Resolves when the n-th JSON line (1-based) has been read. */
  afterLine(n: number): Promise<void>;
}

/**
 * Starts the real `rollgate` CLI with --json and follows its event stream line by line. `wrap`
 * turns its command line into another that runs it (in a network namespace: test/helpers/netns.ts);
 * the wrapper must exec it, so that the child's pid is rollgate's.
 */
export function startEngine(
  args: string[],
  options: { wrap?: (argv: string[]) => string[]; env?: Record<string, string> } = {},
): EngineProcess {
  const argv = (options.wrap ?? ((a) => a))([process.execPath, BIN, ...args]);
  const child = spawn(argv[0]!, argv.slice(1), {
    cwd: REPO,
    env: { ...process.env, NO_COLOR: "1", ...options.env },
  });
  const lines: Record<string, unknown>[] = [];
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  let buf = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => {
    buf += d.toString();
    let i = buf.indexOf("\n");
    while (i >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        /* not JSON */
      }
      for (const w of waiters.filter((x) => lines.length >= x.n)) w.resolve();
      i = buf.indexOf("\n");
    }
  });
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number>((resolve) =>
    child.on("close", (code, signal) => resolve(code ?? (signal ? 128 : -1))),
  );
  return {
    child,
    lines,
    stderr: () => err,
    exited,
    afterLine: (n) =>
      new Promise<void>((resolve, reject) => {
        if (lines.length >= n) return resolve();
        waiters.push({ n, resolve });
        exited.then(() =>
          lines.length >= n
            ? resolve()
            : reject(new Error(`engine exited after ${lines.length} lines, before line ${n}\n${err}`)),
        );
      }),
  };
}

/** mulberry32: a small seeded PRNG, so the crash moments are the same on every run. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The vendor-style CLI adapter (test/fixtures/appliance-cli.mjs) that speaks to a lab's servers. */
export const ADAPTER_CLI = join(REPO, "test", "fixtures", "appliance-cli.mjs");

/**
 * The command lists of an exec or ssh driver that drive a lab's matrix through the adapter CLI:
 * `status`, and the per-server procedure (M9).
 */
export function adapterCommands(controlUrl: string): Record<string, string[]> {
  const url = `${controlUrl}/servers/{name}`;
  const actions = ["disable", "backup", "stop", "install", "start", "verify"];
  return {
    status: [process.execPath, ADAPTER_CLI, url, "status"],
    ...Object.fromEntries(
      actions.map((a) => [
        a,
        [process.execPath, ADAPTER_CLI, url, a, a === "install" ? '{"release":"{release}"}' : "{}"],
      ]),
    ),
  };
}
