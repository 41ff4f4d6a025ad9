import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { parseFleetText } from "../../src/model/fleet-file.ts";
import { REPO, runCli } from "../helpers/cli.ts";
import { startEngine } from "../helpers/engine.ts";
import { e2eTimeouts, waitFor } from "../helpers/wait.ts";
import { join } from "node:path";
import { rehearse, stateChanges, stopLabs } from "./again-helpers.ts";

e2eTimeouts(150_000);

/**
 * An operator aborts a maintenance window (D5) once its installs began (every cluster left the
 * supercluster, out of service), then runs `fleet sync --write`: the fleet file keeps the
 * supercluster (name, members in the file's order, territories), each cluster marked as having
 * left it; the next apply is not a dead end.
 */
afterEach(stopLabs);

describe("abort a maintenance window, then sync the fleet file", () => {
  it("an operator aborts a maintenance window while its installs run, then runs fleet sync --write: the supercluster and its territories stay in the file, and sync says what to do from there", async () => {
    const fixture = readFileSync(join(REPO, "test", "fixtures", "dma-five.yaml"), "utf8");
    const r = await rehearse("dma-supercluster", 40, () => fixture);
    const engine = startEngine([
      "apply",
      r.fleet,
      "--to",
      "10.1.0",
      "--strategy",
      "maintenance-window",
      "--yes",
      "--confirm-finalize",
      "--json",
    ]);
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
    expect(parsed.fleet.superclusters.map((s) => [s.name, s.clusters])).toEqual([
      ["sc-east", design.fleet.superclusters[0]!.clusters],
    ]);
    expect(parsed.fleet.superclusters[0]!.territories).toEqual(design.fleet.superclusters[0]!.territories);
    expect(readFileSync(r.fleet, "utf8").match(/leftSupercluster: sc-east/g)).toHaveLength(5);
    // sync says what stands and what to do from here
    expect(sync.stderr).toContain("left it and none is in another supercluster yet");
    expect(sync.stderr).toContain("found sc-east@10.1.0 on dma-nyc");
    // the lab: every cluster left sc-east, none founded the new one (what the file now says)
    for (const c of r.lab.world.clusters.values())
      if (c.pack === "polycom-dma") expect(c.supercluster).toBeNull();
  }, 400_000);
});
