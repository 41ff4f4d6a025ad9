import { chmodSync, lstatSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.ts";
import { startEngine } from "../helpers/engine.ts";
import { e2eTimeouts, waitFor } from "../helpers/wait.ts";
import { rehearse, stateChanges, stopLabs } from "./again-helpers.ts";

e2eTimeouts(150_000);

/**
 * `rollgate fleet sync --write` writes only where and when it may: through a symbolic link to the
 * real file (the link kept), never over a read-only file, never under an engine driving the fleet.
 */
afterEach(stopLabs);

/** The derived fleet file made stale: dma-nyc said to run 10.0.0 (the lab runs 10.0.1). */
function stale(text: string): string {
  return text.replace(/(name: dma-nyc[\s\S]*?version: )10\.0\.1/, "$110.0.0");
}

describe("fleet sync --write: where and when it writes", () => {
  it("an operator syncs a fleet file through a symbolic link: the real file is updated, the link stays a link", async () => {
    const r = await rehearse("dma-supercluster", 600);
    writeFileSync(r.fleet, stale(readFileSync(r.fleet, "utf8")));
    const link = join(r.dir, "link.yaml");
    symlinkSync(r.fleet, link);
    const s = await runCli(["fleet", "sync", link, "--write"], { timeoutMs: 60_000 });
    expect(s.code, s.stderr).toBe(0);
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toBe(r.fleet);
    expect(readFileSync(r.fleet, "utf8")).not.toContain("10.0.0");
  });

  it("an operator syncs a read-only fleet file with --write: refused (exit 2), the file unchanged", async () => {
    const r = await rehearse("dma-supercluster", 600);
    writeFileSync(r.fleet, stale(readFileSync(r.fleet, "utf8")));
    const before = readFileSync(r.fleet, "utf8");
    chmodSync(r.fleet, 0o444);
    const s = await runCli(["fleet", "sync", r.fleet, "--write"], { timeoutMs: 60_000 });
    expect(s.code, s.stderr).toBe(2);
    expect(s.stderr).toContain("ROLLGATE_E_FLEET_NOT_WRITABLE");
    expect(readFileSync(r.fleet, "utf8")).toBe(before);
    expect(lstatSync(r.fleet).mode & 0o777).toBe(0o444);
  });

  it("an operator runs fleet sync --write while apply upgrades the same fleet, then after the engine was killed: refused both times (exit 2), the file unchanged", async () => {
    const r = await rehearse("dma-supercluster", 600);
    const before = readFileSync(r.fleet, "utf8");
    const engine = startEngine(["apply", r.fleet, "--to", "10.1.0", "--yes", "--confirm-finalize", "--json"]);
    await waitFor(() => stateChanges(r.lab).some((d) => /^nyc-2: .*installed 10\.1\.0/.test(d)), {
      timeoutMs: 120_000,
      what: "dma-nyc's install to end",
    });
    const during = await runCli(["fleet", "sync", r.fleet, "--write"], { timeoutMs: 60_000 });
    expect(during.code, during.stderr).toBe(2);
    expect(during.stderr).toContain("ROLLGATE_E_RUN_LOCKED");
    expect(readFileSync(r.fleet, "utf8")).toBe(before);
    engine.child.kill("SIGKILL");
    await engine.exited;
    // the host lock is free now; the run is unfinished in the state file
    const after = await runCli(["fleet", "sync", r.fleet, "--write"], { timeoutMs: 60_000 });
    expect(after.code, after.stderr).toBe(2);
    expect(after.stderr).toContain("ROLLGATE_E_RUN_LOCKED");
    expect(after.stderr).toMatch(/run \S+ of fleet/);
    expect(after.stderr).toContain("rollgate status");
    expect(readFileSync(r.fleet, "utf8")).toBe(before);
  }, 300_000);
});
