import { spawn } from "node:child_process";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Lab } from "../../src/lab/index.ts";
import { openStore } from "../../src/store/open.ts";
import { BIN, REPO, runCli } from "../helpers/cli.ts";
import { labOf, startEngine } from "../helpers/engine.ts";
import { type PgServer, startPostgres } from "../helpers/postgres.ts";
import { e2eTimeouts, waitFor } from "../helpers/wait.ts";

e2eTimeouts(240_000);

/**
 * The real CLI with its state in a real PostgreSQL (test/helpers/postgres.ts: a server of the
 * test's own on 127.0.0.1): `apply --state postgres://…` drives a lab run to the end, `status`
 * from another process reads it, ROLLGATE_STATE stands for --state, and a database restarted in
 * the middle of a run loses nothing: the engine waits for it, then goes on.
 */
const SPEED = 6000;
let server: PgServer | undefined;
let lab: Lab | undefined;
let dbs = 0;
beforeAll(async () => {
  server = await startPostgres();
});
afterAll(() => server?.destroy());
afterEach(async () => {
  await lab?.stop();
  lab = undefined;
});

describe("rollgate with --state postgres:// (real CLI, real lab, real PostgreSQL)", () => {
  it("apply completes; status from another process, and with ROLLGATE_STATE, shows the run; the password is never printed", async () => {
    // trust authentication accepts any password: the URL carries one, as an operator's might
    const url = (await server!.createDb(`rg_cli_${++dbs}`)).replace("postgres@", "postgres:pw-never-shown@");
    const t = await labOf("matrix-seed", SPEED);
    lab = t.lab;
    const applied = await runCli(
      ["apply", t.fleet, "--to", "3.5.1", "--yes", "--confirm-finalize", "--json", "--state", url],
      {
        timeoutMs: 120_000,
      },
    );
    expect(applied.code, applied.stderr).toBe(0);
    const viaFlag = await runCli(["status", "--state", url, "--json"]);
    expect(viaFlag.code, viaFlag.stderr).toBe(0);
    expect(viaFlag.stdout).toContain('"completed"');
    const viaEnv = await runCli(["status", "--json"], { env: { ROLLGATE_STATE: url } });
    expect(viaEnv.code, viaEnv.stderr).toBe(0);
    expect(JSON.parse(viaEnv.stdout)).toEqual(JSON.parse(viaFlag.stdout));
    const human = await runCli(["status", "--state", url]);
    expect(human.code, human.stderr).toBe(0);
    for (const r of [applied, viaFlag, viaEnv, human])
      expect(r.stdout + r.stderr).not.toContain("pw-never-shown");
  });

  it("token create / list / revoke keep their tokens in PostgreSQL", async () => {
    const url = await server!.createDb(`rg_cli_${++dbs}`);
    const made = await runCli(["token", "create", "--role", "viewer", "--state", url]);
    expect(made.code, made.stderr).toBe(0);
    const listed = await runCli(["token", "list", "--json"], { env: { ROLLGATE_STATE: url } });
    expect(listed.code, listed.stderr).toBe(0);
    const { tokens } = JSON.parse(listed.stdout) as { tokens: { id: string; role: string }[] };
    expect(tokens).toHaveLength(1);
    expect(tokens[0]).toMatchObject({ role: "viewer" });
    const revoked = await runCli(["token", "revoke", tokens[0]!.id, "--state", url]);
    expect(revoked.code, revoked.stderr).toBe(0);
    const store = openStore(url, { readonly: true });
    try {
      expect((await store.tokens())[0]?.revokedAt).toBeDefined();
    } finally {
      await store.close();
    }
  });

  it("serve reads a PostgreSQL store: a token made there opens the API", async () => {
    const url = await server!.createDb(`rg_cli_${++dbs}`);
    const made = await runCli(["token", "create", "--role", "viewer", "--state", url]);
    expect(made.code, made.stderr).toBe(0);
    const token = made.stdout.trim().split("\n").at(-1)!.trim();
    const child = spawn(process.execPath, [BIN, "serve", "--port", "0", "--json", "--state", url], {
      cwd: REPO,
      stdio: ["ignore", "pipe", "pipe"],
    });
    try {
      let out = "";
      let err = "";
      child.stdout.on("data", (d) => (out += d));
      child.stderr.on("data", (d) => (err += d));
      const { url: api } = await waitFor(
        () => (out.includes("\n") ? (JSON.parse(out.split("\n")[0]!) as { url: string }) : undefined),
        { what: `rollgate serve's url (${err})` },
      );
      const runs = await fetch(new URL("/api/runs", api), { headers: { authorization: `Bearer ${token}` } });
      expect(runs.status).toBe(200);
      const refused = await fetch(new URL("/api/runs", api));
      expect(refused.status).toBe(401);
    } finally {
      child.kill("SIGINT");
      await new Promise((r) => child.once("close", r));
    }
  });

  it("an unreachable database: a stable code naming host:port, no password, no stack trace, nothing done", async () => {
    const t = await labOf("matrix-seed", SPEED);
    lab = t.lab;
    const url = "postgres://ops:hunter2@127.0.0.1:1/rollgate";
    for (const args of [
      ["status", "--state", url],
      ["apply", t.fleet, "--to", "3.5.1", "--yes", "--state", url],
    ]) {
      const r = await runCli(args, { env: { ROLLGATE_STATE_WAIT_SECONDS: "1" } });
      const what = `rollgate ${args.join(" ")}\n${r.stderr}`;
      expect(r.code, what).toBe(1);
      expect(r.stderr, what).toContain("ROLLGATE_E_STATE_UNREACHABLE");
      expect(r.stderr, what).toContain("127.0.0.1:1");
      expect(r.stdout + r.stderr, what).not.toContain("hunter2");
      expect(r.stderr, what).not.toMatch(/\n\s+at /);
    }
    expect(t.lab.status().installs).toEqual(
      Object.fromEntries(t.lab.status().servers.map((s) => [s.name, 0])),
    );
  });

  it("PostgreSQL stopped and restarted mid-run: the run completes, every server installed once, no journal entry lost", async () => {
    const url = await server!.createDb(`rg_cli_${++dbs}`);
    const t = await labOf("matrix-seed", SPEED);
    lab = t.lab;
    // startEngine passes on process.env: the state is named by ROLLGATE_STATE only
    process.env.ROLLGATE_STATE = url;
    let run: ReturnType<typeof startEngine>;
    try {
      run = startEngine(["apply", t.fleet, "--to", "3.5.1", "--yes", "--confirm-finalize", "--json"]);
    } finally {
      delete process.env.ROLLGATE_STATE;
    }
    await run.afterLine(8);
    server!.stop();
    await server!.start();
    const code = await run.exited;
    expect(code, run.stderr()).toBe(0);

    const status = t.lab.status();
    expect(status.violations).toEqual([]);
    for (const s of status.servers) {
      expect(status.installs[s.name], `${s.name} installs`).toBe(1);
      expect(s.state).toBe("running");
    }
    // the journal in PostgreSQL: each intent once and followed by its outcome, in order
    const store = openStore(url, { readonly: true });
    try {
      const [rec] = await store.listRuns();
      expect(rec?.state).toBe("completed");
      const events = await store.events(rec!.id);
      const seqs = events.map((e) => e.seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
      const intents = events.filter((e) => e.type === "step.intent").map((e) => (e as { step: string }).step);
      const done = events.filter((e) => e.type === "step.done").map((e) => (e as { step: string }).step);
      expect(new Set(intents).size).toBe(intents.length);
      expect(new Set(done).size).toBe(done.length);
      // every driver call whose intent was written has its outcome (verifications only observe: no intent)
      for (const step of intents) expect(done, step).toContain(step);
      expect(done.length).toBe((await store.getPlan(rec!.id)).steps.length);
      const installs = events.filter(
        (e) => e.type === "step.intent" && (e as { action: string }).action === "install",
      );
      expect(installs.map((e) => (e as { server: string }).server).sort()).toEqual(
        status.servers.map((s) => s.name).sort(),
      );
    } finally {
      await store.close();
    }
  });
});
