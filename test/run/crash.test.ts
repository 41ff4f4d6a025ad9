import { afterEach, describe, expect, it } from "vitest";
import type { Lab } from "../../src/lab/index.ts";
import { defaultStatePath } from "../../src/run/locate.ts";
import { summarizeRun } from "../../src/run/summary.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";
import { runCli } from "../helpers/cli.ts";
import { labOf, seeded, startEngine } from "../helpers/engine.ts";
import { e2eTimeouts } from "../helpers/wait.ts";

e2eTimeouts(630_000);

/**
 * Crash safety (issue 5): SIGKILL the engine at 20 seeded moments of a lab run, resume each time.
 * A "moment" is the k-th line of the engine's JSON event stream, k drawn from a seeded PRNG: the
 * kill lands right after the engine journaled that event (often between an intent and the driver
 * call, or while an install runs). No fixed sleeps: the test waits for the line, then kills.
 * Each resumed run must leave the lab exactly where an undisturbed run leaves it, having made the
 * same changes, each once (the lab's journal of state changes, compared with the undisturbed run's).
 */
const FLEET = process.env.ROLLGATE_CRASH_FLEET ?? "demo";
const SPEED = 6000;
const TARGETS =
  FLEET === "demo" ? ["--to", "polycom-dma=10.1.0", "--to", "polyserve-matrix=3.5.1"] : ["--to", "3.5.1"];
const KILLS = 20;

let lab: Lab | undefined;

/**
 * Every change of state the lab journaled (servers stopped, installed, started; clusters busied
 * out, left, joined, territories handed over, …), without times, sorted: what was done, each as
 * often as it was done. A crashed and resumed run must have done exactly what an undisturbed one
 * does: no action performed twice, none left out.
 */
function effects(l: Lab): string[] {
  return l.world.journal
    .entries(0, Number.MAX_SAFE_INTEGER)
    .filter((e) => e.kind === "state")
    .map((e) => `${e.cluster ?? ""}/${e.server ?? ""}: ${e.detail}`)
    .sort();
}
afterEach(async () => {
  await lab?.stop();
  lab = undefined;
});

describe(`kill -9 of the engine at ${KILLS} seeded moments (${FLEET})`, () => {
  it("every run completes with each server installed once, the same changes as an undisturbed run, and no rule broken", async () => {
    // How many event lines does a whole run print? Measure once, so the kill moments span it.
    const probe = await labOf(FLEET, SPEED);
    const full = await runCli(["apply", probe.fleet, ...TARGETS, "--yes", "--confirm-finalize", "--json"], {
      timeoutMs: 120_000,
    });
    const undisturbed = effects(probe.lab);
    await probe.lab.stop();
    expect(full.code, full.stderr).toBe(0);
    const total = full.stdout.trim().split("\n").length;

    const random = seeded(20261122);
    const moments: number[] = [];
    for (let i = 0; i < KILLS; i++) {
      const k = 1 + Math.floor(random() * (total - 1));
      moments.push(k);
      const t = await labOf(FLEET, SPEED);
      lab = t.lab;
      const engine = startEngine(["apply", t.fleet, ...TARGETS, "--yes", "--confirm-finalize", "--json"]);
      await engine.afterLine(k);
      engine.child.kill("SIGKILL");
      await engine.exited;

      // Resume: alternately with `rollgate resume` and with the same `rollgate apply`.
      const again =
        i % 2 === 0
          ? await runCli(["resume", t.fleet, "--confirm-finalize", "--json"], { timeoutMs: 120_000 })
          : await runCli(["apply", t.fleet, ...TARGETS, "--yes", "--confirm-finalize", "--json"], {
              timeoutMs: 120_000,
            });
      const finishedAlready = again.code === 2 && again.stderr.includes("ROLLGATE_E_RUN_FINISHED");
      expect(again.code === 0 || finishedAlready, `kill after line ${k}: ${again.stderr}`).toBe(true);

      const store = new SqliteStore(defaultStatePath(t.fleet));
      const status = await summarizeRun(store, (await store.listRuns())[0]!);
      await store.close();
      expect(status.run.state, `kill after line ${k}`).toBe("completed");
      expect(status.progress.done).toBe(status.progress.total);
      const lab1 = t.lab.status();
      expect(lab1.violations, `kill after line ${k}`).toEqual([]);
      expect(effects(t.lab), `kill after line ${k}`).toEqual(undisturbed);
      for (const s of lab1.servers) {
        expect(lab1.installs[s.name], `${s.name} installs, kill after line ${k}`).toBe(1);
        expect(s.state).toBe("running");
      }
      await t.lab.stop();
      lab = undefined;
    }
    expect(new Set(moments).size).toBeGreaterThan(KILLS / 2);
  }, 600_000);
});
