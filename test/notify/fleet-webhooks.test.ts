import { createHmac } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Lab, startLab } from "../../src/lab/index.ts";
import { REPO, runCli, tempDir } from "../helpers/cli.ts";
import { type EngineProcess, startEngine } from "../helpers/engine.ts";
import { e2eTimeouts, waitFor } from "../helpers/wait.ts";

/**
 * The fleet file's `notify:` webhooks (docs/notifications.md), against real receivers on
 * 127.0.0.1, the real CLI and one lab for the file: the `events` filter, a signature keyed by
 * `secretEnv`, `--notify` added to the fleet's, and an undelivered notification journaled while
 * the engine still runs (waiting for a confirmation), shown by `rollgate status` from another
 * process.
 */
e2eTimeouts(120_000);

interface Received {
  headers: IncomingMessage["headers"];
  body: string;
}

const servers: Server[] = [];
const engines: EngineProcess[] = [];
async function receiver(
  answer: (req: IncomingMessage, res: ServerResponse) => void = (_q, r) => r.end("ok"),
) {
  const got: Received[] = [];
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      got.push({ headers: req.headers, body });
      answer(req, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, got };
}

const kindOf = (r: Received) => {
  const b = JSON.parse(r.body) as { kind?: string; text?: string };
  return b.kind ?? b.text?.split("\n")[0]?.split(": ").at(-1);
};

const KEY_VAR = "ROLLGATE_TEST_FLEET_HOOK_KEY";
const KEY = "fleet-hook-s3cret";

let lab: Lab;
let fleet: string;
let hooks: Record<"signed" | "slack" | "failing" | "flag", Awaited<ReturnType<typeof receiver>>>;

beforeAll(async () => {
  hooks = {
    signed: await receiver(),
    slack: await receiver(),
    failing: await receiver((_q, res) => {
      res.statusCode = 500;
      res.end("no");
    }),
    flag: await receiver(),
  };
  const dir = tempDir("rollgate-fleet-hooks-");
  const original = join(dir, "matrix-seed.yaml");
  writeFileSync(
    original,
    `${readFileSync(join(REPO, "examples", "matrix-seed.yaml"), "utf8")}
notify:
  - url: ${hooks.signed.url}
    secretEnv: ${KEY_VAR}
    events: [awaiting-confirmation, completed]
  - url: ${hooks.slack.url}?token=query-s3cret
    format: slack
    events: [completed]
  - url: ${hooks.failing.url}
    events: [awaiting-confirmation]
`,
  );
  // the lab's derived fleet file keeps the webhooks: a rehearsal notifies as the upgrade would
  lab = await startLab(original, { speed: 2400 });
  fleet = lab.derivedFleetPath;
  process.env[KEY_VAR] = KEY;
});

afterAll(async () => {
  // an engine a failed assertion left waiting for its confirmation
  for (const e of engines.splice(0)) if (e.child.exitCode === null) e.child.kill("SIGKILL");
  await lab?.stop();
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
  delete process.env[KEY_VAR];
});

describe("a fleet file's notify: webhooks (real CLI, real lab, real receivers on 127.0.0.1)", () => {
  it("bad input: a webhook URL of another scheme (validate), a secretEnv not set (apply): exit 2 at the line, nothing written", async () => {
    const dir = tempDir();
    const bad = join(dir, "f.yaml");
    const text = readFileSync(fleet, "utf8");
    writeFileSync(bad, text.replace(hooks.failing.url, "file:///etc/passwd"));
    const v = await runCli(["validate", bad]);
    expect(v.code).toBe(2);
    const line = text.split("\n").findIndex((l) => l.includes(hooks.failing.url)) + 1;
    expect(v.stderr).toContain(`${bad}:${line}:`);
    expect(v.stderr).toMatch(/notify\[2\]\.url.*file:.*only http: and https:/s);
    expect(v.stderr).toContain("ROLLGATE_E_FLEET_WEBHOOK_URL");

    const unset = join(dir, "g.yaml");
    writeFileSync(unset, text.replace(KEY_VAR, "ROLLGATE_TEST_NO_SUCH_VAR"));
    const a = await runCli(["apply", unset, "--to", "3.5.1", "--yes"]);
    expect(a.code).toBe(2);
    const keyLine = text.split("\n").findIndex((l) => l.includes(KEY_VAR)) + 1;
    expect(a.stderr).toContain(`${unset}:${keyLine}:`);
    expect(a.stderr).toMatch(/notify\[0\]\.secretEnv.*ROLLGATE_TEST_NO_SUCH_VAR is not set/s);
    expect(a.stderr).toContain("ROLLGATE_E_FLEET_SECRET_ENV");
    expect(a.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(join(dir, ".rollgate"))).toBe(false);
  });

  it("each webhook gets its events, signed with its secretEnv; --notify adds one; a failure is in status while the engine still runs", async () => {
    // --dashboard 0: without a terminal, the point of no return (G4) waits for a confirmation
    // through the store, the engine alive meanwhile
    const engine = startEngine([
      "apply",
      fleet,
      "--to",
      "3.5.1",
      "--yes",
      "--json",
      "--dashboard",
      "0",
      "--notify",
      hooks.flag.url,
    ]);
    engines.push(engine);
    await waitFor(() => hooks.failing.got.length >= 4, { what: "the failing receiver's 4 attempts" });
    // journaled as it failed: another process sees it, and the engine has not ended
    const st = await waitFor(
      async () => {
        const r = await runCli(["status", fleet, "--json"]);
        const u = (JSON.parse(r.stdout) as { undelivered?: unknown[] }).undelivered ?? [];
        return u.length > 0 ? { r, u } : undefined;
      },
      { what: "status to show the undelivered notification" },
    );
    expect(engine.child.exitCode).toBeNull();
    expect(st.u).toEqual([
      expect.objectContaining({
        kind: "awaiting-confirmation",
        attempts: 4,
        error: "HTTP 500",
        // the failing webhook by its origin: its path is not shown (it may be its secret)
        url: `${new URL(hooks.failing.url).origin}/…`,
      }),
    ]);
    const text = await runCli(["status", fleet]);
    expect(text.stdout).toMatch(
      /notify +awaiting-confirmation .* not delivered after 4 attempt\(s\): HTTP 500/,
    );

    // confirmed from another terminal: the live engine goes on and completes
    const confirm = await runCli(["resume", fleet, "--confirm-finalize"]);
    expect(confirm.code, confirm.stderr).toBe(0);
    expect(await engine.exited, engine.stderr()).toBe(0);

    // the events filter: each webhook got only its kinds
    expect(hooks.signed.got.map(kindOf)).toEqual(["awaiting-confirmation", "completed"]);
    expect(hooks.slack.got.map(kindOf)).toEqual(["completed"]);
    expect(Object.keys(JSON.parse(hooks.slack.got[0]!.body))).toEqual(["text"]);
    // a rehearsal on the lab's derived fleet says so: the on-call person paged by it can tell
    expect(JSON.parse(hooks.slack.got[0]!.body).text).toMatch(/^rollgate \(lab rehearsal\): run /);
    for (const r of [...hooks.signed.got, ...hooks.flag.got]) expect(JSON.parse(r.body).lab).toBe(true);
    expect(new Set(hooks.failing.got.map(kindOf))).toEqual(new Set(["awaiting-confirmation"]));
    expect(hooks.flag.got.map(kindOf)).toEqual(["awaiting-confirmation", "completed"]);
    // signed with the value of secretEnv, which the receiver verifies; the others unsigned
    for (const r of hooks.signed.got) {
      const ts = String(r.headers["x-rollgate-timestamp"]);
      const want = createHmac("sha256", KEY).update(`${ts}.${r.body}`).digest("hex");
      expect(r.headers["x-rollgate-signature"]).toBe(`sha256=${want}`);
    }
    for (const r of [...hooks.slack.got, ...hooks.flag.got, ...hooks.failing.got])
      expect(r.headers["x-rollgate-signature"]).toBeUndefined();
    // journaled once (not again at the end), no secret anywhere
    const after = await runCli(["status", fleet, "--json"]);
    expect((JSON.parse(after.stdout) as { undelivered: unknown[] }).undelivered).toHaveLength(1);
    const all = engine.stderr() + after.stdout + text.stdout;
    expect(all).not.toContain(KEY);
    expect(all).not.toContain("query-s3cret");
  });
});
