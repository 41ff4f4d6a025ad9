import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { parseFleetText } from "../../src/model/fleet-file.ts";
import { REPO, runCli } from "../helpers/cli.ts";
import { startEngine } from "../helpers/engine.ts";
import { e2eTimeouts, waitFor } from "../helpers/wait.ts";
import { join } from "node:path";
import { applyTo, rehearse, service, stateChanges, stopLabs } from "./again-helpers.ts";

e2eTimeouts(300_000);

/**
 * An operator aborts a maintenance window (D5) once its installs began (every cluster left the
 * supercluster, out of service), then runs `fleet sync --write`: the fleet file keeps the
 * supercluster (name, members in the file's order, territories), each cluster marked as having
 * left it; the next apply goes on from there (G5): the clusters not yet installed are installed,
 * the first installed one founds the new supercluster, the others join it (D10), the territories
 * come back and every cluster returns to service.
 */
afterEach(stopLabs);

/** The fixture with these estimates on every cluster (the pack's defaults for the others). */
const withEstimates = (text: string, estimates: string) =>
  text.replace(/^( {4}capacity: \d+)$/gm, `$1\n    estimates: { ${estimates} }`);

/** The steps no abort lands in, 30 s each at speed 40 (0.75 s) instead of 2 to 5 minutes (3 to 7.5 s). */
const QUICK_BEFORE =
  "busy-out: 30s, reassign-territories: 30s, leave-supercluster: 30s, settle: 30s, verify: 30s";

/**
 * While installs run: a 10-minute install (the pack's default is 40), at speed 40 15 s, long
 * enough for an abort to land while installs run; every other step (before the installs, and
 * after them when apply carries the window on) is quick.
 */
const abortInInstalls = (text: string) =>
  withEstimates(
    text,
    `install: 10m, ${QUICK_BEFORE}, join-supercluster: 30s, restore-territories: 30s, return-to-service: 30s`,
  );

/**
 * Once the joins began: the steps up to the joins quick (the install 1 minute, 1.5 s); the
 * territories' restore after the joins keeps its 2 minutes (3 s), where the abort lands, before
 * any cluster returns to service.
 */
const abortAtJoins = (text: string) =>
  withEstimates(text, `install: 1m, ${QUICK_BEFORE}, join-supercluster: 1m`);

/** The operator's maintenance window to 10.1.0, in the background (the engine the abort stops). */
const startWindow = (fleet: string) =>
  startEngine([
    "apply",
    fleet,
    "--to",
    "10.1.0",
    "--strategy",
    "maintenance-window",
    "--yes",
    "--confirm-finalize",
    "--json",
  ]);

describe("abort a maintenance window, sync the fleet file, then carry on", () => {
  it("an operator aborts a maintenance window while its installs run, runs fleet sync --write (the supercluster and its territories stay in the file), then apply carries the window on to the end: one new supercluster of all five, territories restored", async () => {
    const fixture = readFileSync(join(REPO, "test", "fixtures", "dma-five.yaml"), "utf8");
    const r = await rehearse("dma-supercluster", 40, () => abortInInstalls(fixture));
    const engine = startWindow(r.fleet);
    await waitFor(() => stateChanges(r.lab).some((d) => /installing 10\.1\.0/.test(d)), {
      timeoutMs: 120_000,
      what: "the first install to begin",
    });
    const abort = await runCli(["abort", r.fleet], { timeoutMs: 60_000 });
    expect(abort.code, abort.stderr).toBe(0);
    await engine.exited;
    const sync = await runCli(["fleet", "sync", r.fleet, "--write"], { timeoutMs: 60_000 });
    expect(sync.code, sync.stderr).toBe(0);
    const parsed = parseFleetText(readFileSync(r.fleet, "utf8"));
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.diagnostics));
    const design = parseFleetText(fixture);
    if (!design.ok) throw new Error("fixture invalid");
    // listed in the file's order, each marked as having left it: none is a member now
    expect(parsed.fleet.superclusters.map((s) => [s.name, s.clusters, s.formerMembers])).toEqual([
      ["sc-east", [], design.fleet.superclusters[0]!.clusters],
    ]);
    expect(parsed.fleet.superclusters[0]!.territories).toEqual(design.fleet.superclusters[0]!.territories);
    expect(readFileSync(r.fleet, "utf8").match(/leftSupercluster: sc-east/g)).toHaveLength(5);
    // sync says what stands and what to do from here
    expect(sync.stderr).toContain("left it and none is in another supercluster yet");
    expect(sync.stderr).toContain("found sc-east@10.1.0 on dma-nyc");
    // the lab: every cluster left sc-east, none founded the new one (what the file now says)
    for (const c of r.lab.world.clusters.values())
      if (c.pack === "polycom-dma") expect(c.supercluster).toBeNull();

    // and the operator goes on: apply to the same target, from where the fleet stands (G5)
    const plan = await runCli(["plan", r.fleet, "--to", "10.1.0", "--json"], { timeoutMs: 60_000 });
    expect(plan.code, plan.stderr).toBe(0);
    const on = await applyTo(r.fleet, ["10.1.0"]);
    expect(on.code, on.stderr).toBe(0);
    // what the lab saw: one new supercluster with all five, every cluster in service on 10.1.0,
    // the territories back on their design, and no rule broken on the way
    const after = service(r.lab);
    for (const [name, s] of Object.entries(after)) {
      expect(s, name).toEqual({ inService: true, busiedOut: false, supercluster: "sc-east@10.1.0" });
    }
    const sc = r.lab.world.superclusters.get("sc-east@10.1.0");
    expect([...(sc?.members ?? [])].sort()).toEqual([...design.fleet.superclusters[0]!.clusters].sort());
    for (const t of design.fleet.superclusters[0]!.territories) {
      const now = sc?.territories.find((x) => x.name === t.name);
      expect({ name: now?.name, primary: now?.primary, backup: now?.backup }).toEqual({
        name: t.name,
        primary: t.primary,
        backup: t.backup,
      });
    }
    for (const c of r.lab.world.clusters.values())
      if (c.pack === "polycom-dma") for (const s of c.servers) expect(s.release, s.name).toBe("10.1.0");
    expect(r.lab.status().violations).toEqual([]);
    // and the file, synced once more, names the new supercluster with all five, none "left"
    const resync = await runCli(["fleet", "sync", r.fleet, "--write"], { timeoutMs: 60_000 });
    expect(resync.code, resync.stderr).toBe(0);
    const final = parseFleetText(readFileSync(r.fleet, "utf8"));
    if (!final.ok) throw new Error(JSON.stringify(final.diagnostics));
    expect(final.fleet.superclusters.map((s) => [s.name, [...s.clusters].sort(), s.formerMembers])).toEqual([
      ["sc-east@10.1.0", [...design.fleet.superclusters[0]!.clusters].sort(), undefined],
    ]);
    expect(readFileSync(r.fleet, "utf8")).not.toContain("leftSupercluster");
  }, 600_000);

  it("an operator aborts a maintenance window once its joins began (every cluster in sc-east@10.1.0, busied out, territories recorded off): abort --return-to-service on the aborted run brings all five back with the design's territories (D5)", async () => {
    const fixture = readFileSync(join(REPO, "test", "fixtures", "dma-five.yaml"), "utf8");
    const design = parseFleetText(fixture);
    if (!design.ok) throw new Error("fixture invalid");
    const r = await rehearse("dma-supercluster", 40, () => abortAtJoins(fixture));
    const engine = startWindow(r.fleet);
    await waitFor(() => stateChanges(r.lab).some((d) => /joined sc-east@10\.1\.0/.test(d)), {
      timeoutMs: 180_000,
      what: "the first join",
    });
    const abort = await runCli(["abort", r.fleet], { timeoutMs: 60_000 });
    expect(abort.code, abort.stderr).toBe(0);
    await engine.exited;
    // the plain abort left them out: every cluster busied out, the territories off
    expect(Object.values(service(r.lab)).every((s) => !s.inService)).toBe(true);
    // the way on: the aborted run's return to service, asked again
    const back = await runCli(["abort", r.fleet, "--return-to-service", "--json"], { timeoutMs: 240_000 });
    expect(back.code, back.stderr).toBe(0);
    const report = JSON.parse(back.stdout.trim().split("\n").at(-1)!);
    expect(report.state).toBe("aborted");
    expect([...report.abort.returned].sort()).toEqual([...design.fleet.superclusters[0]!.clusters].sort());
    // what the lab saw: all five serve in sc-east@10.1.0, territories on the design, no rule broken
    for (const [name, s] of Object.entries(service(r.lab)))
      expect(s, name).toEqual({ inService: true, busiedOut: false, supercluster: "sc-east@10.1.0" });
    const sc = r.lab.world.superclusters.get("sc-east@10.1.0");
    for (const t of design.fleet.superclusters[0]!.territories) {
      const now = sc?.territories.find((x) => x.name === t.name);
      expect({ name: now?.name, primary: now?.primary, backup: now?.backup }).toEqual({
        name: t.name,
        primary: t.primary,
        backup: t.backup,
      });
    }
    expect(r.lab.status().violations).toEqual([]);
  }, 600_000);
});
