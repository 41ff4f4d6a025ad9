import { afterEach, describe, expect, it } from "vitest";
import type { Lab } from "../../src/lab/index.ts";
import { runCli } from "../helpers/cli.ts";
import { startEngine } from "../helpers/engine.ts";
import { e2eTimeouts, waitFor } from "../helpers/wait.ts";
import { applyTo, rehearse, releases, stateChanges, stopLabs } from "./again-helpers.ts";

e2eTimeouts(600_000);

/**
 * Issue 14: an escalated run (the engine halted a cluster and a person is called) accepts
 * `rollgate abort FLEET --return-to-service` and acts on it, whether its engine still drives
 * independent work or has ended. The escalation is provoked with a lab fault (an install that
 * fails, the release staying as it was); what the lab saw decides.
 */
afterEach(stopLabs);

/**
 * A second matrix beside the seed's, with a long install (15 s in the lab, from about 3 s into the
 * run): it is still installing when matrix-a escalates, about 4 s in.
 */
const MATRIX_B = `
  - name: matrix-b
    pack: polyserve-matrix
    version: 3.5.0
    estimates: { install: 15m }
    servers:
      - { name: srv4, address: 10.10.3.1 }
      - { name: srv5, address: 10.10.3.2 }
      - { name: srv6, address: 10.10.3.3 }
`;

/** A server as the lab holds it. */
function server(lab: Lab, cluster: string, name: string) {
  return lab.world.clusters.get(cluster)!.servers.find((s) => s.name === name)!;
}

/** The index in the lab's journal of state changes at which `name` last changed for `why`. */
const last = (lab: Lab, name: string, why: string) =>
  stateChanges(lab).findLastIndex((d) => d.startsWith(`${name}:`) && d.endsWith(`: ${why}`));

describe("abort an escalated run, then return to service", () => {
  it("with no engine left (the run ended escalated): the abort itself returns srv3, stopped on 3.5.0 after its failed install, to the matrix (M4, M3) and reports it", async () => {
    const r = await rehearse("matrix-seed", 60, (t) => t.replace("install: 15m", "install: 1m"));
    r.lab.fault("srv3", "install-fails", { once: true });
    const applied = await applyTo(r.fleet, ["3.5.1"]);
    expect(applied.code, applied.stderr).toBe(1);
    expect(applied.report).toMatchObject({ ok: false, state: "escalated" });
    expect(server(r.lab, "matrix-a", "srv3").software).toBe("stopped");
    const abort = await runCli(["abort", r.fleet, "--return-to-service", "--json"], { timeoutMs: 120_000 });
    expect(abort.code, abort.stderr).toBe(0);
    const report = JSON.parse(abort.stdout.trim().split("\n").at(-1)!);
    expect(report).toMatchObject({
      state: "aborted",
      abort: { returned: ["srv3"], leftOutOfService: [], returnedWhy: [{ server: "srv3" }] },
    });
    // the lab saw srv3 start again on its old release, its filesystem mounted, no second install
    expect(last(r.lab, "srv3", "started")).toBeGreaterThan(last(r.lab, "srv3", "install of 3.5.1 failed"));
    expect(releases(r.lab)).toEqual({ srv1: "3.5.0", srv2: "3.5.0", srv3: "3.5.0" });
    for (const s of ["srv1", "srv2", "srv3"])
      expect(server(r.lab, "matrix-a", s).software, s).toBe("running");
    expect([...server(r.lab, "matrix-a", "srv3").mounts]).toContain("psfs1");
    expect(r.lab.status().installs).toMatchObject({ srv1: 0, srv2: 0, srv3: 1 });
    expect(r.lab.status().violations).toEqual([]);
    const status = await runCli(["status", r.fleet, "--json"], { timeoutMs: 60_000 });
    expect(JSON.parse(status.stdout).run.state).toBe("aborted");
  }, 600_000);

  it("with its engine still driving independent work: the abort is not overridden by the escalation; the run ends aborted, both stopped servers back in their matrices", async () => {
    const r = await rehearse(
      "matrix-seed",
      60,
      (t) => `${t.replace("install: 15m", "install: 1m")}${MATRIX_B}`,
    );
    r.lab.fault("srv3", "install-fails", { once: true });
    const engine = startEngine(["apply", r.fleet, "--to", "3.5.1", "--yes", "--confirm-finalize", "--json"]);
    // matrix-a escalates on srv3's failed install while srv6 (matrix-b) still installs
    await waitFor(() => engine.lines.some((l) => l.type === "escalation"), {
      timeoutMs: 120_000,
      what: "the escalation of srv3's failed install",
    });
    expect(server(r.lab, "matrix-b", "srv6").software).toBe("installing");
    const abort = await runCli(["abort", r.fleet, "--return-to-service", "--json"], { timeoutMs: 180_000 });
    expect(abort.code, abort.stderr).toBe(0);
    expect(await engine.exited).toBe(1);
    expect(engine.lines.at(-1)).toMatchObject({ ok: false, state: "aborted" });
    const report = JSON.parse(abort.stdout.trim().split("\n").at(-1)!);
    expect(report.state).toBe("aborted");
    expect([...report.abort.returned].sort()).toEqual(["srv3", "srv6"]);
    // what the lab saw: srv3 back on 3.5.0, srv6 back on 3.5.1 (the top of its address order, M3)
    expect(releases(r.lab)).toMatchObject({ srv3: "3.5.0", srv6: "3.5.1", srv5: "3.5.0", srv4: "3.5.0" });
    for (const [c, s] of [
      ["matrix-a", "srv3"],
      ["matrix-b", "srv6"],
    ] as const) {
      expect(server(r.lab, c, s).software, s).toBe("running");
      expect(server(r.lab, c, s).isolated, s).toBeFalsy();
    }
    expect(last(r.lab, "srv6", "started")).toBeGreaterThan(last(r.lab, "srv6", "installed 3.5.1"));
    expect(r.lab.status().violations).toEqual([]);
  }, 600_000);
});
