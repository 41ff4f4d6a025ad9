import fc from "fast-check";
import { stringify } from "yaml";
import { describe, expect, it } from "vitest";
import { canonicalAddress, compareAddresses } from "../../src/model/address.ts";
import { parseFleetText } from "../../src/model/fleet-file.ts";
import { planUpgrade } from "../../src/plan/planner.ts";

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

describe("addresses are compared in canonical form (RFC 5952)", () => {
  it("writes IPv6 addresses canonically", () => {
    const cases: Array<[string, string]> = [
      ["FD00:0:0::1", "fd00::1"],
      ["fd00:0000:0000:0000:0000:0000:0000:0001", "fd00::1"],
      ["2001:0db8::0001", "2001:db8::1"],
      ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
      ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"],
      ["1:0:0:2:0:0:0:3", "1:0:0:2::3"],
      ["0:0:0:0:0:0:0:0", "::"],
      ["0:0:0:0:0:0:0:1", "::1"],
      ["1:0:0:0:0:0:0:0", "1::"],
      ["::FFFF:0A00:0001", "::ffff:10.0.0.1"],
      ["0:0:0:0:0:ffff:10.0.0.1", "::ffff:10.0.0.1"],
      ["10.0.0.1", "10.0.0.1"],
    ];
    for (const [written, canonical] of cases) expect(canonicalAddress(written), written).toBe(canonical);
  });

  it("agrees with the WHATWG URL parser (which follows RFC 5952) on random IPv6 addresses", () => {
    const groups = fc.array(fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 0, max: 0xffff })), {
      minLength: 8,
      maxLength: 8,
    });
    fc.assert(
      fc.property(groups, fc.boolean(), (g, upper) => {
        const written = g.map((x) => (upper ? x.toString(16).toUpperCase() : x.toString(16))).join(":");
        const url = new URL(`http://[${written}]/`).hostname.slice(1, -1);
        if (g.slice(0, 6).join() === "0,0,0,0,0,65535") return; // mapped: URL writes it in hex
        expect(canonicalAddress(written)).toBe(url);
      }),
      { numRuns: 2000 },
    );
  });

  it("finds the same address written two ways in one cluster", () => {
    const ds = errorsOf(
      fleetWith({
        servers: [
          { name: "s1", address: "fd00::1" },
          { name: "s2", address: "FD00:0:0::1" },
          { name: "s3", address: "10.0.0.3" },
          { name: "s4", address: "::ffff:10.0.0.3" },
        ],
      }),
    );
    expect(ds.map((d) => `${d.path} ${d.code} ${d.message}`)).toEqual([
      "clusters[0].servers[1].address ROLLGATE_E_FLEET_DUPLICATE_ADDRESS address FD00:0:0::1 is also the address of s1 (written fd00::1)",
      "clusters[0].servers[3].address ROLLGATE_E_FLEET_DUPLICATE_ADDRESS address ::ffff:10.0.0.3 is also the address of s3 (written 10.0.0.3)",
    ]);
  });

  it("refuses IPv4 with leading zeros (010 is 8 to some parsers, 10 to others)", () => {
    const ds = errorsOf(fleetWith({ servers: [{ name: "s1", address: "010.010.001.003" }] }));
    expect(ds.map((d) => `${d.path} ${d.code}`)).toEqual([
      "clusters[0].servers[0].address ROLLGATE_E_FLEET_ADDRESS",
    ]);
  });

  it("orders by the address, not its spelling (M2), and keeps canonical addresses in the fleet", () => {
    expect(compareAddresses("fd00::2", "FD00:0:0::1")).toBe(1);
    expect(compareAddresses("FD00:0:0::1", "fd00::1")).toBe(0);
    // an IPv4-mapped address is ordered as the IPv4 address it maps
    expect(compareAddresses("::ffff:10.0.0.9", "10.0.0.10")).toBe(-1);
    expect(compareAddresses("10.0.0.10", "::ffff:10.0.0.9")).toBe(1);
    expect(compareAddresses("::ffff:10.0.0.10", "10.0.0.10")).toBe(0);
    const r = parseFleetText(
      fleetWith({
        servers: [
          { name: "s1", address: "FD00:0:0::1", interfaces: ["fd00::1", "10.0.0.1"] },
          { name: "s2", address: "::FFFF:10.0.0.2" },
        ],
      }),
      "f.yaml",
    );
    if (!r.ok) throw new Error(JSON.stringify(r.diagnostics));
    expect(r.fleet.clusters[0]!.servers.map((s) => [s.address, s.interfaces])).toEqual([
      ["fd00::1", ["fd00::1", "10.0.0.1"]],
      ["::ffff:10.0.0.2", ["::ffff:10.0.0.2"]],
    ]);
  });

  it("plans a matrix of mapped and plain addresses in the manual's order (highest address first, M2)", () => {
    const r = parseFleetText(
      fleetWith({
        servers: [
          { name: "a", address: "10.0.0.10" },
          { name: "b", address: "::ffff:10.0.0.9" },
          { name: "c", address: "10.0.0.11" },
        ],
      }),
      "f.yaml",
    );
    if (!r.ok) throw new Error(JSON.stringify(r.diagnostics));
    const plan = planUpgrade(r.fleet, { to: "3.5.1" });
    const installs = plan.steps.filter((s) => s.action === "install").map((s) => s.server);
    expect(installs).toEqual(["c", "a", "b"]);
  });
});
