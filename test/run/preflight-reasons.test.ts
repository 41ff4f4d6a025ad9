import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { ExecDriver } from "../../src/drivers/exec.ts";
import { type Lab, startLab } from "../../src/lab/index.ts";
import { parseFleetText } from "../../src/model/fleet-file.ts";
import { defaultStatePath } from "../../src/run/locate.ts";
import { REPO, runCli, tempDir } from "../helpers/cli.ts";
import { adapterCommands, labOf } from "../helpers/engine.ts";
import { e2eTimeouts } from "../helpers/wait.ts";

e2eTimeouts(60_000);

/**
 * Issue 14: preflight (the first observation, G5, before a new run) gave every server 5 s whatever
 * the driver's `timeout` said, and a timeout, a missing program and a lab that is down all read
 * "cannot reach". Each reason is named now, with the driver's own timeout.
 */
let lab: Lab | undefined;
afterEach(async () => {
  await lab?.stop();
  lab = undefined;
});

const APPLY = ["--to", "3.5.1", "--yes", "--confirm-finalize"];

/** The derived fleet file with every cluster's driver changed by `edit`, written beside it. */
function rewrite(
  derived: string,
  edit: (driver: Record<string, unknown>) => Record<string, unknown>,
): string {
  const doc = parse(readFileSync(derived, "utf8"));
  for (const c of doc.clusters) c.driver = edit(c.driver);
  const path = join(derived, "..", "edited.yaml");
  writeFileSync(path, stringify(doc));
  return path;
}

/** A loopback port nothing listens on: one the kernel gave out, closed again. */
function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

function refused(r: { code: number; stderr: string }): void {
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr).toContain("[ROLLGATE_E_PREFLIGHT_UNREACHABLE]");
  expect(r.stderr).toMatch(/cannot observe \d server\(s\) before starting \(G5\)/);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

describe("preflight names the driver's reason", () => {
  it("an exec driver whose status program is not installed: the program, not 'cannot reach'", async () => {
    const t = await labOf("matrix-seed", 600);
    lab = t.lab;
    const fleet = rewrite(t.fleet, () => ({
      exec: {
        timeout: "30s",
        commands: {
          ...adapterCommands(t.lab.controlUrl),
          status: ["/nonexistent/appliance-status", "{name}"],
        },
      },
    }));
    const r = await runCli(["apply", fleet, ...APPLY], { timeoutMs: 60_000 });
    refused(r);
    expect(r.stderr).toContain(
      'srv1 (matrix-a): "/nonexistent/appliance-status" could not be started (ENOENT)',
    );
    expect(existsSync(defaultStatePath(fleet))).toBe(false);
  }, 90_000);

  it("an http driver pointed at a closed loopback port: connection refused at its URL", async () => {
    const t = await labOf("matrix-seed", 600);
    lab = t.lab;
    const port = await closedPort();
    const fleet = rewrite(t.fleet, () => ({ http: { url: `http://127.0.0.1:${port}/{name}` } }));
    const r = await runCli(["apply", fleet, ...APPLY], { timeoutMs: 60_000 });
    refused(r);
    expect(r.stderr).toContain(`srv1 (matrix-a): connection refused at http://127.0.0.1:${port}/srv1`);
    expect(r.stderr).not.toContain("is the lab up");
  }, 90_000);

  it("the lab's derived fleet file once the lab is down: refused, and asks whether the lab is up", async () => {
    const t = await labOf("matrix-seed", 600);
    await t.lab.stop();
    const r = await runCli(["apply", t.fleet, ...APPLY], { timeoutMs: 60_000 });
    refused(r);
    expect(r.stderr).toMatch(
      /srv1 \(matrix-a\): connection refused at http:\/\/127\.0\.0\.1:\d+\/servers\/srv1 \(is the lab up\?/,
    );
  }, 90_000);

  it("driver.http.timeout shorter than 5 s: a lab server that never answers (rollgate lab fault) times out after it", async () => {
    const dir = tempDir();
    const original = join(dir, "fleet.yaml");
    const doc = parse(readFileSync(join(REPO, "examples", "matrix-seed.yaml"), "utf8"));
    for (const c of doc.clusters) c.driver = { http: { url: "https://{address}:8443", timeout: "3s" } };
    writeFileSync(original, stringify(doc));
    lab = await startLab(original, { speed: 600 });
    // the derived fleet file keeps the fleet's own observation timeout
    const derived = parseFleetText(readFileSync(lab.derivedFleetPath, "utf8"));
    expect(derived.ok && derived.fleet.clusters[0]!.driver?.http?.timeout).toBe(3);
    const fault = await runCli(["lab", "fault", original, "srv2", "unreachable-drop"], { timeoutMs: 60_000 });
    expect(fault.code, fault.stderr).toBe(0);
    const r = await runCli(["apply", lab.derivedFleetPath, ...APPLY], { timeoutMs: 60_000 });
    refused(r);
    expect(r.stderr).toContain("srv2 (matrix-a): no answer within 3s (driver.http.timeout)");
    expect(r.stderr).not.toMatch(/srv[13] \(matrix-a\)/); // the others answered
  }, 90_000);

  it("driver.http.timeout longer than 5 s is waited for in full (not cut at 5 s)", async () => {
    const dir = tempDir();
    const original = join(dir, "fleet.yaml");
    const doc = parse(readFileSync(join(REPO, "examples", "matrix-seed.yaml"), "utf8"));
    for (const c of doc.clusters) c.driver = { http: { url: "https://{address}:8443", timeout: "7s" } };
    writeFileSync(original, stringify(doc));
    lab = await startLab(original, { speed: 600 });
    const fault = await runCli(["lab", "fault", original, "srv1", "unreachable-drop"], { timeoutMs: 60_000 });
    expect(fault.code, fault.stderr).toBe(0);
    const started = Date.now();
    const r = await runCli(["apply", lab.derivedFleetPath, ...APPLY], { timeoutMs: 60_000 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(7000);
    refused(r);
    expect(r.stderr).toContain("srv1 (matrix-a): no answer within 7s (driver.http.timeout)");
  }, 90_000);

  it("the default http timeout says it is the default and which setting changes it", async () => {
    const t = await labOf("matrix-seed", 600);
    lab = t.lab;
    t.lab.fault("srv3", "unreachable-drop");
    const r = await runCli(["apply", t.fleet, ...APPLY], { timeoutMs: 60_000 });
    refused(r);
    expect(r.stderr).toContain("srv3 (matrix-a): no answer within 5s (the default; set driver.http.timeout)");
  }, 90_000);

  it("an exec status command past driver.exec.timeout, one that fails and one that prints no status", async () => {
    const dir = tempDir();
    const fleetText = (status: string[], timeout: string) =>
      stringify({
        apiVersion: "rollgate/v1",
        fleet: "f",
        clusters: [
          {
            name: "c",
            pack: "generic",
            version: "1.0.0",
            servers: [{ name: "s1", address: "10.0.0.1" }],
            driver: { exec: { timeout, commands: { status } } },
          },
        ],
      });
    const observe = async (status: string[], timeout: string) => {
      const parsed = parseFleetText(fleetText(status, timeout));
      if (!parsed.ok) throw new Error(JSON.stringify(parsed.diagnostics));
      const cluster = parsed.fleet.clusters[0]!;
      return new ExecDriver(cluster.driver!.exec!).observe({ cluster, server: cluster.servers[0]! });
    };
    const answer = JSON.stringify({ state: "running", release: "1.0.0" });
    const slow = await observe(["/bin/sh", "-c", "sleep 30"], "1s");
    expect(slow).toMatchObject({
      state: "unreachable",
      error: "driver.exec.commands.status gave no answer within 1s (driver.exec.timeout)",
    });
    // a command slower than 5 s within a longer timeout is an answer
    const patient = await observe(["/bin/sh", "-c", `sleep 6; echo '${answer}'`], "20s");
    expect(patient).toMatchObject({ state: "running", release: "1.0.0" });
    const failing = await observe(["/bin/sh", "-c", "echo 'no route to appliance' >&2; exit 3"], "10s");
    expect(failing.error).toBe("driver.exec.commands.status exited 3: no route to appliance");
    const chatty = await observe(["/bin/echo", "hello"], "10s");
    expect(chatty.error).toBe('driver.exec.commands.status printed no JSON status (it printed "hello")');
    expect(dir).toBeTruthy();
  }, 60_000);
});
