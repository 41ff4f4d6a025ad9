import { stringify } from "yaml";
import { describe, expect, it } from "vitest";
import { parseFleetText } from "../../src/model/fleet-file.ts";

/** Input that used to pass validation and crash later (issue 7): refused when the file is validated. */

function errorsOf(text: string) {
  const r = parseFleetText(text, "f.yaml");
  if (r.ok) throw new Error("expected errors");
  return r.diagnostics;
}

const line = (d: { line?: number; column?: number; path?: string; code: string; message: string }) =>
  `${d.line}:${d.column} ${d.path} ${d.code} ${d.message}`;

function fleetWith(cluster: Record<string, unknown>, defaults?: Record<string, unknown>): string {
  return stringify({
    apiVersion: "rollgate/v1",
    fleet: "t",
    ...(defaults ? { defaults } : {}),
    clusters: [
      {
        name: "m",
        pack: "polyserve-matrix",
        version: "3.5.0",
        servers: [
          { name: "s1", address: "10.0.0.1" },
          { name: "s2", address: "10.0.0.2" },
        ],
        ...cluster,
      },
    ],
  });
}

describe("driver commands are checked when the file is validated", () => {
  it("refuses a NUL byte in an exec or ssh argument, at its line, column and path", () => {
    const text = fleetWith({
      driver: {
        exec: { commands: { status: ["/bin/appliance", "sta\0tus"] } },
        ssh: { identity: "/etc/key\0", commands: { status: ["x"] } },
      },
    });
    const ds = errorsOf(text);
    expect(ds.map(line)).toEqual([
      expect.stringMatching(
        /^\d+:\d+ clusters\[0\]\.driver\.exec\.commands\.status\[1\] ROLLGATE_E_FLEET_SCHEMA contains a NUL byte/,
      ),
      expect.stringMatching(
        /^\d+:\d+ clusters\[0\]\.driver\.ssh\.identity ROLLGATE_E_FLEET_SCHEMA contains a NUL/,
      ),
    ]);
    // the line is the argument's own line in the file
    const argLine = text.split("\n").findIndex((l) => l.includes("sta\\0tus")) + 1;
    expect(ds[0]!.line).toBe(argLine);
  });

  it("refuses a misspelt command name, with a hint, in exec and ssh", () => {
    const ds = errorsOf(
      fleetWith({
        driver: {
          exec: { commands: { status: ["a"], instal: ["a", "{release}"] } },
          ssh: { commands: { status: ["a"], busy_out: ["a"], frobnicate: ["a"] } },
        },
      }),
    );
    expect(ds.map((d) => `${d.path} ${d.code} ${d.message}`)).toEqual([
      'clusters[0].driver.exec.commands.instal ROLLGATE_E_FLEET_SCHEMA unknown command "instal": did you mean install?',
      'clusters[0].driver.ssh.commands.busy_out ROLLGATE_E_FLEET_SCHEMA unknown command "busy_out": did you mean busy-out?',
      'clusters[0].driver.ssh.commands.frobnicate ROLLGATE_E_FLEET_SCHEMA unknown command "frobnicate"',
    ]);
    expect(ds[0]!.expected).toContain("install");
    expect(ds[0]!.line).toBeGreaterThan(1);
  });

  it("hints at the estimate meant by a misspelt estimate name", () => {
    const ds = errorsOf(fleetWith({ estimates: { instll: "15m" } }));
    expect(ds.map((d) => d.message)).toEqual(['unknown field "instll": did you mean install?']);
  });
});

describe("durations are bounded (at most 7d)", () => {
  it("refuses a huge duration, and a sum of parts beyond the bound, where it is written", () => {
    const ds = errorsOf(
      fleetWith(
        {
          estimates: { install: "99999999999h", start: "6d23h59m61s", stop: `${"9".repeat(400)}s` },
          driver: { exec: { timeout: "8d", commands: { status: ["a"] } } },
        },
        { maxMixedWindow: "4d4d" },
      ),
    );
    expect(ds.map((d) => `${d.path} ${d.code} ${d.expected}`)).toEqual([
      "defaults.maxMixedWindow ROLLGATE_E_FLEET_DURATION a duration of at most 7d (604800s)",
      "clusters[0].estimates.install ROLLGATE_E_FLEET_DURATION a duration of at most 7d (604800s)",
      "clusters[0].estimates.start ROLLGATE_E_FLEET_DURATION a duration of at most 7d (604800s)",
      "clusters[0].estimates.stop ROLLGATE_E_FLEET_DURATION a duration of at most 7d (604800s)",
      "clusters[0].driver.exec.timeout ROLLGATE_E_FLEET_DURATION a duration of at most 7d (604800s)",
    ]);
    expect(ds[1]!.message).toBe('"99999999999h" is longer than the longest duration accepted (7d)');
  });

  it("accepts durations up to the bound", () => {
    const r = parseFleetText(fleetWith({ estimates: { install: "7d", start: "6d23h59m59s" } }), "f.yaml");
    expect(r.ok).toBe(true);
  });

  it("bounds capacity weights, so that sums stay finite", () => {
    const ds = errorsOf(fleetWith({ capacity: 1e308 }));
    expect(ds.map((d) => `${d.path} ${d.code}`)).toEqual(["clusters[0].capacity ROLLGATE_E_FLEET_SCHEMA"]);
  });
});
