import { existsSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { parseFleetText } from "../../src/model/fleet-file.ts";
import { missingDriverCommands } from "../../src/plan/driver-commands.ts";
import { planUpgrade } from "../../src/plan/planner.ts";
import { runCli, tempDir } from "../helpers/cli.ts";
import { e2eTimeouts } from "../helpers/wait.ts";

e2eTimeouts(60_000);

/**
 * A cluster whose exec driver lacks a command the plan needs is refused before a run starts, not
 * found mid-upgrade after a server was stopped (issue 7).
 */

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A tiny appliance per server, kept in a JSON file: status prints it, actions change it. */
const APPLIANCE = `const fs = require("node:fs");
const [file, action] = process.argv.slice(1);
let s = { state: "running", release: "3.5.0", disabled: false, backups: 0 };
try { s = JSON.parse(fs.readFileSync(file, "utf8")); } catch {}
if (action === "status") { process.stdout.write(JSON.stringify(s)); process.exit(0); }
if (action === "disable") s.disabled = true;
if (action === "backup") s.backups++;
if (action === "stop") s.state = "stopped";
fs.writeFileSync(file, JSON.stringify(s));`;

function fleetText(dir: string, actions: string[]): string {
  const command = (a: string) => [process.execPath, "-e", APPLIANCE, join(dir, "{name}.json"), a];
  return stringify({
    apiVersion: "rollgate/v1",
    fleet: "cmds",
    clusters: [
      {
        name: "mx",
        pack: "polyserve-matrix",
        version: "3.5.0",
        servers: [
          { name: "srv1", address: "10.78.0.1" },
          { name: "srv2", address: "10.78.0.2" },
          { name: "srv3", address: "10.78.0.3" },
        ],
        driver: {
          exec: { timeout: "20s", commands: Object.fromEntries(actions.map((a) => [a, command(a)])) },
        },
      },
    ],
  });
}

describe("the commands a plan needs are checked before a run", () => {
  it("names what is missing (pure)", () => {
    const r = parseFleetText(fleetText("/nowhere", ["disable", "backup", "stop", "start"]), "f.yaml");
    if (!r.ok) throw new Error(JSON.stringify(r.diagnostics));
    const plan = planUpgrade(r.fleet, { to: "3.5.1" });
    expect(missingDriverCommands(r.fleet, plan)).toEqual([
      { cluster: "mx", field: "driver.exec.commands", commands: ["status", "install", "verify"] },
    ]);
  });

  it("apply refuses a driver without install: exit 2, and no server was touched", async () => {
    const dir = tempDir("rollgate-cmds-");
    dirs.push(dir);
    const fleet = join(dir, "fleet.yaml");
    writeFileSync(fleet, fleetText(dir, ["status", "disable", "backup", "stop", "start", "verify"]));
    const r = await runCli(["apply", fleet, "--to", "3.5.1", "--yes", "--confirm-finalize"], {
      timeoutMs: 120_000,
    });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain("cluster mx: driver.exec.commands.install");
    expect(r.stderr).toContain("[ROLLGATE_E_DRIVER_INCOMPLETE]");
    // no server was disabled or stopped, and no run was recorded
    expect(readdirSync(dir).filter((f) => f.endsWith(".json"))).toEqual([]);
    expect(existsSync(join(dir, ".rollgate", "state.db"))).toBe(false);
  }, 120_000);
});
