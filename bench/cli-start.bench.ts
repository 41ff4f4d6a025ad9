import { spawnSync } from "node:child_process";
import { availableParallelism, loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { build, isFresh } from "../scripts/build.js";

/**
 * How fast the CLI starts (issue 11: under 300 ms each): `rollgate --version` and `rollgate
 * validate examples/matrix-seed.yaml` as a user runs them, the real bin in a child process, with
 * the build (dist/) fresh (made here when it is not). Median and min of RUNS runs, after one
 * warm-up run; "from source" is the fallback through tsx, once, for comparison. "load/core" is the
 * 1-minute load average per core when the case ends: above 1, other work shares the cores and the
 * times say more about it than about rollgate.
 */
const BIN = fileURLToPath(new URL("../bin/rollgate.js", import.meta.url));
const REPO = fileURLToPath(new URL("..", import.meta.url));
const RUNS = 9;
const TARGET_MS = 300;

function time(args: string[], env: Record<string, string> = {}): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: REPO,
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1", ...env },
  });
  const ms = performance.now() - t0;
  if (r.status !== 0) throw new Error(`rollgate ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  return ms;
}

function bench(args: string[]) {
  return async () => {
    if (!isFresh()) await build();
    time(args);
    const runs = Array.from({ length: RUNS }, () => time(args)).sort((a, b) => a - b);
    const median = runs[Math.floor(RUNS / 2)]!;
    return {
      "median ms": Math.round(median),
      "min ms": Math.round(runs[0]!),
      "max ms": Math.round(runs.at(-1)!),
      "target ms": TARGET_MS,
      "within target": median < TARGET_MS ? "yes" : "NO",
      "from source ms": Math.round(time(args, { ROLLGATE_FROM_SOURCE: "1" })),
      "load/core": Math.round(((loadavg()[0] ?? 0) / availableParallelism()) * 100) / 100,
    };
  };
}

export const cases = [
  { name: "cli start: rollgate --version", run: bench(["--version"]) },
  {
    name: "cli start: rollgate validate examples/matrix-seed.yaml",
    run: bench(["validate", "examples/matrix-seed.yaml"]),
  },
];
