import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.ts";
import { applyTo, rehearse, releases, stopLabs } from "./again-helpers.ts";
import { e2eTimeouts } from "../helpers/wait.ts";

e2eTimeouts(90_000);

/**
 * An operator upgrades a Matrix Server matrix, updates the fleet file with `rollgate fleet sync
 * --write`, and upgrades it again. The supported rolling paths (M8) decide what "again" can be:
 * 3.5.1 is reached from 3.1.2 or 3.5.0 and is the end of its line (no rolling path leaves it);
 * 3.4.x → 3.6.0 → 4.1.0 is two rolling upgrades in a row. What the lab saw decides.
 */
afterEach(stopLabs);

describe("a matrix upgraded twice", () => {
  it("an operator upgrades the seed's matrix 3.4.0 → 3.6.0, syncs the fleet file, then 3.6.0 → 4.1.0: every server installed twice, in order, no rule broken", async () => {
    const r = await rehearse("matrix-seed", 1200, (t) => t.replace("version: 3.5.0", "version: 3.4.0"));
    const first = await applyTo(r.fleet, ["3.6.0"]);
    expect(first.code, first.stderr).toBe(0);
    expect(Object.values(releases(r.lab))).toEqual(["3.6.0", "3.6.0", "3.6.0"]);

    // before the file is updated: refused, with what to write
    const stale = await applyTo(r.fleet, ["4.1.0"]);
    expect(stale.code).toBe(2);
    expect(stale.stderr).toContain("ROLLGATE_E_PREFLIGHT_MISMATCH");
    expect(stale.stderr).toMatch(/\+\s+\d+ \|\s+version: 3\.6\.0/);
    const sync = await runCli(["fleet", "sync", r.fleet, "--write"], { timeoutMs: 60_000 });
    expect(sync.code, sync.stderr).toBe(0);
    expect(readFileSync(r.fleet, "utf8")).toContain("version: 3.6.0");

    const second = await applyTo(r.fleet, ["4.1.0"]);
    expect(second.code, second.stderr).toBe(0);
    const status = r.lab.status();
    expect(status.violations).toEqual([]);
    expect(Object.values(releases(r.lab))).toEqual(["4.1.0", "4.1.0", "4.1.0"]);
    expect(status.installs).toEqual({ srv1: 2, srv2: 2, srv3: 2 });
    // M2 both times: srv3, srv2, srv1
    const installs = r.lab.world.journal
      .entries(0, Number.MAX_SAFE_INTEGER)
      .filter((e) => e.kind === "action" && e.action === "install")
      .map((e) => e.server);
    expect(installs).toEqual(["srv3", "srv2", "srv1", "srv3", "srv2", "srv1"]);
  }, 600_000);

  it("an operator upgrades the seed's matrix 3.5.0 → 3.5.1 and syncs; the next upgrade has no supported rolling path (M8) and is refused before anything is done", async () => {
    const r = await rehearse("matrix-seed", 1200);
    const first = await applyTo(r.fleet, ["3.5.1"]);
    expect(first.code, first.stderr).toBe(0);
    const sync = await runCli(["fleet", "sync", r.fleet, "--write"], { timeoutMs: 60_000 });
    expect(sync.code, sync.stderr).toBe(0);
    const seen = r.lab.status().journalSeq;
    const next = await applyTo(r.fleet, ["3.6.0"]);
    expect(next.code).toBe(2);
    expect(next.stderr).toContain("ROLLGATE_E_PLAN_UNSUPPORTED_PATH");
    expect(next.stderr).toContain("3.6.0 from 3.4.x");
    // the lab was not acted on
    const after = r.lab.world.journal
      .entries(seen + 1, Number.MAX_SAFE_INTEGER)
      .filter((e) => e.kind === "action");
    expect(after).toEqual([]);
    expect(Object.values(releases(r.lab))).toEqual(["3.5.1", "3.5.1", "3.5.1"]);
  }, 600_000);
});
