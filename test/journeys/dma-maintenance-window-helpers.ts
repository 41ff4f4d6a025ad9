import { copyFileSync } from "node:fs";
import { join } from "node:path";
import { type Lab, startLab } from "../../src/lab/index.ts";
import { REPO, runCli, tempDir } from "../helpers/cli.ts";

/** The five-cluster supercluster with territories (floor 0), in a lab of its own folder. */
export async function fiveClusterLab(speed: number): Promise<Lab> {
  const dir = tempDir("rollgate-journey-dma-mw-");
  const file = join(dir, "dma-five.yaml");
  copyFileSync(join(REPO, "test", "fixtures", "dma-five.yaml"), file);
  return startLab(file, { speed });
}

/** `rollgate apply … --strategy maintenance-window --yes --confirm-finalize --json`: exit code and final report. */
export async function applyWindow(lab: Lab, timeoutMs: number) {
  const r = await runCli(
    [
      "apply",
      lab.derivedFleetPath,
      "--to",
      "10.1.0",
      "--strategy",
      "maintenance-window",
      "--yes",
      "--confirm-finalize",
      "--json",
    ],
    { timeoutMs },
  );
  const last = r.stdout.trim().split("\n").at(-1) ?? "{}";
  return { code: r.code, stderr: r.stderr, stdout: r.stdout, report: JSON.parse(last) };
}

/** The lab's journal: what it saw, in order. */
export function journal(lab: Lab) {
  return lab.world.journal.entries(0, Number.MAX_SAFE_INTEGER);
}

/** The lab's own record of cluster-level changes (busy-out, leave, join, territories, service). */
export function changes(lab: Lab): string[] {
  return journal(lab)
    .filter((e) => e.kind === "state" && e.server === undefined)
    .map((e) => e.detail);
}
