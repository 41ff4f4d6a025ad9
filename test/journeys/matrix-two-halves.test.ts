import { afterEach, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.ts";
import { startEngine } from "../helpers/engine.ts";
import { labEntries } from "../helpers/journey.ts";
import { e2eTimeouts, waitFor } from "../helpers/wait.ts";
import { applyTo, rehearse, releases, stopLabs, stopsInstallsStarts } from "./again-helpers.ts";

e2eTimeouts(90_000);

/**
 * M12's two halves, as an operator meets it: the seed's matrix (srv3, srv2, srv1 in the address
 * order, psfs1 mounted on all three) at a capacity floor of 0.3. `rollgate plan --compare` shows
 * two-halves beside rolling, with no outage; `rollgate apply --strategy two-halves` upgrades srv3
 * (the top of the address order) while srv2 and srv1 run the matrix, then srv2 and srv1 together
 * while srv3 runs it on 3.5.1. The lab judges the address order (M3), the mounts (M5), the join
 * gate (M4) and the floor (G3) by itself.
 */
afterEach(stopLabs);

const floor03 = (t: string) => t.replace("capacityFloor: 0.6", "capacityFloor: 0.3");

describe("a matrix upgraded in two halves (M12)", () => {
  it("compare shows it with no outage; --strategy two-halves upgrades srv3, then srv2 and srv1 together once srv3 runs 3.5.1; no rule broken", async () => {
    const r = await rehearse("matrix-seed", 1200, floor03);
    const compare = await runCli(["plan", r.fleet, "--to", "3.5.1", "--compare", "--json"]);
    expect(compare.code, compare.stderr).toBe(0);
    const rows = JSON.parse(compare.stdout).strategies as Array<{
      strategy: string;
      ok: boolean;
      outageSeconds?: number;
      seconds?: number;
    }>;
    const halves = rows.find((x) => x.strategy === "two-halves")!;
    expect(halves).toMatchObject({ ok: true, outageSeconds: 0 });
    expect(halves.seconds!).toBeLessThan(rows.find((x) => x.strategy === "rolling")!.seconds!);
    const shown = await runCli(["plan", r.fleet, "--to", "3.5.1", "--strategy", "two-halves"]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain("two halves (M12)");

    const run = await applyTo(r.fleet, ["3.5.1"], ["--strategy", "two-halves"]);
    expect(run.code, run.stderr).toBe(0);
    const status = r.lab.status();
    expect(status.violations).toEqual([]);
    expect(releases(r.lab)).toEqual({ srv1: "3.5.1", srv2: "3.5.1", srv3: "3.5.1" });
    expect(status.installs).toEqual({ srv1: 1, srv2: 1, srv3: 1 });
    const log = stopsInstallsStarts(r.lab);
    // srv3 went first and came back on 3.5.1 before srv2 or srv1 stopped
    expect(log.indexOf("srv3 started")).toBeGreaterThan(log.indexOf("srv3 installing 3.5.1"));
    expect(log.indexOf("srv3 started")).toBeLessThan(log.indexOf("srv2 stopped"));
    expect(log.indexOf("srv3 started")).toBeLessThan(log.indexOf("srv1 stopped"));
    // srv2 and srv1 were out together: both stopped before either started again
    expect(Math.max(log.indexOf("srv2 stopped"), log.indexOf("srv1 stopped"))).toBeLessThan(
      Math.min(log.lastIndexOf("srv2 started"), log.lastIndexOf("srv1 started")),
    );
    for (const s of r.lab.world.clusters.get("matrix-a")!.servers)
      expect(s, s.name).toMatchObject({ software: "running", isolated: false });
  }, 600_000);

  it("at the seed's floor 0.6 no split keeps the floor: refused before anything is done (G3)", async () => {
    const r = await rehearse("matrix-seed", 1200);
    const run = await applyTo(r.fleet, ["3.5.1"], ["--strategy", "two-halves"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("ROLLGATE_E_PLAN_FLOOR_UNREACHABLE");
    expect(run.stderr).toContain("G3");
    expect(labEntries(r.lab).filter((e) => e.kind === "action")).toEqual([]);
  }, 600_000);

  it("the engine killed while the second half installs: rollgate resume finishes it, each server installed once, no rule broken", async () => {
    const r = await rehearse("matrix-seed", 600, floor03);
    const engine = startEngine([
      "apply",
      r.fleet,
      "--to",
      "3.5.1",
      "--strategy",
      "two-halves",
      "--yes",
      "--confirm-finalize",
      "--json",
    ]);
    await waitFor(() => stopsInstallsStarts(r.lab).includes("srv1 installing 3.5.1"), {
      timeoutMs: 120_000,
      what: "srv1's install",
    });
    engine.child.kill("SIGKILL");
    await engine.exited;
    const again = await runCli(["resume", r.fleet, "--confirm-finalize", "--json"], { timeoutMs: 240_000 });
    expect(again.code, again.stderr).toBe(0);
    const status = r.lab.status();
    expect(status.violations).toEqual([]);
    expect(releases(r.lab)).toEqual({ srv1: "3.5.1", srv2: "3.5.1", srv3: "3.5.1" });
    expect(status.installs).toEqual({ srv1: 1, srv2: 1, srv3: 1 });
  }, 600_000);
});
