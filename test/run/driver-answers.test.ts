import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { ExecDriver } from "../../src/drivers/exec.ts";
import { HttpDriver } from "../../src/drivers/http.ts";
import { parseFleetText } from "../../src/model/fleet-file.ts";
import { runCli, tempDir } from "../helpers/cli.ts";
import { e2eTimeouts } from "../helpers/wait.ts";

e2eTimeouts(60_000);

/** A driver's answer is untrusted input: a malformed status is refused where it is read (issue 7). */

const dirs: string[] = [];
let server: Server | undefined;
afterEach(async () => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});

/** A real command that prints `answer` as its status (the exec driver runs it without a shell). */
const printing = (answer: unknown) => [
  process.execPath,
  "-e",
  `process.stdout.write(${JSON.stringify(JSON.stringify(answer))})`,
];
const ok = [process.execPath, "-e", "0"];

function fleetFile(driver: Record<string, unknown>): string {
  const dir = tempDir("rollgate-answers-");
  dirs.push(dir);
  const path = join(dir, "fleet.yaml");
  writeFileSync(
    path,
    stringify({
      apiVersion: "rollgate/v1",
      fleet: "answers",
      clusters: [
        {
          name: "mx",
          pack: "polyserve-matrix",
          version: "3.5.0",
          servers: [
            { name: "srv1", address: "10.77.0.1" },
            { name: "srv2", address: "10.77.0.2" },
            { name: "srv3", address: "10.77.0.3" },
          ],
          driver,
        },
      ],
    }),
  );
  return path;
}

const execDriver = (status: string[]) => ({
  exec: {
    timeout: "20s",
    commands: Object.fromEntries(
      ["status", "disable", "backup", "stop", "install", "start", "verify"].map((a) => [
        a,
        a === "status" ? status : ok,
      ]),
    ),
  },
});

function clusterOf(path: string) {
  const r = parseFleetText(readFileSync(path, "utf8"), path);
  if (!r.ok) throw new Error(JSON.stringify(r.diagnostics));
  const cluster = r.fleet.clusters[0]!;
  return { cluster, server: cluster.servers[0]! };
}

describe("a malformed status answer is a coded observation naming the server and the field", () => {
  it("exec: a release that is not a version reads as unreachable, with the field and the code", async () => {
    const target = clusterOf(fleetFile(execDriver(printing({ state: "running", release: "banana" }))));
    const obs = await new ExecDriver(target.cluster.driver!.exec!).observe(target);
    expect(obs).toMatchObject({ server: "srv1", cluster: "mx", state: "unreachable", release: "3.5.0" });
    expect(obs.errorCode).toBe("ROLLGATE_E_DRIVER_ANSWER");
    expect(obs.error).toContain("srv1");
    expect(obs.error).toContain('field release is "banana"');
    // other malformed fields are named too
    for (const [answer, field] of [
      [{ state: "flying", release: "3.5.0" }, "state"],
      [{ state: "running", release: "3.5.0", members: "srv1" }, "members"],
      [
        { state: "running", release: "3.5.0", lastInstall: { release: "x", result: "ok" } },
        "lastInstall.release",
      ],
      [{ state: "running" }, "release"],
    ] as const) {
      const t = clusterOf(fleetFile(execDriver(printing(answer))));
      const o = await new ExecDriver(t.cluster.driver!.exec!).observe(t);
      expect(o.state, JSON.stringify(answer)).toBe("unreachable");
      expect(o.error, JSON.stringify(answer)).toContain(`field ${field} `);
    }
    // a well-formed answer passes, with the target's own name whatever the answer says
    const good = clusterOf(
      fleetFile(
        execDriver(printing({ server: "other", state: "running", release: "3.5.0", members: ["srv1"] })),
      ),
    );
    expect(await new ExecDriver(good.cluster.driver!.exec!).observe(good)).toEqual({
      server: "srv1",
      cluster: "mx",
      state: "running",
      release: "3.5.0",
      members: ["srv1"],
    });
  }, 30_000);

  it("apply with an exec driver whose status says release 'banana': exit 2 naming server and field, not a crash", async () => {
    const fleet = fleetFile(execDriver(printing({ state: "running", release: "banana" })));
    const r = await runCli(["apply", fleet, "--to", "3.5.1", "--yes"], { timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toContain("[ROLLGATE_E_PREFLIGHT_UNREACHABLE]");
    expect(r.stderr).toMatch(/srv1 \(mx\): .*field release is "banana".*ROLLGATE_E_DRIVER_ANSWER/);
    expect(r.stderr).not.toMatch(/\n\s+at |TypeError|ROLLGATE_E_INTERNAL/);
  }, 60_000);

  it("http: a real server answering a release that is not a version", async () => {
    server = createServer((req, res) => {
      res.setHeader("content-type", "application/json");
      res.end(
        JSON.stringify(req.url?.endsWith("/v1/status") ? { state: "running", release: { major: 3 } } : {}),
      );
    });
    await new Promise<void>((r) => server!.listen(0, "127.0.0.1", () => r()));
    const port = (server.address() as AddressInfo).port;
    const fleet = fleetFile({ http: { url: `http://127.0.0.1:${port}/{name}` } });
    const target = clusterOf(fleet);
    const obs = await new HttpDriver().observe(target);
    expect(obs).toMatchObject({
      server: "srv1",
      state: "unreachable",
      errorCode: "ROLLGATE_E_DRIVER_ANSWER",
    });
    expect(obs.error).toContain('field release is {"major":3}');
    const r = await runCli(["apply", fleet, "--to", "3.5.1", "--yes"], { timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr).toMatch(/srv1 \(mx\): .*field release/);
    expect(r.stderr).not.toMatch(/\n\s+at |TypeError|ROLLGATE_E_INTERNAL/);
  }, 60_000);
});
