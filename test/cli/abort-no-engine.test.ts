import { cpSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadFleetFile } from "../../src/io/fleet-loader.ts";
import { planUpgrade } from "../../src/plan/planner.ts";
import { defaultStatePath } from "../../src/run/state-path.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";
import { REPO, runCli, tempDir } from "../helpers/cli.ts";
import { e2eTimeouts } from "../helpers/wait.ts";
import { fixture } from "../server/helpers.ts";

// Starts the real CLI (a few seconds on a busy machine).
e2eTimeouts(90_000);

/**
 * A run left "aborting" with return to service asked and no engine (the API's abort: the server
 * runs none) says what drives it on, with the real fleet file; `rollgate abort --return-to-service`
 * with no engine says it drives the return itself, not to run itself.
 */
describe("an abort with return to service that no engine drives", () => {
  it("status names the commands that drive it on: abort FLEET --return-to-service or resume FLEET, with the state file", async () => {
    const f = await fixture();
    await f.store.setState(f.run.id, "running", "test");
    const res = await f.api(`/api/runs/${f.run.id}/abort`, {
      token: f.operator,
      method: "POST",
      headers: { "content-type": "application/json" },
      body: '{"returnToService":true}',
    });
    expect(await res.json()).toMatchObject({ state: "aborting", engine: null });
    await f.close();
    const fleet = f.run.fleetFile;
    const r = await runCli(["status", "--state", f.statePath], { timeoutMs: 60_000 });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("engine not running");
    expect(r.stdout).toContain(
      `\`rollgate abort ${fleet} --return-to-service --state ${f.statePath}\` or \`rollgate resume ${fleet} --state ${f.statePath}\``,
    );
  });

  it("abort --return-to-service with no engine says it drives the return itself, not to run itself", async () => {
    const dir = tempDir();
    const fleetFile = join(dir, "fleet.yaml");
    cpSync(join(REPO, "examples", "matrix-seed.yaml"), fleetFile);
    const statePath = defaultStatePath(fleetFile);
    mkdirSync(dirname(statePath), { recursive: true });
    const store = new SqliteStore(statePath);
    const fleet = loadFleetFile(fleetFile);
    const plan = planUpgrade(fleet, { to: ["3.5.1"] });
    const run = await store.createRun({ fleet: fleet.name, fleetFile, target: plan.target, plan });
    await store.setState(run.id, "running", "test");
    await store.close();
    // the seed has no driver: the return it then drives fails (exit 2), after the hint
    const r = await runCli(["abort", fleetFile, "--return-to-service"], { timeoutMs: 60_000 });
    const hint = r.stdout.split("\n")[0]!;
    expect(hint).toMatch(/^aborting run .*: no engine is running/);
    expect(hint).toContain("this command drives the return itself now");
    expect(hint).not.toContain("rollgate abort");
    // left aborting: status says what drives it on (the state file is the fleet's own: no --state)
    const s = await runCli(["status", fleetFile], { timeoutMs: 60_000 });
    expect(s.stdout).toContain(
      `\`rollgate abort ${fleetFile} --return-to-service\` or \`rollgate resume ${fleetFile}\``,
    );
  });
});
