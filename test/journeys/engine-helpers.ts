import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { type CliResult, runCli, tempDir } from "../helpers/cli.ts";
import { type JournalEntry, readLabJournal } from "../helpers/journey.ts";

/**
 * Journey helpers for the engine's run-time checks: a lab brought up with the real CLI
 * (`rollgate lab up --detach`), driven by hand (`lab act`, `lab fault`), upgraded (`apply` on the
 * derived fleet file), and read back from the lab's own journal and `lab status --json`.
 */

/** Generous: two cores, several people running tests at once. */
export const CLI_MS = 180_000;

export type LabJournalEntry = JournalEntry;

export interface JourneyLab {
  /** The original fleet file (lab commands take it). */
  fleet: string;
  /** The derived fleet file (run commands take it). */
  derived: string;
  dir: string;
  cli(args: string[], timeoutMs?: number): Promise<CliResult>;
  /** `rollgate lab act FLEET SERVER ACTION [ARG]`, which must succeed. */
  act(server: string, action: string, arg?: string): Promise<void>;
  fault(server: string, kind: string): Promise<void>;
  // biome-ignore lint/suspicious/noExplicitAny: lab status JSON read loosely
  status(): Promise<any>;
  journal(): LabJournalEntry[];
  down(): Promise<void>;
}

/** Writes `yaml` to a fresh folder and brings a lab of it up, detached, with the real CLI. */
export async function journeyLab(yaml: string, name: string, speed: number): Promise<JourneyLab> {
  const dir = tempDir("rollgate-journey-");
  const fleet = join(dir, `${name}.yaml`);
  writeFileSync(fleet, yaml);
  const cli = (args: string[], timeoutMs = CLI_MS) => runCli(args, { cwd: dir, timeoutMs });
  const up = await cli(["lab", "up", fleet, "--speed", String(speed), "--port", "0", "--detach", "--json"]);
  if (up.code !== 0) throw new Error(`lab up failed (${up.code}): ${up.stderr}`);
  const info = JSON.parse(up.stdout) as { fleet: string };
  const journalPath = join(dir, ".rollgate", "lab", `${name}.journal.jsonl`);
  return {
    fleet,
    derived: info.fleet,
    dir,
    cli,
    async act(server, action, arg) {
      const r = await cli(["lab", "act", fleet, server, action, ...(arg ? [arg] : [])]);
      if (r.code !== 0) throw new Error(`lab act ${server} ${action} failed (${r.code}): ${r.stderr}`);
    },
    async fault(server, kind) {
      const r = await cli(["lab", "fault", fleet, server, kind]);
      if (r.code !== 0) throw new Error(`lab fault ${server} ${kind} failed (${r.code}): ${r.stderr}`);
    },
    async status() {
      const r = await cli(["lab", "status", fleet, "--json"]);
      if (r.code !== 0) throw new Error(`lab status failed (${r.code}): ${r.stderr}`);
      return JSON.parse(r.stdout);
    },
    journal() {
      return readLabJournal(journalPath);
    },
    async down() {
      await cli(["lab", "down", fleet]);
    },
  };
}

export { jsonLines } from "../helpers/journey.ts";
