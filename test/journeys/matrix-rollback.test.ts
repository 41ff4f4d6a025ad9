import { afterEach, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.ts";
import { startEngine } from "../helpers/engine.ts";
import { labEntries } from "../helpers/journey.ts";
import { e2eTimeouts, waitFor } from "../helpers/wait.ts";
import { applyTo, installs, rehearse, releases, stopLabs } from "./again-helpers.ts";

e2eTimeouts(600_000);

/**
 * Going back before the point of no return (issue 12, item 2): an operator aborts a rolling
 * Matrix upgrade once srv3 and srv2 run 3.5.1, brings the fleet file up to date, and asks for the
 * old release back. `rollgate rollback` plans it (srv2 first, then srv3: lowest address first, so
 * that the 3.5.1 servers stay a top segment, M3) and, with --yes, performs it. What the lab saw
 * decides. Past the point of no return (every server on 3.5.1) it is refused, saying why (M4).
 */
afterEach(stopLabs);

const slowSteps = (t: string) =>
  t.replace("estimates: { install: 15m }", "estimates: { install: 10m, stop: 10m }");

describe("a matrix rolled back before its point of no return", () => {
  it("aborted with srv3 and srv2 on 3.5.1: fleet sync, rollgate rollback shows the plan, --yes performs it; srv2 then srv3 go back to 3.5.0, every server running, no rule broken", async () => {
    const r = await rehearse("matrix-seed", 300, slowSteps);
    const engine = startEngine(["apply", r.fleet, "--to", "3.5.1", "--yes", "--confirm-finalize", "--json"]);
    await waitFor(() => installs(r.lab).includes("srv2 3.5.1"), {
      timeoutMs: 240_000,
      what: "srv2's install",
    });
    const abort = await runCli(["abort", r.fleet, "--return-to-service", "--json"], { timeoutMs: 240_000 });
    expect(abort.code, abort.stderr).toBe(0);
    expect(await engine.exited).toBe(1);
    expect(releases(r.lab)).toEqual({ srv1: "3.5.0", srv2: "3.5.1", srv3: "3.5.1" });

    // the rollback is planned from the file: before it is synced there is nothing to take back
    const stale = await runCli(["rollback", r.fleet]);
    expect(stale.code).toBe(2);
    expect(stale.stderr).toContain("ROLLGATE_E_ROLLBACK_NOTHING");
    expect(stale.stderr).toContain("fleet sync");
    const sync = await runCli(["fleet", "sync", r.fleet, "--write"], { timeoutMs: 60_000 });
    expect(sync.code, sync.stderr).toBe(0);

    const shown = await runCli(["rollback", r.fleet, "--cluster", "matrix-a"]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain("roll back matrix-a from 3.5.1 to 3.5.0");
    expect(shown.stdout).toContain("--yes");
    const plan = JSON.parse((await runCli(["rollback", r.fleet, "--json"])).stdout);
    expect(plan.verification.ok).toBe(true);
    expect(
      plan.steps
        .filter((s: { action: string }) => s.action === "install")
        .map((s: { server: string }) => s.server),
    ).toEqual(["srv2", "srv3"]);
    expect(plan.steps.some((s: { pointOfNoReturn: boolean }) => s.pointOfNoReturn)).toBe(false);
    expect(installs(r.lab)).toEqual(["srv3 3.5.1", "srv2 3.5.1"]); // showing the plan did nothing

    const run = await runCli(["rollback", r.fleet, "--cluster", "matrix-a", "--yes", "--json"], {
      timeoutMs: 480_000,
    });
    expect(run.code, run.stderr).toBe(0);
    const status = r.lab.status();
    expect(status.violations).toEqual([]);
    expect(releases(r.lab)).toEqual({ srv1: "3.5.0", srv2: "3.5.0", srv3: "3.5.0" });
    expect(installs(r.lab)).toEqual(["srv3 3.5.1", "srv2 3.5.1", "srv2 3.5.0", "srv3 3.5.0"]);
    for (const s of r.lab.world.clusters.get("matrix-a")!.servers)
      expect(s, s.name).toMatchObject({ software: "running", isolated: false });
    const report = JSON.parse(run.stdout.trim().split("\n").at(-1)!);
    expect(report).toMatchObject({ ok: true, state: "completed" });
  }, 900_000);

  it("srv1, the last old-release server, stopped by hand while the rollback runs: the engine does not start srv2 on 3.5.0 (M4), it escalates; the lab saw no rule broken", async () => {
    // the matrix as an aborted upgrade leaves it, from the start: srv3 and srv2 on 3.5.1, srv1 on
    // 3.5.0. Installs slower than a stop, so that srv1's stop by hand ends while srv2 installs
    // 3.5.0; a floor the stop by hand keeps (33%), so that what the lab judges is rollgate's only
    const r = await rehearse("matrix-seed", 150, (t) =>
      t
        .replace("estimates: { install: 15m }", "estimates: { install: 30m, stop: 10m }")
        .replace("capacityFloor: 0.6", "capacityFloor: 0.3")
        .replace("      - name: srv2\n", "      - name: srv2\n        version: 3.5.1\n")
        .replace("      - name: srv3\n", "      - name: srv3\n        version: 3.5.1\n"),
    );
    expect(releases(r.lab)).toEqual({ srv1: "3.5.0", srv2: "3.5.1", srv3: "3.5.1" });

    const seen = r.lab.status().journalSeq;
    const back = startEngine(["rollback", r.fleet, "--cluster", "matrix-a", "--yes", "--json"]);
    await waitFor(() => installs(r.lab).includes("srv2 3.5.0"), {
      timeoutMs: 240_000,
      what: "srv2's install of 3.5.0",
    });
    await r.lab.act("srv1", { action: "stop" });
    const srv = (name: string) => r.lab.world.clusters.get("matrix-a")!.servers.find((s) => s.name === name)!;
    expect(srv("srv1").software).toBe("stopped");
    expect(await back.exited).toBe(1);
    // the escalation names M4 first: srv1's return (M1's and G3's remedy) is what M4 now forbids
    const report = back.lines.at(-1) as { state: string; escalation: { rule: string; detail: string } };
    expect(report.state).toBe("escalated");
    expect(report.escalation.rule, back.stderr()).toBe("M4");
    expect(report.escalation.detail).toMatch(
      /3\.5\.0 after the last old-release server left|cannot return on 3\.5\.0/,
    );
    // what the lab saw: srv2 never started on 3.5.0 (no start since the rollback began), nothing broken
    const starts = labEntries(r.lab).filter(
      (e) => e.seq > seen && e.kind === "action" && e.action === "start" && e.server === "srv2",
    );
    expect(starts).toEqual([]);
    expect(r.lab.status().violations).toEqual([]);
    expect(srv("srv2")).toMatchObject({ release: "3.5.0" });
    expect(srv("srv2").software).not.toBe("running");
  }, 900_000);

  it("past the point of no return (the upgrade completed, the file synced): refused with M4, nothing done", async () => {
    const r = await rehearse("matrix-seed", 1200);
    const up = await applyTo(r.fleet, ["3.5.1"]);
    expect(up.code, up.stderr).toBe(0);
    expect((await runCli(["fleet", "sync", r.fleet, "--write"], { timeoutMs: 60_000 })).code).toBe(0);
    const seen = r.lab.status().journalSeq;
    for (const args of [
      ["rollback", r.fleet, "--cluster", "matrix-a"],
      ["rollback", r.fleet, "--cluster", "matrix-a", "--yes"],
      ["apply", r.fleet, "--rollback", "--cluster", "matrix-a", "--yes"],
    ]) {
      const no = await runCli(args, { timeoutMs: 60_000 });
      expect(no.code, args.join(" ")).toBe(2);
      expect(no.stderr).toContain("ROLLGATE_E_ROLLBACK_PAST_NO_RETURN");
      expect(no.stderr).toContain("M4");
      expect(no.stderr).not.toMatch(/\n\s+at /); // no stack trace
    }
    // abort --rollback of that completed run: it has finished, nothing to abort
    const done = await runCli(["abort", r.fleet, "--rollback"], { timeoutMs: 60_000 });
    expect(done.code).toBe(2);
    expect(done.stderr).toContain("ROLLGATE_E_RUN_FINISHED");
    expect(labEntries(r.lab).filter((e) => e.seq > seen && e.kind === "action")).toEqual([]);
    // bad combinations are usage errors
    for (const args of [
      ["apply", r.fleet, "--rollback", "--to", "3.5.0"],
      ["apply", r.fleet, "--cluster", "matrix-a", "--to", "3.5.1"],
      ["rollback", r.fleet, "--cluster", "nope"],
    ]) {
      const bad = await runCli(args, { timeoutMs: 60_000 });
      expect(bad.code, args.join(" ")).toBe(2);
      expect(bad.stderr).toContain("ROLLGATE_E_USAGE");
    }
  }, 600_000);
});

describe("abort --rollback on a running matrix upgrade", () => {
  it("aborted once srv3 and srv2 run 3.5.1: the run ends, the file is synced, srv2 then srv3 go back to 3.5.0, and the file says so again; no rule broken", async () => {
    const r = await rehearse("matrix-seed", 300, slowSteps);
    const engine = startEngine(["apply", r.fleet, "--to", "3.5.1", "--yes", "--confirm-finalize", "--json"]);
    await waitFor(() => installs(r.lab).includes("srv2 3.5.1"), {
      timeoutMs: 240_000,
      what: "srv2's install",
    });
    const back = await runCli(["abort", r.fleet, "--rollback"], { timeoutMs: 480_000 });
    expect(back.code, back.stderr).toBe(0);
    expect(await engine.exited).toBe(1);
    expect(back.stdout).toContain("brought up to date");
    const status = r.lab.status();
    expect(status.violations).toEqual([]);
    expect(releases(r.lab)).toEqual({ srv1: "3.5.0", srv2: "3.5.0", srv3: "3.5.0" });
    expect(installs(r.lab)).toEqual(["srv3 3.5.1", "srv2 3.5.1", "srv2 3.5.0", "srv3 3.5.0"]);
    const sync = await runCli(["fleet", "sync", r.fleet, "--json"], { timeoutMs: 60_000 });
    expect(JSON.parse(sync.stdout).changes).toEqual([]);
  }, 900_000);

  it("once the point of no return has begun (srv1, the last old-release server, stops): refused before anything is done, and the upgrade goes on", async () => {
    const r = await rehearse("matrix-seed", 300, slowSteps);
    const engine = startEngine(["apply", r.fleet, "--to", "3.5.1", "--yes", "--confirm-finalize", "--json"]);
    await waitFor(
      () => labEntries(r.lab).some((e) => e.kind === "action" && e.action === "stop" && e.server === "srv1"),
      { timeoutMs: 240_000, what: "srv1's stop" },
    );
    const no = await runCli(["abort", r.fleet, "--rollback"], { timeoutMs: 60_000 });
    expect(no.code).toBe(2);
    expect(no.stderr).toContain("ROLLGATE_E_ROLLBACK_PAST_NO_RETURN");
    expect(no.stderr).toContain("M4");
    expect(await engine.exited).toBe(0);
    expect(r.lab.status().violations).toEqual([]);
    expect(releases(r.lab)).toEqual({ srv1: "3.5.1", srv2: "3.5.1", srv3: "3.5.1" });
  }, 900_000);

  it("halted before srv1's stop (its point of no return, not confirmed), srv1 disabled by the run: abort --rollback enables srv1 again (M9, through an old-release server, M7), then takes srv2 and srv3 back to 3.5.0; no rule broken", async () => {
    const r = await rehearse("matrix-seed", 1200);
    const halted = await runCli(["apply", r.fleet, "--to", "3.5.1", "--yes", "--json"], {
      timeoutMs: 240_000,
    });
    expect(halted.code, halted.stderr).toBe(1);
    const srv1 = () =>
      [...r.lab.world.clusters.values()].flatMap((c) => c.servers).find((s) => s.name === "srv1")!;
    expect(srv1().disabled).toBe(true); // the run disabled srv1 and halted before its stop
    const seen = r.lab.status().journalSeq;
    const back = await runCli(["abort", r.fleet, "--rollback"], { timeoutMs: 480_000 });
    expect(back.code, back.stderr).toBe(0);
    expect(back.stdout).toContain("enabled again");
    const acted = labEntries(r.lab).filter((e) => e.seq > seen && e.kind === "action");
    // the first thing the lab saw: srv1 enabled, sent to a server on the old release (M7: srv1 itself)
    expect(acted[0]).toMatchObject({ action: "enable", server: "srv1" });
    expect(acted.some((e) => e.action === "stop" && e.server === "srv1")).toBe(false);
    expect(installs(r.lab)).toEqual(["srv3 3.5.1", "srv2 3.5.1", "srv2 3.5.0", "srv3 3.5.0"]);
    expect(releases(r.lab)).toEqual({ srv1: "3.5.0", srv2: "3.5.0", srv3: "3.5.0" });
    expect(srv1().disabled).toBe(false);
    expect(r.lab.status().violations).toEqual([]);
    // the upgrade run's return is not asked again once the rollback run has run after it
    const first = JSON.parse(halted.stdout.trim().split("\n")[0]!).runId as string;
    const seenNow = r.lab.status().journalSeq;
    const stale = await runCli(["abort", r.fleet, "--return-to-service", "--run", first], {
      timeoutMs: 60_000,
    });
    expect(stale.code).toBe(2);
    expect(stale.stderr).toContain("ROLLGATE_E_RUN_STATE");
    expect(stale.stderr).toContain(`started after run ${first}`);
    expect(labEntries(r.lab).filter((e) => e.seq > seenNow && e.kind === "action")).toEqual([]);
  }, 600_000);
});
