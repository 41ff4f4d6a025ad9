import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.ts";
import { applyTo, rehearse, releases, service, stateChanges, stopLabs } from "./again-helpers.ts";
import { e2eTimeouts } from "../helpers/wait.ts";

e2eTimeouts(90_000);

/**
 * An operator upgrades a DMA supercluster (incremental, D6), updates the fleet file with
 * `rollgate fleet sync --write`, and upgrades it again. What the lab saw decides.
 */
afterEach(stopLabs);

describe("a DMA supercluster upgraded twice", () => {
  it("an operator upgrades sc-east to 10.1.0, is told what to write, runs fleet sync --write, then upgrades it to 10.2.0", async () => {
    const { lab, fleet } = await rehearse("dma-supercluster", 3000);
    const first = await applyTo(fleet, ["10.1.0"]);
    expect(first.code, first.stderr).toBe(0);
    expect(lab.status().superclusters.map((s) => s.name)).toEqual(["sc-east@10.1.0"]);

    // the next upgrade before the fleet file is updated: refused, with the lines to write
    const stale = await applyTo(fleet, ["10.2.0"]);
    expect(stale.code).toBe(2);
    const said = `${stale.stdout}${stale.stderr}`;
    expect(said).toContain("ROLLGATE_E_PREFLIGHT_MISMATCH");
    expect(said).toContain("rollgate fleet sync");
    expect(said).toMatch(/\+\s+\d+ \|\s+- name: sc-east@10\.1\.0/);
    expect(said).toMatch(/\+\s+\d+ \|\s+version: 10\.1\.0/);

    // fleet sync prints the file as it should read, and writes it only with --write
    const before = readFileSync(fleet, "utf8");
    const dry = await runCli(["fleet", "sync", fleet], { timeoutMs: 60_000 });
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain("name: sc-east@10.1.0");
    expect(readFileSync(fleet, "utf8")).toBe(before);
    const write = await runCli(["fleet", "sync", fleet, "--write"], { timeoutMs: 60_000 });
    expect(write.code, write.stderr).toBe(0);
    const after = readFileSync(fleet, "utf8");
    expect(after).toContain("name: sc-east@10.1.0");
    expect(after).not.toMatch(/version: 10\.0\.1/);
    // the file's own comments and layout are kept
    for (const line of before.split("\n").filter((l) => l.trimStart().startsWith("#")))
      expect(after).toContain(line);
    const again = await runCli(["fleet", "sync", fleet, "--json"], { timeoutMs: 60_000 });
    expect(JSON.parse(again.stdout)).toMatchObject({ ok: true, upToDate: true, written: false });

    const second = await applyTo(fleet, ["10.2.0"]);
    expect(second.code, second.stderr).toBe(0);

    // the lab: every server on 10.2.0, every cluster a member of sc-east@10.2.0 and in service,
    // installed once per upgrade, no rule broken
    const status = lab.status();
    expect(status.violations).toEqual([]);
    expect(Object.values(releases(lab)).every((r) => r === "10.2.0")).toBe(true);
    expect(status.superclusters).toEqual([
      expect.objectContaining({ name: "sc-east@10.2.0", members: ["dma-nyc", "dma-bos", "dma-phl"] }),
    ]);
    for (const n of Object.keys(status.installs)) expect(status.installs[n], n).toBe(2);
    for (const [c, s] of Object.entries(service(lab)))
      expect(s, c).toEqual({ inService: true, busiedOut: false, supercluster: "sc-east@10.2.0" });
    const log = stateChanges(lab);
    expect(log).toContain("dma-nyc founded sc-east@10.2.0 (members: dma-nyc)");
    // the territories came back to their clusters in the newest supercluster
    expect(status.superclusters[0]!.territories).toEqual(
      expect.arrayContaining([
        { name: "us-east", primary: "dma-nyc", backup: "dma-bos" },
        { name: "us-mid", primary: "dma-phl", backup: "dma-nyc" },
        { name: "us-north", primary: "dma-bos", backup: "dma-phl" },
      ]),
    );
  }, 600_000);
});
