import { existsSync, readFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.ts";
import { writeFleet } from "./lab-helpers.ts";
import { e2eTimeouts } from "../helpers/wait.ts";

e2eTimeouts(120_000);

// `rollgate lab …` end to end: a detached lab process, driven and stopped through the CLI.
const FLEET = `apiVersion: rollgate/v1
fleet: lab-cli
# scenarios of other rules driven by hand: no capacity floor (G3 is tested in capacity-floor.test.ts)
defaults:
  capacityFloor: 0
clusters:
  - name: cx
    pack: polyserve-matrix
    version: 3.5.0
    servers:
      - { name: c1, address: 10.64.1.1 }
      - { name: c2, address: 10.64.1.2 }
`;
const fleet = writeFleet(FLEET);

afterAll(async () => {
  await runCli(["lab", "down", fleet]);
});

describe("rollgate lab", () => {
  it("up --detach --json, status, act, fault, down", async () => {
    const up = await runCli(["lab", "up", fleet, "--speed", "9000", "--port", "0", "--detach", "--json"]);
    expect(up.stderr).toBe("");
    expect(up.code).toBe(0);
    const info = JSON.parse(up.stdout);
    expect(info.fleet).toMatch(/\.rollgate\/lab\/fleet\.lab\.yaml$/);
    expect(info.servers).toEqual([
      { name: "c1", address: "10.64.1.1", url: expect.stringMatching(/^http:\/\/127\.64\.1\.1:\d+$/) },
      { name: "c2", address: "10.64.1.2", url: expect.stringMatching(/^http:\/\/127\.64\.1\.2:\d+$/) },
    ]);
    expect(existsSync(info.record)).toBe(true);
    expect(readFileSync(info.fleet, "utf8")).toMatch(/url: http:\/\/127\.0\.0\.1:\d+\/servers\/\{name\}/);
    expect((await runCli(["validate", info.fleet])).code).toBe(0);

    const again = await runCli(["lab", "up", fleet, "--detach"]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/ROLLGATE_E_LAB_RUNNING/);

    // The manual's accident, by hand: the lowest server upgraded first.
    expect((await runCli(["lab", "act", fleet, "c1", "stop"])).code).toBe(0);
    const inst = await runCli(["lab", "act", fleet, "c1", "install", "3.5.1"]);
    expect(inst.stdout).toMatch(/ok c1: install 3\.5\.1 done/);
    expect((await runCli(["lab", "act", fleet, "c1", "start"])).code).toBe(0);

    const st = await runCli(["lab", "status", fleet, "--json"]);
    expect(st.code).toBe(0);
    const status = JSON.parse(st.stdout);
    expect(
      status.servers.map((s: { name: string; release: string; state: string }) => [
        s.name,
        s.release,
        s.state,
      ]),
    ).toEqual([
      ["c1", "3.5.1", "running"],
      ["c2", "3.5.0", "isolated"],
    ]);
    expect(status.violations).toEqual([
      expect.objectContaining({ rule: "M3", at: expect.any(String), detail: expect.any(String) }),
    ]);
    expect(status.installs).toEqual({ c1: 1, c2: 0 });

    const human = await runCli(["lab", "status", fleet]);
    expect(human.stdout).toMatch(/SERVER\s+CLUSTER\s+ADDRESS\s+RELEASE\s+STATE/);
    expect(human.stdout).toMatch(/c2\s+cx\s+10\.64\.1\.2\s+3\.5\.0\s+isolated/);
    expect(human.stdout).toMatch(/M3 .*out-of-order/);

    const refused = await runCli(["lab", "act", fleet, "c2", "install", "3.5.1"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/running, rule M9.*ROLLGATE_E_LAB_REFUSED/);

    expect((await runCli(["lab", "fault", fleet, "c2", "unreachable-refuse"])).code).toBe(0);
    const st2 = JSON.parse((await runCli(["lab", "status", fleet, "--json"])).stdout);
    expect(st2.servers[1].state).toBe("unreachable");
    expect((await runCli(["lab", "fault", fleet, "nobody", "crash"])).code).toBe(2);
    expect((await runCli(["lab", "fault", fleet, "c2", "meteor"])).code).toBe(2);

    const down = await runCli(["lab", "down", fleet]);
    expect(down.code).toBe(0);
    expect(existsSync(info.record)).toBe(false);
    const after = await runCli(["lab", "status", fleet]);
    expect(after.code).toBe(2);
    expect(after.stderr).toMatch(/ROLLGATE_E_LAB_NOT_RUNNING/);
    const journal = readFileSync(info.fleet.replace(/\.lab\.yaml$/, ".journal.jsonl"), "utf8")
      .trim()
      .split("\n");
    expect(journal.map((l) => JSON.parse(l).kind)).toContain("violation");
  });

  it("reports a bad fleet file before starting anything", async () => {
    const r = await runCli(["lab", "up", writeFleet("apiVersion: rollgate/v1\nfleet: x\n"), "--detach"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/ROLLGATE_E_FLEET_SCHEMA/);
  });
});
