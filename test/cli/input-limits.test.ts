import { spawn } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { fleetFileText } from "../../bench/fleet-file.bench.ts";
import { MAX_FLEET_FILE_BYTES } from "../../src/model/fleet-file.ts";
import { BIN, REPO, runCli, tempDir } from "../helpers/cli.ts";
import { e2eTimeouts } from "../helpers/wait.ts";

e2eTimeouts(60_000);

/** Fleet files are bounded in size (issue 7): refused before parsing, with file, size and limit. */

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function file(name: string, text: string): string {
  const dir = tempDir("rollgate-limits-");
  dirs.push(dir);
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe("the fleet file's size limit (8 MiB)", () => {
  it("refuses a file over the limit before parsing it: exit 2, file, size and limit", async () => {
    // one byte over, and not YAML at all: refused for its size, not parsed
    const path = file("big.yaml", `${"#".repeat(MAX_FLEET_FILE_BYTES)}\n`);
    const r = await runCli(["validate", path, "--json"], { timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(2);
    const out = JSON.parse(r.stdout);
    expect(out.error.code).toBe("ROLLGATE_E_FLEET_TOO_LARGE");
    expect(out.error.details).toEqual({
      file: path,
      size: MAX_FLEET_FILE_BYTES + 1,
      limit: MAX_FLEET_FILE_BYTES,
    });
    expect(out.error.message).toContain(`${MAX_FLEET_FILE_BYTES + 1} bytes`);
    const plain = await runCli(["validate", path], { timeoutMs: 60_000 });
    expect(plain.stderr).toMatch(
      /big\.yaml.*larger than the limit of 8\.0 MiB.*\[ROLLGATE_E_FLEET_TOO_LARGE\]/,
    );
    expect(plain.stderr).not.toMatch(/\n\s+at /);
  }, 60_000);

  it("refuses an endless stream (a pipe) after reading one byte more than the limit", async () => {
    // `yes` never ends: rollgate must stop reading at the limit (yes then ends on SIGPIPE)
    const r = await new Promise<{ code: number; stderr: string }>((resolve, reject) => {
      const child = spawn(
        "sh",
        ["-c", `yes '# a comment' | "${process.execPath}" "${BIN}" validate /dev/stdin`],
        {
          cwd: REPO,
          env: { ...process.env, NO_COLOR: "1" },
          detached: true, // its own process group: on a time-out, yes and rollgate are killed with sh
        },
      );
      let stderr = "";
      child.stderr.on("data", (d) => (stderr += d));
      const timer = setTimeout(() => {
        process.kill(-child.pid!, "SIGKILL");
        reject(new Error(`rollgate kept reading\n${stderr}`));
      }, 60_000);
      child.on("close", (code) => {
        clearTimeout(timer);
        resolve({ code: code ?? -1, stderr });
      });
    });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/more than 8388608 bytes.*\[ROLLGATE_E_FLEET_TOO_LARGE\]/);
  }, 60_000);

  it("accepts a valid file of 40,000 servers just under the limit", async () => {
    const text = fleetFileText(40_000);
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(MAX_FLEET_FILE_BYTES);
    expect(Buffer.byteLength(text)).toBeGreaterThan(MAX_FLEET_FILE_BYTES * 0.9);
    const r = await runCli(["validate", file("fleet.yaml", text), "--json"], { timeoutMs: 180_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).servers).toBeGreaterThanOrEqual(40_000);
  }, 180_000);

  it("lists a few names, not all of them, for each of thousands of wrong references", async () => {
    const text = fleetFileText(10_000).replace(/(\n {4}clusters:\n {6}- )(\S+)/, "$1$2-x");
    const r = await runCli(["validate", file("fleet.yaml", text)], { timeoutMs: 120_000 });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(
      /unknown cluster "sc0-c0-x" \(expected one of mx0, mx1, .*, … \(3002 in all\)\)/,
    );
  }, 120_000);
});

describe("durations are bounded (7d) so that the planner's sums stay exact", () => {
  const fleet = (install: string, start: string) => `apiVersion: rollgate/v1
fleet: huge
defaults: { capacityFloor: 0.5 }
clusters:
  - name: mx
    pack: polyserve-matrix
    version: 3.5.0
    estimates: { install: ${install}, start: ${start} }
    servers:
      - { name: s1, address: 10.0.0.1 }
      - { name: s2, address: 10.0.0.2 }
      - { name: s3, address: 10.0.0.3 }
`;

  it("plan refuses 99999999999h at validation (exit 2), where it used to fail verification (exit 3)", async () => {
    const r = await runCli(["plan", file("huge.yaml", fleet("99999999999h", "1h")), "--to", "3.5.1"], {
      timeoutMs: 60_000,
    });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(
      /huge\.yaml:8:\d+ clusters\[0\]\.estimates\.install: "99999999999h" is longer than the longest duration accepted \(7d\).*\[ROLLGATE_E_FLEET_DURATION\]/,
    );
    expect(r.stderr).not.toMatch(/VERIFY_FAILED|INTERNAL/);
  }, 60_000);

  it("plans and verifies a fleet whose estimates are all at the bound", async () => {
    const r = await runCli(
      ["plan", file("week.yaml", fleet("7d", "6d23h59m59s")), "--to", "3.5.1", "--json"],
      {
        timeoutMs: 60_000,
      },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).verification.ok).toBe(true);
  }, 60_000);
});

describe("rollgate validate refuses what used to fail later (real CLI, real file)", () => {
  it("a NUL byte in an exec argument and a misspelt command name: exit 2, file:line:column and field", async () => {
    const path = file(
      "fleet.yaml",
      `apiVersion: rollgate/v1
fleet: cmds
clusters:
  - name: mx
    pack: polyserve-matrix
    version: 3.5.0
    servers:
      - { name: s1, address: 10.0.0.1 }
    driver:
      exec:
        commands:
          status: ["/opt/appliance", "st\\0atus"]
          instal: ["/opt/appliance", "install", "{release}"]
`,
    );
    const r = await runCli(["validate", path], { timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(
      /fleet\.yaml:12:\d+ clusters\[0\]\.driver\.exec\.commands\.status\[1\]: contains a NUL byte.*\[ROLLGATE_E_FLEET_SCHEMA\]/,
    );
    expect(r.stderr).toMatch(
      /fleet\.yaml:13:11 clusters\[0\]\.driver\.exec\.commands\.instal: unknown command "instal": did you mean install\?/,
    );
    expect(r.stderr).not.toMatch(/\n\s+at /);
  }, 60_000);
});
