import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { spawn } from "node:child_process";
import { BIN, REPO, runCli, tempDir } from "../helpers/cli.ts";
import { e2eTimeouts } from "../helpers/wait.ts";

e2eTimeouts(60_000);

describe("rollgate validate / schema / help (real CLI)", () => {
  it.each(["matrix-seed", "dma-supercluster", "mixed-fleet"])(
    "validates examples/%s.yaml (exit 0)",
    async (name) => {
      const r = await runCli(["validate", `examples/${name}.yaml`]);
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^ok examples\//);
    },
  );

  it("a wrong-typed value and a misspelt field: what was expected, what was found, did you mean (issue 14)", async () => {
    const dir = tempDir();
    const file = join(dir, "fleet.yaml");
    writeFileSync(
      file,
      `apiVersion: rollgate/v1
fleet: x
defaults:
  capacityFloor: 60%
clusters:
  - name: a
    pack: polyserve-matrix
    version: 3.5.0
    capcity: 2
    servers:
      - { name: s1, address: [10.0.0.1, 10.0.0.2] }
`,
    );
    const r = await runCli(["validate", file], { timeoutMs: 60_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stderr).not.toContain("required field is missing");
    expect(r.stderr).toContain(
      `${file}:4:18 defaults.capacityFloor: expected a number between 0 and 1 (e.g. 0.6), found the string "60%" [ROLLGATE_E_FLEET_SCHEMA]`,
    );
    expect(r.stderr).toContain(
      `${file}:11:30 clusters[0].servers[0].address: expected an IPv4 or IPv6 address, found a list of 2 items [ROLLGATE_E_FLEET_SCHEMA]`,
    );
    expect(r.stderr).toContain(
      `${file}:9:5 clusters[0].capcity: unknown field "capcity": did you mean capacity?`,
    );
    const json = await runCli(["validate", file, "--json"], { timeoutMs: 60_000 });
    expect(json.code).toBe(2);
    const out = JSON.parse(json.stdout || json.stderr);
    const floor = (out.diagnostics ?? out.error?.diagnostics ?? []).find(
      (d: { path: string }) => d.path === "defaults.capacityFloor",
    );
    expect(floor).toMatchObject({ expected: "a number between 0 and 1 (e.g. 0.6)", line: 4, column: 18 });
  }, 120_000);

  it("prints JSON with --json", async () => {
    const r = await runCli(["validate", "examples/dma-supercluster.yaml", "--json"]);
    expect(JSON.parse(r.stdout)).toMatchObject({
      ok: true,
      fleet: "acme-video",
      clusters: 3,
      servers: 6,
      superclusters: 1,
    });
  });

  it("names every mistake with line and column, exit 2, no stack trace", async () => {
    const r = await runCli(["validate", "test/fixtures/bad-fleet.yaml"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    const lines = r.stderr.trim().split("\n");
    expect(lines[0]).toBe("error: test/fixtures/bad-fleet.yaml: 4 errors in the fleet file");
    expect(r.stderr).toContain(
      'bad-fleet.yaml:9:17 clusters[0].servers[1].name: server name "a-1" is used twice',
    );
    expect(r.stderr).toContain(
      'bad-fleet.yaml:9:31 clusters[0].servers[1].address: "10.60.0.300" is not a valid address',
    );
    expect(r.stderr).toContain(
      'bad-fleet.yaml:18:30 superclusters[0].clusters[2]: unknown cluster "dma-zzz"',
    );
    expect(r.stderr).toContain(
      'bad-fleet.yaml:20:45 superclusters[0].territories[0].backup: unknown cluster "dma-nope"',
    );
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("reports bad YAML indentation in another file with its line", async () => {
    const r = await runCli(["validate", "test/fixtures/bad-indent.yaml"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/bad-indent\.yaml:6:\d+ .*\[ROLLGATE_E_FLEET_YAML\]/);
  });

  it("gives JSON errors with codes and doc anchors under --json", async () => {
    const r = await runCli(["validate", "test/fixtures/bad-fleet.yaml", "--json"]);
    expect(r.code).toBe(2);
    const out = JSON.parse(r.stdout);
    expect(out.ok).toBe(false);
    expect(out.error.diagnostics).toHaveLength(4);
    expect(out.error.doc).toMatch(/^docs\/errors\.md#rollgate_e_fleet_/);
  });

  it("treats a missing file, a missing argument and an unknown option as bad input (exit 2)", async () => {
    expect((await runCli(["validate", "nope.yaml"])).code).toBe(2);
    expect((await runCli(["validate"])).code).toBe(2);
    const r = await runCli(["validate", "examples/matrix-seed.yaml", "--frobnicate"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown option '--frobnicate' [ROLLGATE_E_USAGE]");
    expect((await runCli(["no-such-command"])).code).toBe(2);
    const choice = await runCli([
      "apply",
      "examples/matrix-seed.yaml",
      "--to",
      "3.5.1",
      "--strategy",
      "yolo",
    ]);
    expect(choice.code).toBe(2);
    expect(choice.stderr).toMatch(
      /'yolo' is invalid\. Allowed choices are auto, rolling, patch, maintenance-window, incremental, all-at-once, two-halves\. \[ROLLGATE_E_USAGE\]/,
    );
  });

  it("never prints a stack trace, even for a binary file", async () => {
    const dir = tempDir();
    const f = join(dir, "bin.yaml");
    writeFileSync(f, Buffer.from([0, 159, 146, 150, 255, 10, 58, 58, 0]));
    const r = await runCli(["validate", f]);
    expect(r.code).toBe(2);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("has --help on every command and --version", async () => {
    const top = await runCli(["--help"]);
    expect(top.code).toBe(0);
    expect(top.stdout).toContain("Exit codes: 0 ok, 1 an operation halted");
    for (const cmd of ["validate", "schema"]) {
      const r = await runCli([cmd, "--help"]);
      expect(r.code, cmd).toBe(0);
      expect(r.stdout).toContain(`Usage: rollgate ${cmd}`);
    }
    const v = await runCli(["--version"]);
    expect(v.stdout.trim()).toBe(JSON.parse(readFileSync("package.json", "utf8")).version);
  });

  it("uses no colour when NO_COLOR is set or stdout is not a terminal", async () => {
    const r = await runCli(["validate", "test/fixtures/bad-fleet.yaml"], {
      env: { NO_COLOR: "1", FORCE_COLOR: "1" },
    });
    expect(r.stderr).not.toContain("\u001b[");
  });

  it("prints the JSON Schema, which docs/fleet.schema.json keeps equal", async () => {
    const r = await runCli(["schema"]);
    expect(r.code).toBe(0);
    const schema = JSON.parse(r.stdout);
    expect(schema.properties.apiVersion).toBeDefined();
    expect(schema.required).toEqual(expect.arrayContaining(["apiVersion", "fleet", "clusters"]));
    expect(JSON.parse(readFileSync("docs/fleet.schema.json", "utf8"))).toEqual(schema);
  });

  it("ends quietly when its reader closes the pipe early (rollgate plan … --json | head)", async () => {
    // a plan far larger than a pipe's buffer, so the writer meets the closed pipe
    const dir = tempDir();
    const fleet = join(dir, "big.yaml");
    const servers = Array.from(
      { length: 400 },
      (_, i) => `      - { name: n${i}, address: 10.40.${i >> 8}.${i & 255} }`,
    );
    writeFileSync(
      fleet,
      `apiVersion: rollgate/v1\nfleet: big\nclusters:\n  - name: kv\n    pack: generic\n    version: 2.4.0\n    servers:\n${servers.join("\n")}\n`,
    );
    const child = spawn(process.execPath, [BIN, "plan", fleet, "--to", "2.5.0", "--json"], {
      cwd: REPO,
      env: { ...process.env, NO_COLOR: "1" },
    });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    await new Promise<void>((resolve) => child.stdout.once("data", () => resolve()));
    child.stdout.destroy();
    const code = await new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
    expect(stderr).not.toContain("EPIPE");
    expect(code).toBe(0);
  });
});
