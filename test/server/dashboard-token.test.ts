import { spawn } from "node:child_process";
import { existsSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Lab } from "../../src/lab/index.ts";
import { defaultStatePath } from "../../src/run/locate.ts";
import { openStore } from "../../src/store/open.ts";
import { BIN, REPO, runCli, tempDir } from "../helpers/cli.ts";
import { labOf } from "../helpers/engine.ts";
import { waitFor, e2eTimeouts } from "../helpers/wait.ts";

e2eTimeouts(60_000);

let lab: Lab | undefined;
afterEach(async () => {
  await lab?.stop();
  lab = undefined;
});

describe("the token of apply|demo --dashboard never reaches a log", () => {
  it("goes to --dashboard-token-file (mode 0600), works while the run goes, and is revoked at the end", async () => {
    const t = await labOf("matrix-seed", 300);
    lab = t.lab;
    const file = join(tempDir("rollgate-dash-token-"), "dashboard.url");
    const child = spawn(
      process.execPath,
      [BIN, "apply", t.fleet, "--to", "3.5.1", "--yes", "--confirm-finalize", "--dashboard", "0"].concat([
        "--dashboard-token-file",
        file,
      ]),
      { cwd: REPO, env: { ...process.env, NO_COLOR: "1" }, stdio: ["ignore", "pipe", "pipe"] },
    );
    let stderr = "";
    let stdout = "";
    child.stderr.on("data", (d) => (stderr += d));
    child.stdout.on("data", (d) => (stdout += d));
    const exited = new Promise<number>((resolve) => child.on("close", (c) => resolve(c ?? -1)));
    try {
      const link: string = await waitFor(() => (existsSync(file) ? readFileSync(file, "utf8").trim() : ""), {
        timeoutMs: 60_000,
        what: "the token file",
      });
      expect(statSync(file).mode & 0o777).toBe(0o600);
      // the page opens on this run (a state file may hold other fleets' runs), the token in the fragment
      const m = /^(http:\/\/127\.0\.0\.1:\d+)\/\?run=([\w-]+)#token=(rg_([0-9a-f]{8})_\S+)$/.exec(link);
      expect(m, link).not.toBeNull();
      const [, url, runId, token, id] = m!;
      const runs = await fetch(`${url}/api/runs`, { headers: { authorization: `Bearer ${token}` } });
      const listed = (await runs.json()) as { runs: { id: string; fleet: string }[] };
      expect(listed.runs.find((r) => r.id === runId)).toBeDefined();
      const who = await fetch(`${url}/api/whoami`, { headers: { authorization: `Bearer ${token}` } });
      expect(who.status).toBe(200);
      expect(await who.json()).toEqual({ token: { id, role: "operator", run: runId } }); // scoped to its run
      expect(await exited).toBe(0);
      // neither stream carries the token; stderr says where it is
      expect(stderr).not.toContain(token!.split("_").slice(2).join("_"));
      expect(stdout).not.toContain(token!.split("_").slice(2).join("_"));
      expect(stderr).not.toContain("#token=");
      expect(stderr).toContain(`the link with its token is in ${file}, mode 0600`);
      expect(existsSync(file)).toBe(false);
      // revoked when the command ended, and it would have expired within 12 hours anyway
      const store = openStore(defaultStatePath(t.fleet), { readonly: true });
      const stored = (await store.tokens()).find((x) => x.id === id)!;
      await store.close();
      expect(stored.revokedAt).toEqual(expect.any(String));
      expect(Date.parse(stored.expiresAt!) - Date.parse(stored.createdAt)).toBe(12 * 3600 * 1000);
    } finally {
      child.kill("SIGKILL");
    }
  }, 180_000);

  it("without a terminal and without a file, the link is printed without its token", async () => {
    const r = await runCli(["demo", "--dashboard", "0", "--speed", "6000"], { timeoutMs: 180_000 });
    expect(r.code, r.stderr).toBe(0);
    const line = r.stderr.split("\n").find((l) => l.startsWith("dashboard: "));
    expect(line).toMatch(/^dashboard: http:\/\/127\.0\.0\.1:\d+\/\?run=[\w-]+ \(its token is not printed/);
    expect(line).toContain("--dashboard-token-file PATH");
    expect(line).toContain("rollgate token create --role viewer --ttl 8h --state ");
    expect(r.stderr + r.stdout).not.toMatch(/rg_[0-9a-f]{8}_/);
    expect(r.stderr).not.toContain("#token=");
  }, 200_000);

  it("refuses a --dashboard-token-file that exists (a file, an empty one, a symlink): exit 2, nothing started, the file kept", async () => {
    const dir = tempDir();
    const keep = join(dir, "keep.txt");
    writeFileSync(keep, "precious\n");
    const empty = join(dir, "empty.txt");
    writeFileSync(empty, "");
    const link = join(dir, "link.txt");
    symlinkSync(join(dir, "nowhere"), link);
    for (const path of [keep, empty, link]) {
      const r = await runCli(["demo", "--speed", "6000", "--dashboard", "0", "--dashboard-token-file", path]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(
        /--dashboard-token-file .*: it exists; .*name a path that does not exist.*ROLLGATE_E_USAGE/,
      );
      expect(r.stderr).not.toContain("dashboard: ");
      expect(r.stdout).toBe("");
    }
    expect(readFileSync(keep, "utf8")).toBe("precious\n");
    expect(existsSync(empty)).toBe(true);
    const a = await runCli([
      "apply",
      "examples/mixed-fleet.yaml",
      "--to",
      "3.5.1",
      "--yes",
      "--dashboard",
      "0",
      "--dashboard-token-file",
      keep,
    ]);
    expect(a.code, a.stderr).toBe(2);
    expect(a.stderr).toMatch(/it exists/);
    expect(readFileSync(keep, "utf8")).toBe("precious\n");
  });
});
