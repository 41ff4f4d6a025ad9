import { afterEach, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.ts";
import { labEntries } from "../helpers/journey.ts";
import { e2eTimeouts } from "../helpers/wait.ts";
import { applyTo, rehearse, releases, stopLabs, stopsInstallsStarts } from "./again-helpers.ts";

e2eTimeouts(90_000);

/**
 * M12's full stop, as an operator meets it: the seed's matrix on 3.1.2, the target 4.1.0 (no
 * rolling path, not even a chain: M8), a capacity floor of 0. `rollgate plan --compare` shows the
 * rolling strategy refused and all-at-once beside it; auto does not take the outage by itself;
 * `rollgate apply --strategy all-at-once` stops every server, installs them together, starts them
 * together. The lab, which refuses an unsupported rolling install but takes any release with the
 * matrix down, decides.
 */
afterEach(stopLabs);

const fullStopFleet = (t: string) =>
  t.replace("capacityFloor: 0.6", "capacityFloor: 0").replace("version: 3.5.0", "version: 3.1.2");

describe("a matrix upgraded all at once (M12)", () => {
  it("3.1.2 → 4.1.0 at floor 0: compare shows it, auto refuses the outage, --strategy all-at-once performs it: every server stopped before any install, no rule broken", async () => {
    const r = await rehearse("matrix-seed", 1200, fullStopFleet);
    const compare = await runCli(["plan", r.fleet, "--to", "4.1.0", "--compare", "--json"]);
    expect(compare.code, compare.stderr).toBe(0);
    const rows = JSON.parse(compare.stdout).strategies as Array<{
      strategy: string;
      ok: boolean;
      outageSeconds?: number;
    }>;
    expect(rows.find((x) => x.strategy === "rolling")).toMatchObject({ ok: false });
    expect(rows.find((x) => x.strategy === "all-at-once")).toMatchObject({ ok: true });
    expect(rows.find((x) => x.strategy === "all-at-once")!.outageSeconds).toBeGreaterThan(0);

    const auto = await applyTo(r.fleet, ["4.1.0"]);
    expect(auto.code).toBe(2);
    expect(auto.stderr).toContain("ROLLGATE_E_PLAN_UNSUPPORTED_PATH");
    expect(auto.stderr).toContain("--strategy all-at-once");
    expect(labEntries(r.lab).filter((e) => e.kind === "action")).toEqual([]);

    const run = await applyTo(r.fleet, ["4.1.0"], ["--strategy", "all-at-once"]);
    expect(run.code, run.stderr).toBe(0);
    const status = r.lab.status();
    expect(status.violations).toEqual([]);
    expect(releases(r.lab)).toEqual({ srv1: "4.1.0", srv2: "4.1.0", srv3: "4.1.0" });
    expect(status.installs).toEqual({ srv1: 1, srv2: 1, srv3: 1 });
    const log = stopsInstallsStarts(r.lab);
    const lastStop = Math.max(...["srv1", "srv2", "srv3"].map((s) => log.indexOf(`${s} stopped`)));
    const firstInstall = Math.min(
      ...["srv1", "srv2", "srv3"].map((s) => log.indexOf(`${s} installing 4.1.0`)),
    );
    const firstStart = Math.min(...["srv1", "srv2", "srv3"].map((s) => log.indexOf(`${s} started`)));
    expect(lastStop).toBeGreaterThanOrEqual(0);
    expect(firstInstall).toBeGreaterThan(lastStop);
    expect(firstStart).toBeGreaterThan(
      Math.max(...["srv1", "srv2", "srv3"].map((s) => log.indexOf(`${s} installing 4.1.0`))),
    );
    for (const s of r.lab.world.clusters.get("matrix-a")!.servers)
      expect(s, s.name).toMatchObject({ software: "running", isolated: false });
  }, 600_000);

  it("at the seed's floor 0.6: --strategy all-at-once is refused before anything is done (G3)", async () => {
    const r = await rehearse("matrix-seed", 1200);
    const run = await applyTo(r.fleet, ["3.5.1"], ["--strategy", "all-at-once"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("ROLLGATE_E_PLAN_FLOOR_UNREACHABLE");
    expect(run.stderr).toContain("M12");
    expect(labEntries(r.lab).filter((e) => e.kind === "action")).toEqual([]);
  }, 600_000);
});
