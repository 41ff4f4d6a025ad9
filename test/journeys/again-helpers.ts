import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Lab, startLab } from "../../src/lab/index.ts";
import { REPO, tempDir } from "../helpers/cli.ts";
import { labEntries, labStateChanges } from "../helpers/journey.ts";

/**
 * Helpers of the journeys "a supercluster upgraded twice", "abort then go on", "one cluster
 * upgraded by hand" and "a matrix upgraded twice": a lab of an example fleet in a temporary
 * folder, the real CLI against its derived fleet file, and what the lab saw.
 */
export interface Rehearsal {
  lab: Lab;
  dir: string;
  /** The derived fleet file (the lab's drivers): what the operator applies and syncs. */
  fleet: string;
  /** The fleet file the lab was started from (what `rollgate lab act` takes). */
  original: string;
}

const labs: Lab[] = [];

export async function rehearse(
  example: string,
  speed: number,
  edit?: (text: string) => string,
): Promise<Rehearsal> {
  const dir = tempDir("rollgate-journey-again-");
  const file = join(dir, `${example}.yaml`);
  if (edit) writeFileSync(file, edit(readFileSync(join(REPO, "examples", `${example}.yaml`), "utf8")));
  else copyFileSync(join(REPO, "examples", `${example}.yaml`), file);
  const lab = await startLab(file, { speed });
  labs.push(lab);
  return { lab, dir, fleet: lab.derivedFleetPath, original: file };
}

export async function stopLabs(): Promise<void> {
  for (const l of labs.splice(0)) await l.stop();
}

export { applyJson as applyTo } from "../helpers/journey.ts";

/** The lab's journal of state changes, in order. */
export function stateChanges(lab: Lab): string[] {
  return labStateChanges(lab);
}

/** Every DMA cluster's service state as the lab holds it. */
export function service(
  lab: Lab,
): Record<string, { inService: boolean; busiedOut: boolean; supercluster: string | null }> {
  const out: Record<string, { inService: boolean; busiedOut: boolean; supercluster: string | null }> = {};
  for (const c of lab.world.clusters.values())
    if (c.pack === "polycom-dma")
      out[c.name] = { inService: c.inService, busiedOut: c.busiedOut, supercluster: c.supercluster };
  return out;
}

/** Releases per server as the lab holds them. */
export function releases(lab: Lab): Record<string, string> {
  return Object.fromEntries(lab.status().servers.map((s) => [s.name, s.release]));
}

/** The lab's state notes that `pattern` matches, in order, as "server <its first group>". */
export function labNotes(lab: Lab, pattern: RegExp): string[] {
  const out: string[] = [];
  for (const e of labEntries(lab)) {
    const m = e.kind === "state" ? pattern.exec(e.detail) : null;
    if (m) out.push(`${e.server} ${m[1]}`);
  }
  return out;
}

/** The installs the lab began, in order, as "server release". */
export const installs = (lab: Lab): string[] => labNotes(lab, /: installing (\S+)$/);

/** The matrix servers' stops, installs and starts as the lab saw them, in order ("srv3 stopped"). */
export const stopsInstallsStarts = (lab: Lab): string[] =>
  labNotes(lab, /: (stopped|installing \S+|started)$/);
