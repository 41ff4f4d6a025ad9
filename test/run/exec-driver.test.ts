import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { ExecDriver } from "../../src/drivers/exec.ts";
import type { Lab } from "../../src/lab/index.ts";
import { parseFleetText } from "../../src/model/fleet-file.ts";
import { runCli } from "../helpers/cli.ts";
import { adapterCommands, labOf } from "../helpers/engine.ts";
import { e2eTimeouts } from "../helpers/wait.ts";

e2eTimeouts(360_000);

let lab: Lab | undefined;
afterEach(async () => {
  await lab?.stop();
  lab = undefined;
});

/** Rewrites a lab's derived fleet so that every cluster uses the exec driver (the adapter CLI). */
function execFleet(derived: string, controlUrl: string): string {
  const doc = parse(readFileSync(derived, "utf8"));
  for (const c of doc.clusters)
    c.driver = { exec: { timeout: "30s", commands: adapterCommands(controlUrl) } };
  const path = join(derived, "..", "exec-fleet.yaml");
  writeFileSync(path, stringify(doc));
  return path;
}

describe("exec driver (real processes, no shell)", () => {
  it("drives a whole matrix upgrade through a vendor-style CLI adapter", async () => {
    const t = await labOf("matrix-seed", 1200);
    lab = t.lab;
    const fleet = execFleet(t.fleet, t.lab.controlUrl);
    const r = await runCli(["apply", fleet, "--to", "3.5.1", "--yes", "--confirm-finalize"], {
      timeoutMs: 240_000, // a process per observation: slow on a loaded machine
    });
    expect(r.code, r.stderr).toBe(0);
    expect(t.lab.status().installs).toEqual({ srv1: 1, srv2: 1, srv3: 1 });
    expect(t.lab.status().violations).toEqual([]);
  }, 300_000);

  it("a server the run only disabled: with no enable command, abort --rollback refuses and the return to service names it (M9); with one, the abort enables it", async () => {
    const t = await labOf("matrix-seed", 1200);
    lab = t.lab;
    const fleet = execFleet(t.fleet, t.lab.controlUrl);
    // halts before srv1's stop, its point of no return, with srv1 disabled (M9's first step)
    const halted = await runCli(["apply", fleet, "--to", "3.5.1", "--yes"], { timeoutMs: 240_000 });
    expect(halted.code, halted.stderr).toBe(1);
    const srv1 = () =>
      [...t.lab.world.clusters.values()].flatMap((c) => c.servers).find((s) => s.name === "srv1")!;
    expect(srv1().disabled).toBe(true);
    const no = await runCli(["abort", fleet, "--rollback"], { timeoutMs: 60_000 });
    expect(no.code).toBe(2);
    expect(no.stderr).toContain("ROLLGATE_E_ROLLBACK_UNSUPPORTED");
    expect(no.stderr).toContain("driver.exec.commands.enable");
    const left = await runCli(["abort", fleet, "--return-to-service", "--json"], { timeoutMs: 120_000 });
    expect(left.code, left.stderr).toBe(0);
    const out = JSON.parse(left.stdout.trim().split("\n").at(-1)!);
    expect(out.abort.leftOutOfService).toEqual([
      expect.objectContaining({
        server: "srv1",
        rule: "M9",
        reason: expect.stringContaining("no enable command"),
      }),
    ]);
    expect(srv1().disabled).toBe(true);
    // an enable command that fails: abort --rollback does the return, and stops there: srv1 out of
    // service would hold the rollback (M1, G3); the fleet file is not rewritten, no rollback run
    const doc = parse(readFileSync(fleet, "utf8"));
    const cmds = doc.clusters[0].driver.exec.commands;
    cmds.enable = [process.execPath, "-e", "process.exit(1)"];
    writeFileSync(fleet, stringify(doc));
    const before = readFileSync(fleet, "utf8");
    const held = await runCli(["abort", fleet, "--rollback"], { timeoutMs: 120_000 });
    expect(held.code, held.stderr).toBe(1);
    expect(held.stdout).toContain("enabling srv1 again failed");
    expect(held.stderr).toContain("rollback not started: srv1 is out of service after the abort");
    expect(held.stderr).not.toMatch(/\n\s+at /);
    expect(readFileSync(fleet, "utf8")).toBe(before);
    const runs = JSON.parse((await runCli(["status", fleet, "--json"], { timeoutMs: 60_000 })).stdout);
    expect(runs.run.state).toBe("aborted");
    expect(t.lab.status().installs).toEqual({ srv1: 0, srv2: 1, srv3: 1 });
    // the operator mends the command; the return is asked again
    cmds.enable = cmds.disable.map((a: string) => (a === "disable" ? "enable" : a));
    writeFileSync(fleet, stringify(doc));
    const back = await runCli(["abort", fleet, "--return-to-service", "--json"], { timeoutMs: 120_000 });
    expect(back.code, back.stderr).toBe(0);
    expect(JSON.parse(back.stdout.trim().split("\n").at(-1)!).abort.returned).toEqual(["srv1"]);
    expect(srv1().disabled).toBe(false);
    expect(t.lab.status().violations).toEqual([]);
  }, 300_000);

  it("a stop that failed (its command exits 1) after the run disabled srv3: the abort enables srv3 again (M9)", async () => {
    const t = await labOf("matrix-seed", 1200);
    lab = t.lab;
    const fleet = execFleet(t.fleet, t.lab.controlUrl);
    const doc = parse(readFileSync(fleet, "utf8"));
    const cmds = doc.clusters[0].driver.exec.commands;
    cmds.stop = [process.execPath, "-e", "process.exit(1)"];
    cmds.enable = cmds.disable.map((a: string) => (a === "disable" ? "enable" : a));
    writeFileSync(fleet, stringify(doc));
    const escalated = await runCli(["apply", fleet, "--to", "3.5.1", "--yes"], { timeoutMs: 240_000 });
    expect(escalated.code, escalated.stderr).toBe(1);
    const srv3 = () =>
      [...t.lab.world.clusters.values()].flatMap((c) => c.servers).find((s) => s.name === "srv3")!;
    expect(srv3()).toMatchObject({ disabled: true, software: "running" });
    const back = await runCli(["abort", fleet, "--return-to-service", "--json"], { timeoutMs: 120_000 });
    expect(back.code, back.stderr).toBe(0);
    expect(JSON.parse(back.stdout.trim().split("\n").at(-1)!).abort).toMatchObject({
      returned: ["srv3"],
      leftOutOfService: [],
    });
    expect(srv3()).toMatchObject({ disabled: false, software: "running" });
    expect(t.lab.status().violations).toEqual([]);
  }, 300_000);

  it("passes values as arguments, never through a shell, and reports refusals and missing commands", async () => {
    const t = await labOf("matrix-seed", 1200);
    lab = t.lab;
    const parsed = parseFleetText(readFileSync(execFleet(t.fleet, t.lab.controlUrl), "utf8"));
    if (!parsed.ok) throw new Error("bad fleet");
    const cluster = parsed.fleet.clusters[0]!;
    const server = cluster.servers.find((s) => s.name === "srv3")!;
    const driver = new ExecDriver(cluster.driver!.exec!);
    expect(await driver.observe({ cluster, server })).toMatchObject({
      server: "srv3",
      state: "running",
      release: "3.5.0",
    });
    // a release with shell metacharacters reaches the appliance as one literal argument, and is refused there
    const hostile = await driver.perform({ cluster, server }, "install", {
      release: "3.5.1; touch /tmp/rollgate-pwned",
    });
    expect(hostile.ok).toBe(false);
    expect(hostile.code).toBe("ROLLGATE_E_EXEC_DRIVER");
    expect(existsSync("/tmp/rollgate-pwned")).toBe(false);
    const missing = await driver.perform({ cluster, server }, "busy-out", {});
    expect(missing).toMatchObject({ ok: false, code: "ROLLGATE_E_EXEC_DRIVER" });
    expect(missing.message).toContain("driver.exec.commands.busy-out");
    // an unreachable server reads as "unreachable", not an exception
    await t.lab.stop();
    lab = undefined;
    expect((await driver.observe({ cluster, server })).state).toBe("unreachable");
  });
});
