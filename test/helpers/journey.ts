import { copyFileSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { JournalEntry, Lab } from "../../src/lab/index.ts";
import { type CliResult, REPO, runCli } from "./cli.ts";

/**
 * What the operator journeys share: a fleet file copied into a test's own folder, the real
 * `apply --json` with its final report, and what the lab saw (its journal, in memory for a lab
 * started in the test, or from its file for a lab brought up with `rollgate lab up --detach`).
 */

export type { JournalEntry };

/** Copies a repository file (an example, a fixture) into `dir` under its own name; returns the copy. */
export function copyInto(dir: string, repoPath: string): string {
  const path = join(dir, repoPath.split("/").at(-1)!);
  copyFileSync(join(REPO, repoPath), path);
  return path;
}

/** `rollgate apply FLEET --to … --yes --confirm-finalize --json …`, with its final report. */
export async function applyJson(
  fleet: string,
  to: string[],
  extra: string[] = [],
  timeoutMs = 240_000,
): Promise<CliResult & { report: Record<string, unknown> | undefined }> {
  const r = await runCli(
    ["apply", fleet, ...to.flatMap((t) => ["--to", t]), "--yes", "--confirm-finalize", "--json", ...extra],
    { timeoutMs },
  );
  const last = r.stdout.trim().split("\n").at(-1);
  let report: Record<string, unknown> | undefined;
  try {
    report = last ? JSON.parse(last) : undefined;
  } catch {
    report = undefined;
  }
  return { ...r, report };
}

/** The JSON lines of `apply --json` / `resume --json`: the events, then the final report. */
// biome-ignore lint/suspicious/noExplicitAny: events read loosely
export function jsonLines(stdout: string): any[] {
  return stdout
    .trim()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l));
}

/** Every entry a lab's journal file holds so far (none before it exists; a line being written is skipped). */
export function readLabJournal(path: string): JournalEntry[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as JournalEntry];
      } catch {
        return [];
      }
    });
}

/** The journal of a lab started in the test: what it saw, in order. */
export function labEntries(lab: Lab): JournalEntry[] {
  return lab.world.journal.entries(0, Number.MAX_SAFE_INTEGER);
}

/** The lab's record of state changes, in order (of clusters only with `clustersOnly`). */
export function labStateChanges(lab: Lab, opts: { clustersOnly?: boolean } = {}): string[] {
  return labEntries(lab)
    .filter((e) => e.kind === "state" && (!opts.clustersOnly || e.server === undefined))
    .map((e) => e.detail);
}
