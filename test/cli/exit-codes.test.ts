import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Lab, startLab } from "../../src/lab/index.ts";
import { defaultStatePath } from "../../src/run/locate.ts";
import { runCli } from "../helpers/cli.ts";
import { exampleFleet } from "../journeys/terminal-helpers.ts";
import { e2eTimeouts } from "../helpers/wait.ts";

e2eTimeouts(60_000);

// Exit codes as docs/errors.md gives them: 0 ok · 1 an operation halted · 2 bad input or usage ·
// 3 internal. (Ctrl-C and SIGTERM: test/journeys/terminal-ctrl-c.test.ts, exit 1.)
let lab: Lab;
let fleet: string;
beforeAll(async () => {
  fleet = exampleFleet("matrix-seed.yaml").fleet;
  lab = await startLab(fleet, { speed: 1000 });
});
afterAll(async () => {
  await lab?.stop();
});

describe("exit codes", () => {
  it("an operator types an action the lab's appliance does not have: bad input, exit 2", async () => {
    const r = await runCli(["lab", "act", fleet, "srv1", "reboot"], { timeoutMs: 60_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/ROLLGATE_E_USAGE/);
    expect(r.stderr).toMatch(/no action "reboot" \(actions: .*install.*\)/);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
    // an action it has, refused by the appliance, is a halted operation: exit 1
    const refused = await runCli(["lab", "act", fleet, "srv1", "install", "3.5.1"], { timeoutMs: 60_000 });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/ROLLGATE_E_LAB_REFUSED/);
  }, 120_000);

  it("a script runs apply without a terminal and without --yes: declined, exit 1, nothing written", async () => {
    const r = await runCli(["apply", lab.derivedFleetPath, "--to", "3.5.1"], { timeoutMs: 60_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /no terminal to ask for confirmation and no --yes.*pass --yes.*ROLLGATE_E_DECLINED/,
    );
    expect(existsSync(defaultStatePath(lab.derivedFleetPath))).toBe(false);
    expect(lab.status().servers.every((s) => s.release === "3.5.0" && s.state === "running")).toBe(true);
    const json = await runCli(["apply", lab.derivedFleetPath, "--to", "3.5.1", "--json"], {
      timeoutMs: 60_000,
    });
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, error: { code: "ROLLGATE_E_DECLINED" } });
  }, 120_000);

  it("usage errors exit 2", async () => {
    expect((await runCli(["apply", lab.derivedFleetPath], { timeoutMs: 60_000 })).code).toBe(2); // no --to
    expect(
      (await runCli(["apply", lab.derivedFleetPath, "--to", "3.5.1", "--bogus"], { timeoutMs: 60_000 })).code,
    ).toBe(2);
    expect((await runCli(["frobnicate"], { timeoutMs: 60_000 })).code).toBe(2);
  }, 120_000);
});
