import { afterEach, describe, expect, it } from "vitest";
import type { Lab } from "../../src/lab/index.ts";
import { runCli } from "../helpers/cli.ts";
import { labOf, startEngine } from "../helpers/engine.ts";
import { waitFor, e2eTimeouts } from "../helpers/wait.ts";

e2eTimeouts(60_000);

/**
 * M3, the manual's accident: srv1 (the lowest address) is upgraded by hand before the run, out of
 * order. The old-release servers go isolated. Without --correct-out-of-order the engine escalates
 * with M3; with it, the engine applies the manual's correction: stop srv1, upgrade the others in
 * order, start srv1 last.
 */
let lab: Lab | undefined;
afterEach(async () => {
  await lab?.stop();
  lab = undefined;
});

async function accident(): Promise<{ lab: Lab; fleet: string }> {
  const t = await labOf("matrix-seed", 1200);
  lab = t.lab;
  for (const request of [{ action: "stop" }, { action: "install", release: "3.5.1" }, { action: "start" }]) {
    const r = await t.lab.act("srv1", request);
    expect(r.status, JSON.stringify(r.body)).toBeLessThan(300);
  }
  const before = t.lab.status();
  expect(
    before.servers
      .filter((s) => s.state === "isolated")
      .map((s) => s.name)
      .sort(),
  ).toEqual(["srv2", "srv3"]);
  expect(before.violations.map((v) => v.rule)).toEqual(["M3"]);
  return t;
}

describe("M3: a server upgraded out of order", () => {
  it("escalates with M3 and the manual's words when no correction is configured", async () => {
    const t = await accident();
    const r = await runCli(["apply", t.fleet, "--to", "3.5.1", "--yes", "--confirm-finalize", "--json"]);
    expect(r.code).toBe(1);
    const last = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
    expect(last.escalation).toMatchObject({ rule: "M3", code: "ROLLGATE_E_ESCALATED" });
    expect(last.escalation.detail).toContain("srv1 runs 3.5.1 out of order");
    expect(last.escalation.manual).toContain("stop Matrix Server on the node that was upgraded out of order");
    expect(t.lab.status().installs).toEqual({ srv1: 1, srv2: 0, srv3: 0 });
  });

  it("applies the manual's correction with --correct-out-of-order: srv1 stopped, srv3 and srv2 upgraded in order, srv1 started last", async () => {
    const t = await accident();
    const r = await runCli([
      "apply",
      t.fleet,
      "--to",
      "3.5.1",
      "--yes",
      "--confirm-finalize",
      "--correct-out-of-order",
      "--json",
    ]);
    expect(r.code, r.stderr).toBe(0);
    const events = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    const correction = events.findIndex(
      (e) => e.type === "log" && String(e.message).startsWith("M3 correction on matrix-a: srv1"),
    );
    expect(correction).toBeGreaterThanOrEqual(0);
    const performed = events.filter((e) => e.type === "step.intent").map((e) => `${e.server}:${e.action}`);
    expect(performed.filter((p) => p.endsWith(":install"))).toEqual(["srv3:install", "srv2:install"]);
    expect(performed.at(-1)).toBe("srv1:start");
    const end = t.lab.status();
    expect(end.servers.every((s) => s.release === "3.5.1" && s.state === "running")).toBe(true);
    expect(end.installs).toEqual({ srv1: 1, srv2: 1, srv3: 1 });
    // the accident itself is the only ordering rule the lab saw broken; the manual's correction keeps
    // srv1 out while srv3 and srv2 are upgraded, which takes the seed's matrix below its floor of
    // 60% (G3), and the engine said so before it happened
    expect(end.violations.map((v) => v.rule).filter((r) => r !== "G3")).toEqual(["M3"]);
    expect(events.some((e) => e.type === "alert" && e.rule === "G3")).toBe(true);
  });

  it("resumes a correction interrupted after the offender was stopped (derived from what the servers report)", async () => {
    const t = await accident();
    const args = [
      "apply",
      t.fleet,
      "--to",
      "3.5.1",
      "--yes",
      "--confirm-finalize",
      "--correct-out-of-order",
      "--json",
    ];
    const engine = startEngine(args);
    await waitFor(
      () => engine.lines.some((e) => e.type === "log" && String(e.message).startsWith("M3 correction")),
      {
        what: "the correction",
      },
    );
    engine.child.kill("SIGKILL");
    await engine.exited;
    const again = await runCli(["resume", t.fleet, "--confirm-finalize", "--correct-out-of-order"]);
    expect(again.code, again.stderr).toBe(0);
    const end = t.lab.status();
    expect(end.servers.every((s) => s.release === "3.5.1" && s.state === "running")).toBe(true);
    expect(end.installs).toEqual({ srv1: 1, srv2: 1, srv3: 1 });
  });
});
