import { createHmac } from "node:crypto";
import { copyFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { Lab } from "../../src/lab/index.ts";
import { REPO, runCli, tempDir } from "../helpers/cli.ts";
import { labOf } from "../helpers/engine.ts";
import { e2eTimeouts, waitFor } from "../helpers/wait.ts";

e2eTimeouts(120_000);

/** A real webhook receiver on 127.0.0.1 that records every request. */
interface Received {
  headers: IncomingMessage["headers"];
  body: string;
}
async function receiver(
  answer: (req: IncomingMessage, res: ServerResponse) => void = (_q, r) => r.end("ok"),
) {
  const got: Received[] = [];
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      got.push({ headers: req.headers, body });
      answer(req, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  servers.push(server);
  return { url, got };
}

let lab: Lab | undefined;
const servers: Server[] = [];
afterEach(async () => {
  await lab?.stop();
  lab = undefined;
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

describe("rollgate apply --notify (real CLI, real lab, a real receiver on 127.0.0.1)", () => {
  it("a URL that is not http(s), or a secret variable not set, is bad input: exit 2, nothing written", async () => {
    const dir = tempDir();
    const fleet = join(dir, "matrix-seed.yaml");
    copyFileSync(join(REPO, "examples", "matrix-seed.yaml"), fleet);
    const bad = await runCli(["apply", fleet, "--to", "3.5.1", "--yes", "--notify", "file:///etc/passwd"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--notify: file: is not allowed, only http: and https:.*ROLLGATE_E_USAGE/s);
    expect(bad.stderr).not.toMatch(/\n\s+at /);
    const noKey = await runCli(
      [
        "apply",
        fleet,
        "--to",
        "3.5.1",
        "--yes",
        "--notify",
        "http://127.0.0.1:9/h",
        "--notify-secret-env",
        "NO_SUCH_VAR_X",
      ],
      { env: {} },
    );
    expect(noKey.code).toBe(2);
    expect(noKey.stderr).toContain("NO_SUCH_VAR_X is not set");
    // credentials in the URL: refused as in a fleet file (fetch would refuse every delivery, and
    // its error quoted the password into the journal), the password never repeated
    const creds = await runCli([
      "apply",
      fleet,
      "--to",
      "3.5.1",
      "--yes",
      "--notify",
      "http://alice:hunter2@127.0.0.1:9/h",
    ]);
    expect(creds.code).toBe(2);
    expect(creds.stderr).toMatch(
      /--notify: the URL http:\/\/127\.0\.0\.1:9\/… has credentials in it.*ROLLGATE_E_USAGE/s,
    );
    expect(creds.stderr + creds.stdout).not.toContain("hunter2");
    expect(existsSync(join(dir, ".rollgate"))).toBe(false);
  });

  it("POSTs G4 awaiting-confirmation, then completion on resume; signed with HMAC when a secret is set", async () => {
    const t = await labOf("matrix-seed", 1200);
    lab = t.lab;
    const hook = await receiver();
    const env = { HOOK_KEY: "s3cret-key" };
    const first = await runCli(
      ["apply", t.fleet, "--to", "3.5.1", "--yes", "--notify", hook.url, "--notify-secret-env", "HOOK_KEY"],
      { env },
    );
    expect(first.code).toBe(1);
    const kinds = () => hook.got.map((r) => JSON.parse(r.body).kind);
    expect(kinds()).toContain("awaiting-confirmation");
    const g4 = JSON.parse(hook.got.find((r) => JSON.parse(r.body).kind === "awaiting-confirmation")!.body);
    expect(g4).toMatchObject({
      version: 1,
      rule: "G4",
      ruleDoc: "docs/rules.md#g4",
      fleet: expect.any(String),
    });
    expect(g4.step).toContain("srv1");
    for (const r of hook.got) {
      const ts = String(r.headers["x-rollgate-timestamp"]);
      const want = createHmac("sha256", "s3cret-key").update(`${ts}.${r.body}`).digest("hex");
      expect(r.headers["x-rollgate-signature"]).toBe(`sha256=${want}`);
      expect(r.headers["x-rollgate-event-id"]).toBe(JSON.parse(r.body).id);
    }
    expect(first.stderr).not.toContain("s3cret-key");
    const again = await runCli([
      "resume",
      t.fleet,
      "--confirm-finalize",
      "--notify",
      hook.url,
      "--notify-format",
      "slack",
    ]);
    expect(again.code, again.stderr).toBe(0);
    // the resumed run notifies what happens from then on, not the journal it replays
    const slack = hook.got.map((r) => JSON.parse(r.body)).filter((b) => "text" in b);
    expect(slack.some((b) => b.text.includes("awaiting-confirmation"))).toBe(false);
    const last = JSON.parse(hook.got.at(-1)!.body);
    expect(Object.keys(last)).toEqual(["text"]);
    expect(last.text).toContain("completed");
  });

  it("an escalation carries the rule id, the manual's words and what to do", async () => {
    const t = await labOf("matrix-seed", 1200);
    lab = t.lab;
    t.lab.fault("srv2", "install-fails");
    const hook = await receiver();
    const r = await runCli([
      "apply",
      t.fleet,
      "--to",
      "3.5.1",
      "--yes",
      "--confirm-finalize",
      "--notify",
      hook.url,
    ]);
    expect(r.code).toBe(1);
    const esc = hook.got.map((x) => JSON.parse(x.body)).find((n) => n.kind === "escalation");
    expect(esc).toMatchObject({ rule: "M9", ruleDoc: "docs/rules.md#m9", server: "srv2" });
    expect(esc.manual).toBeTruthy();
    expect(esc.todo).toContain("rollgate resume");
  });

  it("a receiver answering 500 does not stop the run; it sees the retries; the failure is reported", async () => {
    const t = await labOf("matrix-seed", 1200);
    lab = t.lab;
    const hook = await receiver((_q, res) => {
      res.statusCode = 500;
      res.end("no");
    });
    const r = await runCli([
      "apply",
      t.fleet,
      "--to",
      "3.5.1",
      "--yes",
      "--confirm-finalize",
      "--notify",
      // a path that is the webhook's secret, as a Slack incoming webhook's
      `${hook.url}/T000/B000/PATHSECRET?token=s3cret`,
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toContain("s3cret");
    expect(r.stderr).not.toContain("PATHSECRET");
    // the completion notification: 4 attempts, all refused
    const completed = hook.got.filter((x) => JSON.parse(x.body).kind === "completed");
    expect(completed.length).toBe(4);
    expect(new Set(completed.map((x) => x.headers["x-rollgate-event-id"])).size).toBe(1);
    expect(r.stderr).toMatch(/notification completed .* not delivered after 4 attempt\(s\): HTTP 500/);
    // journaled: `status` shows it (text and --json), the URL without its query, never a secret
    const st = await runCli(["status", t.fleet, "--json"]);
    const undelivered = JSON.parse(st.stdout).undelivered;
    expect(undelivered).toContainEqual(
      expect.objectContaining({
        kind: "completed",
        attempts: 4,
        error: "HTTP 500",
        url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/…$/),
      }),
    );
    const text = await runCli(["status", t.fleet]);
    expect(text.stdout + text.stderr).toMatch(
      /notify +completed .* not delivered after 4 attempt\(s\): HTTP 500/,
    );
    expect(st.stdout + text.stdout).not.toContain("token=s3cret");
    expect(st.stdout + text.stdout).not.toContain("PATHSECRET");
  });

  it("a redirect is not followed (the signed payload goes to no other host); an endless answer is not read", async () => {
    const t = await labOf("matrix-seed", 1200);
    lab = t.lab;
    const elsewhere = await receiver();
    const redirecting = await receiver((_q, res) => {
      res.writeHead(307, { location: `${elsewhere.url}/stolen` });
      res.end();
    });
    // 200, then a body without end: rollgate reads the status, not the body
    let bodyClosedAfterMs = Number.POSITIVE_INFINITY;
    const endless = await receiver((_q, res) => {
      const opened = Date.now();
      res.writeHead(200);
      const chunk = Buffer.alloc(64 * 1024, 97);
      const pump = () => {
        while (!res.destroyed && res.write(chunk)) {}
      };
      res.on("drain", pump);
      res.on("close", () => (bodyClosedAfterMs = Date.now() - opened));
      pump();
    });
    const r = await runCli(
      [
        "apply",
        t.fleet,
        "--to",
        "3.5.1",
        "--yes",
        "--confirm-finalize",
        "--notify",
        redirecting.url,
        "--notify",
        endless.url,
        "--notify-secret-env",
        "HOOK_KEY",
      ],
      { env: { HOOK_KEY: "s3cret-key" } },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(redirecting.got.length).toBe(4);
    expect(elsewhere.got).toEqual([]);
    expect(r.stderr).toMatch(/not delivered after 4 attempt\(s\): HTTP 307 \(a redirect, not followed\)/);
    // delivered once (a 2xx), the connection closed at once, not read until the 5-second time-out
    expect(endless.got.map((x) => JSON.parse(x.body).kind)).toEqual(["completed"]);
    await waitFor(() => Number.isFinite(bodyClosedAfterMs), { what: "the endless answer closed" });
    expect(bodyClosedAfterMs).toBeLessThan(3000);
  });

  it("a receiver that never answers does not hold the run past its end-of-run grace", async () => {
    const t = await labOf("matrix-seed", 1200);
    lab = t.lab;
    const hook = await receiver(() => {}); // never answers
    const started = Date.now();
    const r = await runCli(
      ["apply", t.fleet, "--to", "3.5.1", "--yes", "--confirm-finalize", "--notify", hook.url],
      {
        timeoutMs: 90_000,
      },
    );
    expect(r.code, r.stderr).toBe(0);
    await waitFor(() => hook.got.length >= 1, { what: "the receiver saw a request" });
    expect(r.stderr).toMatch(/not delivered/);
    expect(Date.now() - started).toBeLessThan(60_000);
  });
});
