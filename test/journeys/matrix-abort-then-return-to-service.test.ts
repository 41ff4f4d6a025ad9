import { afterEach, describe, expect, it } from "vitest";
import type { Lab } from "../../src/lab/index.ts";
import { runCli } from "../helpers/cli.ts";
import { startEngine } from "../helpers/engine.ts";
import { e2eTimeouts, waitFor } from "../helpers/wait.ts";
import { type Rehearsal, rehearse, releases, stateChanges, stopLabs } from "./again-helpers.ts";

e2eTimeouts(600_000);

/**
 * Issue 14: an operator aborts a rolling Matrix upgrade and asks for the servers back:
 * `rollgate abort FLEET --return-to-service`. The running step finishes, nothing new of the plan
 * starts, and the server the run stopped is started again if the rules let it: at the old release
 * while the matrix still has old-release servers active (M4), at the new release when it stays a
 * top segment of the address order (M3). What the lab saw decides; the command reports each
 * server with its rule ids.
 */
afterEach(stopLabs);

/** The seed matrix with a stop and an install long enough for the abort to land during them. */
const slowSteps = (t: string) =>
  t.replace("estimates: { install: 15m }", "estimates: { install: 10m, stop: 10m }");

function actions(lab: Lab): { action?: string; server?: string; seq: number }[] {
  return lab.world.journal.entries(0, Number.MAX_SAFE_INTEGER).filter((e) => e.kind === "action");
}

/** Starts the upgrade, waits until the lab has `action` for srv3, aborts with --return-to-service (its JSON report). */
async function abortReturningAt(r: Rehearsal, action: string): Promise<Record<string, unknown>> {
  const engine = startEngine(["apply", r.fleet, "--to", "3.5.1", "--yes", "--confirm-finalize", "--json"]);
  await waitFor(() => actions(r.lab).some((e) => e.action === action && e.server === "srv3"), {
    timeoutMs: 120_000,
    what: `srv3's ${action} to be sent`,
  });
  const abort = await runCli(["abort", r.fleet, "--return-to-service", "--json"], { timeoutMs: 120_000 });
  expect(abort.code, abort.stderr).toBe(0);
  expect(await engine.exited).toBe(1);
  expect(engine.lines.at(-1)).toMatchObject({ ok: false, state: "aborted" });
  return JSON.parse(abort.stdout.trim().split("\n").at(-1)!);
}

/** A server as the lab holds it. */
function server(lab: Lab, name: string) {
  return lab.world.clusters.get("matrix-a")!.servers.find((s) => s.name === name)!;
}

/** Where in the lab's journal of state changes srv3 changed `why` (its state note), -1 if never. */
const at = (log: string[], why: string) =>
  log.findIndex((d) => d.startsWith("srv3:") && d.endsWith(`: ${why}`));

describe("abort a rolling Matrix upgrade, then return to service", () => {
  it("aborted while srv3 is being stopped: srv3 (still 3.5.0) starts again in the old-release matrix (M4, M3), its filesystem mounted, nothing installed", async () => {
    const r = await rehearse("matrix-seed", 60, slowSteps);
    const report = await abortReturningAt(r, "stop");
    const log = stateChanges(r.lab);
    // the stop ran to its end (a running step finishes), then the return started srv3 again
    expect(at(log, "stopped")).toBeGreaterThanOrEqual(0);
    expect(at(log, "started")).toBeGreaterThan(at(log, "stopped"));
    const status = r.lab.status();
    expect(status.violations).toEqual([]);
    expect(Object.values(status.installs).every((n) => n === 0)).toBe(true);
    expect(releases(r.lab)).toEqual({ srv1: "3.5.0", srv2: "3.5.0", srv3: "3.5.0" });
    for (const s of ["srv1", "srv2", "srv3"])
      expect(server(r.lab, s), s).toMatchObject({ software: "running" });
    expect([...server(r.lab, "srv3").mounts]).toContain("psfs1");
    expect(actions(r.lab).filter((e) => e.server === "srv2" || e.server === "srv1")).toEqual([]);
    // the command's report, server by server with rule ids
    expect(report).toMatchObject({
      ok: true,
      state: "aborted",
      abort: {
        returned: ["srv3"],
        leftOutOfService: [],
        returnedWhy: [{ cluster: "matrix-a", server: "srv3", rules: expect.arrayContaining(["M4", "M3"]) }],
      },
    });
    const text = await runCli(["status", r.fleet], { timeoutMs: 60_000 });
    expect(text.stdout).toContain("returned to service after the abort: srv3");
    expect(text.stdout).toMatch(/returned: srv3 \[M4, M3/);
  }, 600_000);

  it("aborted while srv3 installs 3.5.1: the install finishes and srv3 starts on 3.5.1, the top of the address order (M3); srv2 and srv1 are left alone on 3.5.0", async () => {
    const r = await rehearse("matrix-seed", 60, slowSteps);
    const report = await abortReturningAt(r, "install");
    const status = r.lab.status();
    expect(status.violations).toEqual([]);
    expect(releases(r.lab)).toEqual({ srv1: "3.5.0", srv2: "3.5.0", srv3: "3.5.1" });
    for (const s of ["srv1", "srv2", "srv3"])
      expect(server(r.lab, s), s).toMatchObject({ software: "running" });
    expect(server(r.lab, "srv3").isolated).toBeFalsy();
    expect(status.installs).toMatchObject({ srv1: 0, srv2: 0, srv3: 1 });
    const log = stateChanges(r.lab);
    expect(at(log, "installed 3.5.1")).toBeGreaterThanOrEqual(0);
    expect(at(log, "started")).toBeGreaterThan(at(log, "installed 3.5.1"));
    expect(report).toMatchObject({
      state: "aborted",
      abort: {
        returned: ["srv3"],
        leftOutOfService: [],
        returnedWhy: [{ server: "srv3", rules: expect.arrayContaining(["M3"]) }],
      },
    });
  }, 600_000);

  it("the engine killed while srv3's disable runs: the abort waits for the disable to end, then enables srv3 (M9), nothing else sent; asked again after srv3 is disabled by hand, it leaves srv3 as it is", async () => {
    const r = await rehearse("matrix-seed", 1200, (t) =>
      t.replace("estimates: { install: 15m }", "estimates: { install: 15m, disable: 2h }"),
    );
    const engine = startEngine(["apply", r.fleet, "--to", "3.5.1", "--yes", "--json"]);
    await waitFor(() => actions(r.lab).some((e) => e.action === "disable" && e.server === "srv3"), {
      timeoutMs: 120_000,
      what: "srv3's disable to be sent",
    });
    engine.child.kill("SIGKILL");
    await engine.exited;
    expect(server(r.lab, "srv3").activity?.action).toBe("disable"); // still under way (6 s here)
    const abort = await runCli(["abort", r.fleet, "--return-to-service", "--json"], { timeoutMs: 120_000 });
    expect(abort.code, abort.stderr).toBe(0);
    expect(JSON.parse(abort.stdout.trim().split("\n").at(-1)!).abort).toMatchObject({
      returned: ["srv3"],
      leftOutOfService: [],
      returnedWhy: [{ server: "srv3", rules: ["M9"] }],
    });
    expect(server(r.lab, "srv3").disabled).toBe(false);
    expect(actions(r.lab).map((e) => `${e.action} ${e.server}`)).toEqual(["disable srv3", "enable srv3"]);
    // the operator disables srv3 for a reason of their own; the run's return, asked again, leaves it so
    const res = await fetch(`${r.lab.controlUrl}/servers/srv3/v1/actions/disable`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "{}",
    });
    expect(res.ok).toBe(true);
    await waitFor(() => server(r.lab, "srv3").disabled === true && !server(r.lab, "srv3").activity, {
      timeoutMs: 60_000,
      what: "srv3 disabled by hand",
    });
    const again = await runCli(["abort", r.fleet, "--return-to-service", "--json"], { timeoutMs: 120_000 });
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout.trim().split("\n").at(-1)!).abort).toMatchObject({
      returned: [],
      leftOutOfService: [
        { server: "srv3", rule: "M9", reason: expect.stringContaining("given back by an earlier return") },
      ],
    });
    expect(server(r.lab, "srv3").disabled).toBe(true);
    expect(actions(r.lab).filter((e) => e.action === "enable")).toHaveLength(1);
    expect(r.lab.status().violations).toEqual([]);
  }, 600_000);
});
