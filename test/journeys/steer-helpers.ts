import { runCli } from "../helpers/cli.ts";
import { copyInto, readLabJournal } from "../helpers/journey.ts";

/** Helpers of the journeys that steer runs by their fleet files (two labs in one folder). */

/** Copies an example fleet file into `dir`; returns its path. */
export function copyExample(dir: string, example: string): string {
  return copyInto(dir, `examples/${example}.yaml`);
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

export { readLabJournal as labJournal } from "../helpers/journey.ts";

/** The actions the lab received (API or console). */
export const actionsOf = (journal: string) => readLabJournal(journal).filter((e) => e.kind === "action");

/** `rollgate status ARG --json`, parsed. */
export async function statusJson(
  args: string[],
): Promise<{ run: { id: string; fleet: string; state: string; fleetFile: string }; statePath: string }> {
  const r = await runCli(["status", ...args, "--json"], { timeoutMs: 60_000 });
  if (r.code !== 0) throw new Error(`status ${args.join(" ")} failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout);
}
