import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, REPO, runCli, tempDir } from "../helpers/cli.ts";
import { type PgServer, startPostgres } from "../helpers/postgres.ts";
import { e2eTimeouts, waitFor } from "../helpers/wait.ts";

e2eTimeouts(120_000);

/**
 * A password in a PostgreSQL --state URL (or in ROLLGATE_STATE) appears in no output of any
 * command: not in serve's banner nor its --json line, not in token's confirmation, not in the
 * errors that name the store (no run in it, no such run). A real PostgreSQL (trust authentication:
 * the password is carried and ignored, as a real one would be checked).
 */
let server: PgServer | undefined;
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(() => server?.destroy());

const PW = "S3cr%40tPW9";
const DECODED = "S3cr@tPW9";

describe("a password in the store's URL", () => {
  it("appears in no output of status, engine, resume, token and serve, given by --state or ROLLGATE_STATE", async () => {
    await server!.createDb("rg_pw");
    const url = `postgres://postgres:${PW}@127.0.0.1:${server!.port}/rg_pw`;
    const cwd = tempDir("rollgate-pw-");
    const seen: string[] = [];
    const run = async (args: string[], env: Record<string, string> = {}) => {
      const r = await runCli(args, { cwd, timeoutMs: 60_000, env });
      seen.push(`${r.stdout}${r.stderr}`);
      return r;
    };
    // bad input that names the store: no run in it, no such run, no unfinished run
    expect((await run(["status", "--state", url])).code).not.toBe(0);
    expect((await run(["status", "--json", "--state", url])).code).not.toBe(0);
    expect((await run(["status"], { ROLLGATE_STATE: url })).code).not.toBe(0);
    expect((await run(["engine", "--state", url])).code).not.toBe(0);
    expect((await run(["resume", "--run", "nosuch", "--state", url])).code).not.toBe(0);
    expect((await run(["token", "create", "--role", "viewer", "--run", "nosuch", "--state", url])).code).toBe(
      2,
    );
    // what works, and says where
    expect((await run(["token", "create", "--role", "viewer", "--state", url])).code).toBe(0);
    expect((await run(["token", "list", `--state=${url}`])).code).toBe(0);

    for (const env of [{}, { ROLLGATE_STATE: url }]) {
      const args = [
        BIN,
        "serve",
        "--port",
        "0",
        "--json",
        ...("ROLLGATE_STATE" in env ? [] : ["--state", url]),
      ];
      const child = spawn(process.execPath, args, {
        cwd: REPO,
        env: { ...process.env, NO_COLOR: "1", ...env },
      });
      let out = "";
      child.stdout.on("data", (d: Buffer) => (out += d));
      child.stderr.on("data", (d: Buffer) => (out += d));
      const closed = new Promise((r) => child.on("close", r));
      await waitFor(() => out.includes("Ctrl-C stops"), {
        what: `serve's banner (${out})`,
        timeoutMs: 30_000,
      });
      child.kill("SIGINT");
      await closed;
      seen.push(out);
      expect(out).toContain("postgres://***@127.0.0.1");
    }
    const all = seen.join("\n");
    expect(all).toContain("***@127.0.0.1");
    expect(all).not.toContain(PW);
    expect(all).not.toContain(DECODED);
    expect(all).not.toContain("S3cr");
  });
});
