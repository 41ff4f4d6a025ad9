import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Lab } from "../../src/lab/index.ts";
import { defaultStatePath } from "../../src/run/locate.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";
import { runCli } from "../helpers/cli.ts";
import { labOf, startEngine } from "../helpers/engine.ts";
import { waitFor, e2eTimeouts } from "../helpers/wait.ts";

e2eTimeouts(120_000);

let lab: Lab | undefined;
afterEach(async () => {
  await lab?.stop();
  lab = undefined;
});

describe("rollgate apply on a lab matrix (real CLI, real lab, real SQLite)", () => {
  it("upgrades srv3, srv2, srv1 in order, each once, and the lab sees no rule broken", async () => {
    const t = await labOf("matrix-seed", 1200);
    lab = t.lab;
    const r = await runCli(["apply", t.fleet, "--to", "3.5.1", "--yes", "--confirm-finalize", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const events = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const installs = events
      .filter((e) => e.type === "step.intent" && e.action === "install")
      .map((e) => e.server);
    expect(installs).toEqual(["srv3", "srv2", "srv1"]);
    expect(events.at(-1)).toMatchObject({ ok: true, state: "completed" });
    const status = t.lab.status();
    expect(status.violations).toEqual([]);
    expect(status.installs).toEqual({ srv1: 1, srv2: 1, srv3: 1 });
    expect(status.servers.every((s) => s.release === "3.5.1" && s.state === "running")).toBe(true);
    // status reads the state file beside the fleet
    const st = await runCli(["status", t.fleet, "--json"]);
    expect(JSON.parse(st.stdout)).toMatchObject({
      run: { state: "completed" },
      progress: { done: 18, total: 18 },
    });
  });

  it("halts before a point of no return without --confirm-finalize (G4), then resumes with it", async () => {
    const t = await labOf("matrix-seed", 1200);
    lab = t.lab;
    const first = await runCli(["apply", t.fleet, "--to", "3.5.1", "--yes"]);
    expect(first.code).toBe(1);
    expect(first.stderr).toContain("ROLLGATE_E_CONFIRM_REQUIRED");
    expect(first.stderr).toContain("matrix-a/srv1/stop");
    // srv3 and srv2 are done, srv1 untouched: the matrix is mixed but rule-abiding
    expect(t.lab.status().servers.find((s) => s.name === "srv1")).toMatchObject({
      release: "3.5.0",
      state: "running",
    });
    const again = await runCli(["resume", t.fleet, "--confirm-finalize"]);
    expect(again.code, again.stderr).toBe(0);
    expect(t.lab.status().installs).toEqual({ srv1: 1, srv2: 1, srv3: 1 });
    expect(t.lab.status().violations).toEqual([]);
  });

  it("refuses a second engine on the same fleet, and pause / resume / abort steer the running one", async () => {
    const t = await labOf("matrix-seed", 150);
    lab = t.lab;
    const engine = startEngine(["apply", t.fleet, "--to", "3.5.1", "--yes", "--confirm-finalize", "--json"]);
    await waitFor(() => engine.lines.some((e) => e.type === "step.intent"), { what: "the first step" });
    const second = await runCli(["apply", t.fleet, "--to", "3.5.1", "--yes"]);
    expect(second.code).toBe(2);
    expect(second.stderr).toMatch(/another rollgate engine \(pid \d+/);
    // another state file does not make a second engine welcome: the fleet file is locked too
    const otherState = join(t.dir, "elsewhere", "state.db");
    const third = await runCli(["apply", t.fleet, "--to", "3.5.1", "--yes", "--state", otherState]);
    expect(third.code).toBe(2);
    expect(third.stderr).toMatch(/another rollgate engine \(pid \d+ .*is driving .*ROLLGATE_E_RUN_LOCKED/);
    expect(third.stderr).toMatch(/is driving .*fleet file .*matrix-seed\.lab\.yaml/);
    expect(third.stderr).toMatch(/is driving .*srv1 \(matrix-a\)/);
    expect(existsSync(otherState)).toBe(false);

    expect((await runCli(["pause", t.fleet])).code).toBe(0);
    await waitFor(
      async () => JSON.parse((await runCli(["status", t.fleet, "--json"])).stdout).running.length === 0,
      { what: "running steps to finish", timeoutMs: 30_000 },
    );
    const paused = JSON.parse((await runCli(["status", t.fleet, "--json"])).stdout);
    expect(paused.run.state).toBe("paused");
    const doneWhilePaused = paused.progress.done;

    expect((await runCli(["resume", t.fleet])).code).toBe(0);
    await waitFor(
      async () =>
        JSON.parse((await runCli(["status", t.fleet, "--json"])).stdout).progress.done > doneWhilePaused,
      { what: "progress after resume", timeoutMs: 30_000 },
    );

    // the journal shows no step begun while the run was paused
    const store = new SqliteStore(defaultStatePath(t.fleet));
    const journal = await store.events((await store.listRuns())[0]!.id);
    await store.close();
    const pausedAt = journal.findIndex((e) => e.type === "run.state" && e.state === "paused");
    const resumedAt = journal.findIndex(
      (e, i) => i > pausedAt && e.type === "run.state" && e.state === "running",
    );
    expect(pausedAt).toBeGreaterThan(0);
    expect(resumedAt).toBeGreaterThan(pausedAt);
    expect(journal.slice(pausedAt, resumedAt).filter((e) => e.type === "step.intent")).toEqual([]);

    const aborted = await runCli(["abort", t.fleet]);
    expect(aborted.code, aborted.stderr).toBe(0);
    expect(await engine.exited).toBe(1);
    const end = JSON.parse((await runCli(["status", t.fleet, "--json"])).stdout);
    expect(end.run.state).toBe("aborted");
    expect(end.progress.done).toBeLessThan(end.progress.total);
    expect(t.lab.status().violations).toEqual([]);
  });

  it("running the same apply again continues a paused run (it does not start another, nor hang)", async () => {
    const t = await labOf("matrix-seed", 600);
    lab = t.lab;
    const engine = startEngine(["apply", t.fleet, "--to", "3.5.1", "--yes", "--confirm-finalize", "--json"]);
    await waitFor(() => engine.lines.some((e) => e.type === "step.done"), { what: "a first step done" });
    engine.child.kill("SIGINT"); // Ctrl-C: running steps finish, the run pauses, exit 1
    expect(await engine.exited).toBe(1);
    expect(JSON.parse((await runCli(["status", t.fleet, "--json"])).stdout).run.state).toBe("paused");
    const again = await runCli(["apply", t.fleet, "--to", "3.5.1", "--yes", "--confirm-finalize"], {
      timeoutMs: 60_000,
    });
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain("resuming run");
    expect(t.lab.status().installs).toEqual({ srv1: 1, srv2: 1, srv3: 1 });
  });

  it("bad input exits 2 and writes nothing", async () => {
    const t = await labOf("matrix-seed", 1200);
    lab = t.lab;
    const state = join(dirname(t.fleet), ".rollgate", "state.db");
    const cases: string[][] = [
      ["apply", join(dirname(t.fleet), "missing.yaml"), "--to", "3.5.1", "--yes"],
      ["apply", t.fleet, "--to", "3.4.0", "--yes"],
      ["apply", t.fleet, "--to", "3.5.0", "--yes"],
      ["apply", t.fleet, "--to", "3.5.1", "--strategy", "yolo", "--yes"],
      ["apply", t.fleet, "--to", "not-a-version", "--yes"],
      ["apply", t.fleet, "--yes"],
    ];
    for (const args of cases) {
      const r = await runCli(args);
      expect(r.code, `${args.join(" ")}\n${r.stderr}`).toBe(2);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
    // unreachable servers at start: the lab is stopped
    await t.lab.stop();
    lab = undefined;
    const r = await runCli(["apply", t.fleet, "--to", "3.5.1", "--yes"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("ROLLGATE_E_PREFLIGHT_UNREACHABLE");
    expect(existsSync(state)).toBe(false);
  });
});
