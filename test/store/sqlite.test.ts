import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { SqliteStore } from "../../src/store/sqlite.ts";
import type { Plan } from "../../src/plan/types.ts";
import { tempDir } from "../helpers/cli.ts";
import { waitFor, e2eTimeouts } from "../helpers/wait.ts";

e2eTimeouts(60_000);

const plan: Plan = {
  fleet: "f",
  target: "3.5.1",
  targets: { m: "3.5.1" },
  capacityFloor: 0.5,
  strategy: "rolling",
  steps: [
    {
      id: "m/s1/install",
      action: "install",
      cluster: "m",
      server: "s1",
      after: [],
      start: 0,
      end: 900,
      rules: ["M1"],
      pointOfNoReturn: false,
    },
  ],
  estimate: { seconds: 900, lowerBoundSeconds: 900, minCapacity: 0.5 },
  verification: { ok: true, statesChecked: 2, violations: [] },
};

const open: SqliteStore[] = [];
function store(path: string) {
  const s = new SqliteStore(path);
  open.push(s);
  return s;
}
afterEach(async () => {
  while (open.length) await open.pop()!.close();
});

describe("SQLite store (real files)", () => {
  it("creates the file only when opened, with WAL and synchronous FULL", () => {
    const dir = tempDir();
    const path = join(dir, ".rollgate", "state.db");
    expect(existsSync(path)).toBe(false);
    const s = store(path);
    expect(existsSync(path)).toBe(true);
    // the state file under the asynchronous Store: its SQLite connection
    const raw = (s as unknown as { file: { db: { pragma(q: string, o: { simple: boolean }): unknown } } })
      .file.db;
    expect(raw.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(raw.pragma("synchronous", { simple: true })).toBe(2);
  });

  it("keeps runs, plans and an ordered journal across reopen", async () => {
    const path = join(tempDir(), "state.db");
    const a = store(path);
    const run = await a.createRun({ fleet: "f", fleetFile: "/x/f.yaml", target: "3.5.1", plan });
    await a.setState(run.id, "running");
    await a.append(run.id, {
      type: "step.intent",
      step: "m/s1/install",
      action: "install",
      cluster: "m",
      server: "s1",
      attempt: 1,
    });
    await a.append(run.id, { type: "step.done", step: "m/s1/install", observed: false, seconds: 3 });
    await a.close();
    const b = store(path);
    expect(await b.getRun(run.id)).toMatchObject({ state: "running", target: "3.5.1", fleet: "f" });
    expect(await b.getPlan(run.id)).toEqual(plan);
    const events = await b.events(run.id);
    expect(events.map((e) => e.type)).toEqual(["run.created", "run.state", "step.intent", "step.done"]);
    expect(events.map((e) => e.seq)).toEqual([...events.map((e) => e.seq)].sort((x, y) => x - y));
    expect((await b.events(run.id, events[1]!.seq)).map((e) => e.type)).toEqual(["step.intent", "step.done"]);
    expect((await b.findUnfinishedRun("f", "3.5.1"))?.id).toBe(run.id);
    await b.setState(run.id, "completed");
    expect(await b.findUnfinishedRun("f", "3.5.1")).toBeUndefined();
  });

  it("changes a state conditionally, so an operator's pause never overwrites what the engine wrote", async () => {
    const s = store(join(tempDir(), "state.db"));
    const run = await s.createRun({ fleet: "f", fleetFile: "/x", target: "3.5.1", plan });
    await s.setState(run.id, "completed");
    expect(await s.setStateIf(run.id, ["running"], "paused")).toBeUndefined();
    expect((await s.getRun(run.id))!.state).toBe("completed");
    await s.setState(run.id, "running");
    expect(await s.setStateIf(run.id, ["running"], "paused", "by a test")).toMatchObject({
      type: "run.state",
      state: "paused",
    });
    expect((await s.getRun(run.id))!.state).toBe("paused");
  });

  it("records confirmations of points of no return", async () => {
    const s = store(join(tempDir(), "state.db"));
    const run = await s.createRun({ fleet: "f", fleetFile: "/x", target: "3.5.1", plan });
    await s.confirm(run.id, "m/s1/stop", "--confirm-finalize");
    expect((await s.getRun(run.id))!.confirmed).toEqual(["m/s1/stop"]);
  });

  it("lets one engine hold a fleet's lock; a live holder refuses a second; a dead one's lock is taken over", async () => {
    const path = join(tempDir(), "state.db");
    const s = store(path);
    // a real, live other process holds the lock
    const child = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], { stdio: "ignore" });
    await waitFor(() => child.pid);
    await s.acquireEngineLock("f", { pid: child.pid!, host: (await import("node:os")).hostname() });
    await expect(s.acquireEngineLock("f", { pid: process.pid, host: "h" })).rejects.toThrow(
      /another rollgate engine \(pid \d+/,
    );
    child.kill("SIGKILL");
    await waitFor(() => child.exitCode !== null || child.signalCode !== null);
    await s.acquireEngineLock("f", { pid: process.pid, host: "h" });
    await s.releaseEngineLock("f", process.pid);
    await s.acquireEngineLock("f", { pid: process.pid, host: "h" });
  });
});
