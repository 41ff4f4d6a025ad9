import { copyFileSync } from "node:fs";
import { join } from "node:path";
import { type Lab, startLab } from "../../src/lab/index.ts";
import { REPO, tempDir } from "../helpers/cli.ts";
import { applyJson, labEntries, labStateChanges } from "../helpers/journey.ts";

/** The five-cluster supercluster with territories (floor 0), in a lab of its own folder. */
export async function fiveClusterLab(speed: number): Promise<Lab> {
  const dir = tempDir("rollgate-journey-dma-mw-");
  const file = join(dir, "dma-five.yaml");
  copyFileSync(join(REPO, "test", "fixtures", "dma-five.yaml"), file);
  return startLab(file, { speed });
}

/** `rollgate apply … --strategy maintenance-window --yes --confirm-finalize --json`: exit code and final report. */
export async function applyWindow(lab: Lab, timeoutMs: number) {
  const r = await applyJson(
    lab.derivedFleetPath,
    ["10.1.0"],
    ["--strategy", "maintenance-window"],
    timeoutMs,
  );
  return { ...r, report: r.report ?? {} };
}

/** The lab's journal: what it saw, in order. */
export const journal = labEntries;

/** The lab's own record of cluster-level changes (busy-out, leave, join, territories, service). */
export function changes(lab: Lab): string[] {
  return labStateChanges(lab, { clustersOnly: true });
}
