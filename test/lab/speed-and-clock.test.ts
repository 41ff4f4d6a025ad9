import { existsSync, readdirSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { MAX_TIMER_DELAY_MS, TimerWheel } from "../../src/lab/clock.ts";
import { type Lab, startLab } from "../../src/lab/index.ts";
import { runCli } from "../helpers/cli.ts";
import { waitFor, e2eTimeouts } from "../helpers/wait.ts";
import { writeFleet as writeFleetIn } from "./lab-helpers.ts";

e2eTimeouts(60_000);

const written: string[] = [];
/** A fleet file in a fresh temp dir, removed after the test (a lab started by a regression is stopped). */
function writeFleet(yaml: string): string {
  const path = writeFleetIn(yaml);
  written.push(path);
  return path;
}

const FLEET = `apiVersion: rollgate/v1
fleet: clock
clusters:
  - name: cx
    pack: polyserve-matrix
    version: 3.5.0
    servers:
      - { name: c1, address: 10.65.1.1 }
      - { name: c2, address: 10.65.1.2 }
`;

const DAY = 86_400_000;

let lab: Lab | undefined;
let wheel: TimerWheel | undefined;
afterEach(async () => {
  await lab?.stop();
  lab = undefined;
  wheel?.clear();
  wheel = undefined;
  for (const path of written.splice(0)) {
    if (existsSync(`${dirname(path)}/.rollgate/lab/fleet.lab.json`)) await runCli(["lab", "down", path]);
    rmSync(dirname(path), { recursive: true, force: true });
  }
});

/** The node timers the wheel sets while `ms` of real time pass (the window is the measurement). */
async function timersSetDuring(w: TimerWheel, ms: number): Promise<number> {
  const before = w.timersSet;
  const end = Date.now() + ms;
  await waitFor(() => Date.now() >= end, { timeoutMs: ms + 5_000, intervalMs: 10 });
  return w.timersSet - before;
}

describe("the lab's clock waits for far deadlines without spinning", () => {
  it("arms one capped timer for an action 30 days away, and none again while it waits", async () => {
    wheel = new TimerWheel();
    let ran = false;
    wheel.after(30 * DAY, () => (ran = true));
    wheel.after(Number.POSITIVE_INFINITY, () => (ran = true));
    expect(wheel.timersSet).toBe(1);
    // Node turns a delay above 2^31-1 ms into 1 ms: without the cap, this re-arms ~every millisecond
    expect(await timersSetDuring(wheel, 200)).toBe(0);
    expect(ran).toBe(false);
    // a nearer deadline still runs on time, and the far one is waited for again (one timer each)
    let near = false;
    wheel.after(20, () => (near = true));
    await waitFor(() => near, { timeoutMs: 5_000 });
    expect(wheel.timersSet).toBeLessThanOrEqual(3);
    expect(MAX_TIMER_DELAY_MS).toBe(2 ** 31 - 1);
  });

  it("a real lab with an install 100 days long does not spin", async () => {
    wheel = new TimerWheel();
    lab = await startLab(writeFleet(FLEET), { speed: 100, scheduler: wheel, journalFile: false });
    lab.fault("c2", "slow-install", { factor: 1_000_000 }); // 15 m ÷ 100 × 10⁶ ≈ 104 days
    await lab.act("c2", { action: "stop" });
    await lab.act("c2", { action: "install", release: "3.5.1" }, { wait: false });
    await waitFor(() =>
      lab!
        .status()
        .servers.find((s) => s.name === "c2")
        ?.activity?.startsWith("install"),
    );
    expect(await timersSetDuring(wheel, 200)).toBeLessThanOrEqual(1);
  });
});

describe("--speed is checked before anything is written", () => {
  it.each(["1e-300", "0", "-5", "Infinity", "NaN", "1e8", "0.05"])(
    "lab up --speed %s: exit 2, ROLLGATE_E_USAGE, no lab files",
    async (speed) => {
      const fleet = writeFleet(FLEET);
      const r = await runCli(["lab", "up", fleet, "--speed", speed, "--port", "0", "--detach"], {
        timeoutMs: 30_000,
      });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/--speed.*\[ROLLGATE_E_USAGE\]/);
      expect(r.stderr).not.toMatch(/RangeError|\n\s+at /);
      expect(readdirSync(dirname(fleet))).toEqual(["fleet.yaml"]);
    },
    30_000,
  );

  it("lab up refuses a speed that would make the derived fleet file invalid (an estimate past 7d)", async () => {
    const fleet = writeFleet(
      FLEET.replace("    version: 3.5.0\n", "    version: 3.5.0\n    estimates: { install: 1d }\n"),
    );
    const r = await runCli(["lab", "up", fleet, "--speed", "0.1", "--port", "0", "--detach"], {
      timeoutMs: 30_000,
    });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain("clusters[0].estimates.install");
    expect(r.stderr).toContain("[ROLLGATE_E_USAGE]");
    expect(existsSync(`${dirname(fleet)}/.rollgate`)).toBe(false);
  }, 30_000);

  it("demo --speed 1e-300: exit 2 before the demo starts", async () => {
    const r = await runCli(["demo", "--speed", "1e-300", "--json"], { timeoutMs: 30_000 });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/--speed.*\[ROLLGATE_E_USAGE\]/);
  }, 30_000);

  it("startLab refuses the same speeds in process, before writing", async () => {
    const fleet = writeFleet(FLEET);
    await expect(startLab(fleet, { speed: 1e-300 })).rejects.toMatchObject({ code: "ROLLGATE_E_USAGE" });
    expect(readdirSync(dirname(fleet))).toEqual(["fleet.yaml"]);
  });

  it("keeps the speeds the tests and the bench use (up to 10⁷)", async () => {
    lab = await startLab(writeFleet(FLEET), { speed: 100_000, journalFile: false });
    expect((await runCli(["validate", lab.derivedFleetPath])).code).toBe(0);
  }, 30_000);
});
