import { copyFileSync, existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO, runCli } from "../helpers/cli.ts";

/** Helpers of the journeys that steer runs by their fleet files (two labs in one folder). */

export interface LabJournalEntry {
  seq: number;
  kind: string;
  server?: string;
  action?: string;
  detail?: string;
}

/** Copies an example fleet file into `dir`; returns its path. */
export function copyExample(dir: string, example: string): string {
  const path = join(dir, `${example}.yaml`);
  copyFileSync(join(REPO, "examples", `${example}.yaml`), path);
  return path;
}

/** `rollgate lab up FILE --detach --json`: the lab in the background, as an operator starts it. */
export async function labUp(
  fleet: string,
  speed: number,
): Promise<{ derived: string; journal: string; pid: number }> {
  const r = await runCli(["lab", "up", fleet, "--speed", String(speed), "--detach", "--json"], {
    timeoutMs: 60_000,
  });
  if (r.code !== 0) throw new Error(`lab up ${fleet} failed (${r.code}): ${r.stderr}`);
  const up = JSON.parse(r.stdout) as { fleet: string; pid: number; record: string };
  return { derived: up.fleet, journal: up.record.replace(/\.lab\.json$/, ".journal.jsonl"), pid: up.pid };
}

/** Every entry the lab's journal file holds so far. */
export function labJournal(journal: string): LabJournalEntry[] {
  if (!existsSync(journal)) return [];
  return readFileSync(journal, "utf8")
    .split("\n")
    .filter((l) => l.trim())
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as LabJournalEntry];
      } catch {
        return []; // a line being written
      }
    });
}

/** The actions the lab received (API or console). */
export const actionsOf = (journal: string) => labJournal(journal).filter((e) => e.kind === "action");

/** `rollgate status ARG --json`, parsed. */
export async function statusJson(
  args: string[],
): Promise<{ run: { id: string; fleet: string; state: string; fleetFile: string }; statePath: string }> {
  const r = await runCli(["status", ...args, "--json"], { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`status ${args.join(" ")} failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout);
}
