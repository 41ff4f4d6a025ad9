import { afterEach } from "vitest";
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

/** Labs still up: brought down after each test (a failing test's lab too). */
const labsUp = new Set<JourneyLab>();
afterEach(async () => {
  for (const l of labsUp) await l.down();
  labsUp.clear();
});

/**
 * A matrix of four servers (srv1–srv4 on 10.<net>.1.1–4, 3.5.0, installs of 15 m) in a fleet of
 * its own at capacity floor `floor`.
 */
export function fourServerMatrix(name: string, floor: number, net: number): string {
  return `apiVersion: rollgate/v1
fleet: four-matrix
defaults:
  capacityFloor: ${floor}
clusters:
  - name: ${name}
    pack: polyserve-matrix
    version: 3.5.0
    estimates: { install: 15m }
    servers:
${[1, 2, 3, 4].map((i) => `      - { name: srv${i}, address: 10.${net}.1.${i} }`).join("\n")}
`;
}

/** Writes `yaml` to a fresh folder and brings a lab of it up, detached, with the real CLI; down after the test. */
export async function journeyLab(yaml: string, name: string, speed: number): Promise<JourneyLab> {
  const dir = tempDir("rollgate-journey-");
  const fleet = join(dir, `${name}.yaml`);
  writeFileSync(fleet, yaml);
  const cli = (args: string[], timeoutMs = CLI_MS) => runCli(args, { cwd: dir, timeoutMs });
  const up = await cli(["lab", "up", fleet, "--speed", String(speed), "--port", "0", "--detach", "--json"]);
  if (up.code !== 0) throw new Error(`lab up failed (${up.code}): ${up.stderr}`);
  const info = JSON.parse(up.stdout) as { fleet: string };
  const journalPath = join(dir, ".rollgate", "lab", `${name}.journal.jsonl`);
  const lab: JourneyLab = {
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
      if (!labsUp.delete(lab)) return;
      await cli(["lab", "down", fleet]);
    },
  };
  labsUp.add(lab);
  return lab;
}

export { jsonLines } from "../helpers/journey.ts";
