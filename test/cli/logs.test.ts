import { spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { scrubSecrets } from "../../src/cli/logging.ts";
import type { Lab } from "../../src/lab/index.ts";
import { BIN, REPO, runCli, tempDir } from "../helpers/cli.ts";
import { labOf } from "../helpers/engine.ts";
import { e2eTimeouts, waitFor } from "../helpers/wait.ts";

// Runs the real CLI: an apply on a lab, a server, a few refusals.
e2eTimeouts(120_000);

let lab: Lab | undefined;
afterEach(async () => {
  await lab?.stop();
  lab = undefined;
});

type Line = Record<string, unknown> & { level: string; msg: string; time: string };

/** Every line of stderr parsed as JSON; a line that is not JSON fails the test. */
function jsonLines(stderr: string): Line[] {
  return stderr
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => {
      try {
        return JSON.parse(l) as Line;
      } catch {
        throw new Error(`stderr line is not JSON: ${l}`);
      }
    });
}

describe("--log-format json: one pino line per event on stderr (issue 13, item 4)", () => {
  it("apply logs every event with runId, step, cluster, server, level; the dashboard's token never appears", async () => {
    const t = await labOf("matrix-seed", 300);
    lab = t.lab;
    const file = join(tempDir("rollgate-logs-"), "dashboard.url");
    const child = spawn(
      process.execPath,
      [BIN, "apply", t.fleet, "--to", "3.5.1", "--yes", "--confirm-finalize"].concat(
        ["--dashboard", "0", "--dashboard-token-file", file],
        ["--log-format", "json", "--log-level", "debug"],
      ),
      { cwd: REPO, env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stderr = "";
    let stdout = "";
    child.stderr.on("data", (d) => (stderr += d));
    child.stdout.on("data", (d) => (stdout += d));
    const exited = new Promise<number>((resolve) => child.on("close", (c) => resolve(c ?? -1)));
    try {
      const link = await waitFor(() => (existsSync(file) ? readFileSync(file, "utf8").trim() : ""), {
        timeoutMs: 60_000,
        what: "the token file",
      });
      const token = /#token=(\S+)$/.exec(link)?.[1];
      expect(token, link).toMatch(/^rg_[0-9a-f]{8}_/);
      // the token works while the run goes (it is a real one), and is used: the request is made
      const api = new URL(link).origin;
      const res = await fetch(`${api}/api/runs`, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(200);
      expect(await exited).toBe(0);

      const lines = jsonLines(stderr);
      const secret = token!.split("_").slice(2).join("_");
      expect(stderr).not.toContain(secret);
      expect(stdout).not.toContain(secret);
      expect(stderr).not.toContain("#token=");

      // pino's shape: level as a label, an ISO time, rollgate's name and the command
      for (const l of lines) {
        expect(["trace", "debug", "info", "warn", "error"]).toContain(l.level);
        expect(Date.parse(l.time)).not.toBeNaN();
        expect(l).toMatchObject({ name: "rollgate", command: "apply" });
        expect(typeof l.msg).toBe("string");
      }
      const events = lines.filter((l) => typeof l.event === "string");
      const runId = events[0]?.runId;
      expect(runId).toMatch(/^run-/);
      expect(events.every((l) => l.runId === runId)).toBe(true);
      // a finished step: info, with its step, cluster and server (from the plan)
      const done = events.filter((l) => l.event === "step.done");
      expect(done.length).toBeGreaterThan(3);
      expect(done[0]).toMatchObject({ level: "info", cluster: "matrix-a" });
      expect(done.find((l) => l.step === "matrix-a/srv3/install")).toMatchObject({
        server: "srv3",
        msg: expect.stringContaining("matrix-a/srv3/install: done in"),
      });
      // observations at debug, with what was seen
      expect(events.find((l) => l.event === "observation")).toMatchObject({
        level: "debug",
        cluster: "matrix-a",
        server: expect.any(String),
        release: expect.any(String),
      });
      expect(events.at(-1)).toMatchObject({ event: "run.state", state: "completed", level: "info" });
      // the command's own diagnostics are log lines too: the plan's brief, where the dashboard is
      expect(lines.some((l) => l.event === undefined && /steps/.test(l.msg))).toBe(true);
      expect(lines.find((l) => l.msg.startsWith("dashboard: "))?.msg).toContain(
        `the link with its token is in ${file}`,
      );
      // the result stays on stdout as text
      expect(stdout).not.toBe("");
    } finally {
      child.kill("SIGKILL");
    }
  }, 240_000);

  it("an escalation is an error line with its rule, code, step and server; resume logs the same run", async () => {
    const t = await labOf("matrix-seed", 600);
    lab = t.lab;
    t.lab.fault("srv3", "install-fails", { once: true });
    const first = await runCli(
      ["apply", t.fleet, "--to", "3.5.1", "--yes", "--confirm-finalize", "--log-format", "json"],
      { timeoutMs: 180_000 },
    );
    expect(first.code, first.stderr).toBe(1);
    const lines = jsonLines(first.stderr);
    const escalation = lines.find((l) => l.event === "escalation");
    expect(escalation).toMatchObject({
      level: "error",
      code: expect.stringMatching(/^ROLLGATE_E_/),
      rule: expect.any(String),
      cluster: "matrix-a",
      server: "srv3",
      step: expect.stringContaining("matrix-a/srv3/"),
    });
    expect(lines.find((l) => l.event === "run.state" && l.state === "escalated")?.level).toBe("error");
    const again = await runCli(["resume", t.fleet, "--confirm-finalize", "--log-format", "json"], {
      timeoutMs: 180_000,
    });
    const resumed = jsonLines(again.stderr);
    expect(resumed.length).toBeGreaterThan(0);
    expect(resumed.every((l) => l.command === "resume")).toBe(true);
    const runIds = new Set(resumed.filter((l) => l.event).map((l) => l.runId));
    expect([...runIds]).toEqual([escalation!.runId]);
  }, 300_000);

  it("demo with --json and --log-format json: events and report on stdout, log lines on stderr", async () => {
    const r = await runCli(["demo", "--speed", "6000", "--json", "--log-format", "json"], {
      timeoutMs: 180_000,
    });
    expect(r.code, r.stderr).toBe(0);
    const lines = jsonLines(r.stderr);
    expect(lines.every((l) => l.command === "demo" && l.level !== "debug")).toBe(true);
    const done = lines.filter((l) => l.event === "step.done");
    const out = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(done.length).toBe(out.filter((e) => e.type === "step.done").length);
    expect(done.some((l) => l.cluster === "dma-nyc")).toBe(true);
    expect(out.at(-1)).toMatchObject({ ok: true });
  }, 240_000);

  it("--log-level filters: warn logs no step's progress, silent writes nothing; text is the default", async () => {
    const t = await labOf("matrix-seed", 600);
    lab = t.lab;
    const warn = await runCli(
      ["apply", t.fleet, "--to", "3.5.1", "--yes", "--confirm-finalize", "--log-format", "json"].concat([
        "--log-level",
        "warn",
      ]),
      { timeoutMs: 180_000 },
    );
    expect(warn.code, warn.stderr).toBe(0);
    const lines = jsonLines(warn.stderr);
    expect(lines.filter((l) => !["warn", "error"].includes(l.level))).toEqual([]);
    // the run is done: applying again plans nothing and, silent, says nothing on stderr
    const silent = await runCli(
      ["apply", t.fleet, "--to", "3.5.1", "--yes", "--log-format", "json", "--log-level", "silent"],
      { timeoutMs: 120_000 },
    );
    expect(silent.stderr).toBe("");
    const text = await runCli(["apply", t.fleet, "--to", "3.5.1", "--yes"], { timeoutMs: 120_000 });
    expect(text.stderr).not.toMatch(/^\{/m);
  }, 300_000);

  it("an error is one line at level error with its code, the password of a store URL hidden; bad values exit 2", async () => {
    const r = await runCli(
      [
        "apply",
        "examples/matrix-seed.yaml",
        "--to",
        "3.5.1",
        "--state",
        "postgres://ops:hunter2@db.example/rg",
      ].concat(["--log-format", "json"]),
    );
    expect(r.code).toBe(2);
    const lines = jsonLines(r.stderr);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: "error", code: "ROLLGATE_E_STATE_OPEN", command: "apply" });
    expect(lines[0]!.msg).toContain("postgres://***@db.example/rg");
    expect(r.stderr + r.stdout).not.toContain("hunter2");

    const bad = await runCli(["demo", "--log-level", "loud"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(
      "Allowed choices are trace, debug, info, warn, error, silent. [ROLLGATE_E_USAGE]",
    );
    const badFormat = await runCli(["serve", "--log-format", "xml"]);
    expect(badFormat.code).toBe(2);
    expect(badFormat.stderr).toContain("Allowed choices are text, json. [ROLLGATE_E_USAGE]");
  });

  it("a fleet file's errors: a summary and one error line per diagnostic, with code, file, line, column, field", async () => {
    const dir = tempDir();
    const file = join(dir, "bad.yaml");
    writeFileSync(
      file,
      "apiVersion: rollgate/v1\nfleet: x\nclusters:\n  - name: a\n    pack: generic\n    version: nope\n    servers:\n      - { name: s1, address: 10.0.0.1 }\n",
    );
    for (const level of ["info", "warn"]) {
      const r = await runCli([
        "apply",
        file,
        "--to",
        "3.5.1",
        "--yes",
        "--log-format",
        "json",
        "--log-level",
        level,
      ]);
      expect(r.code, r.stderr).toBe(2);
      const lines = jsonLines(r.stderr);
      expect(lines).toHaveLength(2);
      expect(lines[0]).toMatchObject({ level: "error", code: "ROLLGATE_E_FLEET_VERSION" });
      expect(lines[0]!.msg).toContain("1 error in the fleet file");
      expect(lines[1]).toMatchObject({
        level: "error",
        code: "ROLLGATE_E_FLEET_VERSION",
        file,
        line: 6,
        column: 14,
        field: "clusters[0].version",
      });
    }
  });

  it("serve logs as JSON lines; a token made by `rollgate token create` and used against it never appears", async () => {
    const dir = tempDir("rollgate-logs-serve-");
    const state = join(dir, "state.db");
    const child = spawn(
      process.execPath,
      [
        BIN,
        "serve",
        "--state",
        state,
        "--port",
        "0",
        "--json",
        "--log-format",
        "json",
        "--log-level",
        "trace",
      ],
      { cwd: REPO, env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stderr = "";
    let stdout = "";
    child.stderr.on("data", (d) => (stderr += d));
    child.stdout.on("data", (d) => (stdout += d));
    const exited = new Promise<number>((resolve) => child.on("close", (c) => resolve(c ?? -1)));
    try {
      const { url } = await waitFor(
        () => (stdout.includes("\n") ? (JSON.parse(stdout) as { url: string }) : undefined),
        {
          what: "serve's url",
        },
      );
      const created = await runCli(["token", "create", "--role", "viewer", "--state", state]);
      expect(created.code, created.stderr).toBe(0);
      const token = created.stdout.trim().split("\n").at(-1)!;
      expect(token).toMatch(/^rg_[0-9a-f]{8}_/);
      const res = await fetch(`${url}/api/runs`, { headers: { authorization: `Bearer ${token}` } });
      expect(res.status).toBe(200);
      child.kill("SIGTERM");
      expect(await exited).toBe(0);
      const lines = jsonLines(stderr);
      expect(lines.map((l) => l.msg)).toEqual([expect.stringMatching(/^serving /), "server stopped"]);
      expect(lines.every((l) => l.level === "info" && l.command === "serve")).toBe(true);
      expect(stderr).not.toContain(token.split("_").slice(2).join("_")); // the secret, underscores and all
    } finally {
      child.kill("SIGKILL");
    }
  });
});

describe("what a log line may carry", () => {
  it("hides URL credentials, rollgate tokens (not their id), token= in links and bearer values", () => {
    const token = "rg_0123abcd_Zm9vYmFyYmF6cXV4LWFuZC1tb3JlXw";
    expect(scrubSecrets("postgres://ops:s3cr%40t@db:5432/rg and http://u:p@h/x")).toBe(
      "postgres://***@db:5432/rg and http://***@h/x",
    );
    expect(scrubSecrets("postgres://ops:p@ss@db/rg")).toBe("postgres://***@db/rg");
    expect(scrubSecrets(`token ${token} made`)).toBe("token rg_0123abcd_[redacted] made");
    expect(scrubSecrets("http://127.0.0.1:7450/?run=r1#token=abc.def")).toBe(
      "http://127.0.0.1:7450/?run=r1#token=[redacted]",
    );
    expect(scrubSecrets("authorization: Bearer abc123")).toBe("authorization: Bearer [redacted]");
    expect(scrubSecrets("matrix-a/srv3/install: done in 2s")).toBe("matrix-a/srv3/install: done in 2s");
  });
});
