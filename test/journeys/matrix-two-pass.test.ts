import { afterEach, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.ts";
import { startEngine } from "../helpers/engine.ts";
import { labEntries } from "../helpers/journey.ts";
import { e2eTimeouts, waitFor } from "../helpers/wait.ts";
import { applyTo, installs, labNotes, rehearse, releases, stopLabs } from "./again-helpers.ts";

e2eTimeouts(90_000);

/**
 * M11's multi-pass upgrade, as an operator meets it: examples/matrix-two-pass.yaml declares that
 * the matrix's upgrade is a release change, then a change of mode (classic → extended). One
 * `rollgate apply --to 3.5.1` performs both complete rolling passes, each in the address order
 * (M2) with its own point of no return (M4, G4). The lab, which refuses a mode change in a
 * matrix that runs two releases and a release change in one that runs two modes (M11), and
 * isolates old-mode servers above a new-mode one (M3), decides whether it was done right.
 */
afterEach(stopLabs);

const modeSets = (lab: Parameters<typeof installs>[0]) => labNotes(lab, /: setting mode (\S+)$/);
const modes = (lab: Parameters<typeof installs>[0]) =>
  Object.fromEntries([...lab.world.servers.values()].map((s) => [s.name, s.mode]));

describe("a matrix upgraded in two declared passes (M11)", () => {
  it("rollgate plan shows the two passes; rollgate apply performs both: each server installed once, then its mode set once, in the address order, no rule broken", async () => {
    const r = await rehearse("matrix-two-pass", 1200);
    const plan = await runCli(["plan", r.fleet, "--to", "3.5.1", "--json"]);
    expect(plan.code, plan.stderr).toBe(0);
    const p = JSON.parse(plan.stdout);
    expect(p.findings.join("\n")).toContain("(M11)");
    expect(p.steps.filter((s: { pointOfNoReturn: boolean }) => s.pointOfNoReturn)).toHaveLength(2);
    expect(
      p.steps
        .filter((s: { action: string }) => s.action === "set-mode")
        .map((s: { server: string; mode: string }) => `${s.server} ${s.mode}`),
    ).toEqual(["srv3 extended", "srv2 extended", "srv1 extended"]);

    const run = await applyTo(r.fleet, ["3.5.1"]);
    expect(run.code, run.stderr).toBe(0);
    const status = r.lab.status();
    expect(status.violations).toEqual([]);
    expect(releases(r.lab)).toEqual({ srv1: "3.5.1", srv2: "3.5.1", srv3: "3.5.1" });
    expect(modes(r.lab)).toEqual({ srv1: "extended", srv2: "extended", srv3: "extended" });
    expect(installs(r.lab)).toEqual(["srv3 3.5.1", "srv2 3.5.1", "srv1 3.5.1"]);
    expect(modeSets(r.lab)).toEqual(["srv3 extended", "srv2 extended", "srv1 extended"]);
    // the second pass began only once the first was over: every install before the first mode change
    const entries = labEntries(r.lab).filter((e) => e.kind === "state");
    const lastInstall = entries.findLastIndex((e) => /: installed /.test(e.detail));
    const firstMode = entries.findIndex((e) => /: setting mode /.test(e.detail));
    expect(lastInstall).toBeLessThan(firstMode);

    // the fleet file brought up to date: the release and the mode, then nothing left to do
    const sync = await runCli(["fleet", "sync", r.fleet, "--write"]);
    expect(sync.code, sync.stderr).toBe(0);
    expect(sync.stdout).toContain("mode classic → extended");
    const again = await runCli(["plan", r.fleet, "--to", "3.5.1"]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("ROLLGATE_E_PLAN_TARGET_NOT_NEWER");
  }, 600_000);

  it("the engine killed during the mode pass: rollgate resume finishes it, each server installed once and its mode set once, no rule broken", async () => {
    const r = await rehearse("matrix-two-pass", 600);
    const engine = startEngine(["apply", r.fleet, "--to", "3.5.1", "--yes", "--confirm-finalize", "--json"]);
    // the moment: srv2's mode change is under way
    await waitFor(() => modeSets(r.lab).includes("srv2 extended"), {
      timeoutMs: 240_000,
      what: "srv2's mode change",
    });
    engine.child.kill("SIGKILL");
    await engine.exited;

    const again = await runCli(["resume", r.fleet, "--confirm-finalize", "--json"], { timeoutMs: 240_000 });
    expect(again.code, again.stderr).toBe(0);
    expect(r.lab.status().violations).toEqual([]);
    expect(modes(r.lab)).toEqual({ srv1: "extended", srv2: "extended", srv3: "extended" });
    expect(r.lab.status().installs).toEqual({ srv1: 1, srv2: 1, srv3: 1 });
    expect(modeSets(r.lab)).toEqual(["srv3 extended", "srv2 extended", "srv1 extended"]);
  }, 600_000);

  it("a server whose mode was changed by hand to one the file does not say: apply refuses before acting (M11), naming it", async () => {
    const r = await rehearse("matrix-two-pass", 1200);
    for (const act of [["stop"], ["set-mode", "turbo"], ["start"]]) {
      const a = await runCli(["lab", "act", r.original, "srv3", ...act]);
      expect(a.code, a.stderr).toBe(0);
    }
    const seen = r.lab.status().journalSeq;
    const run = await applyTo(r.fleet, ["3.5.1"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("ROLLGATE_E_PREFLIGHT_MISMATCH");
    expect(run.stderr).toContain("srv3 runs in mode turbo, the file says classic (M11)");
    // no pass brings classic, extended and turbo to one mode: the file cannot say it (no lines to write)
    expect(run.stderr).toContain("nothing was done");
    expect(labEntries(r.lab).filter((e) => e.seq > seen && e.kind === "action")).toEqual([]);
  }, 600_000);

  it("abort --return-to-service in the mode pass, once srv2's mode is set: srv2 (stopped by the mode pass, not the release pass) starts again, no rule broken; then sync and apply finish the mode pass, each server set once", async () => {
    const r = await rehearse("matrix-two-pass", 600, (t) =>
      t.replace(
        "estimates: { install: 15m, set-mode: 5m }",
        "estimates: { install: 15m, set-mode: 5m, start: 20m }",
      ),
    );
    const engine = startEngine(["apply", r.fleet, "--to", "3.5.1", "--yes", "--confirm-finalize", "--json"]);
    await waitFor(() => labNotes(r.lab, /: mode (\S+) \(was/).includes("srv2 extended"), {
      timeoutMs: 240_000,
      what: "srv2's mode set",
    });
    const abort = await runCli(["abort", r.fleet, "--return-to-service", "--json"], { timeoutMs: 120_000 });
    expect(abort.code, abort.stderr).toBe(0);
    expect(await engine.exited).toBe(1);
    const report = JSON.parse(abort.stdout.trim().split("\n").at(-1)!);
    expect(report.abort.leftOutOfService).toEqual([]);
    await waitFor(() => [...r.lab.world.servers.values()].every((s) => s.software === "running"), {
      what: "every server running",
    });
    expect(r.lab.status().violations).toEqual([]);
    expect(modes(r.lab)).toMatchObject({ srv2: "extended", srv3: "extended", srv1: "classic" });

    // and go on: the file brought up to date, apply again finishes the mode pass, each server once
    const sync = await runCli(["fleet", "sync", r.fleet, "--write"]);
    expect(sync.code, sync.stderr).toBe(0);
    const on = await applyTo(r.fleet, ["3.5.1"]);
    expect(on.code, on.stderr).toBe(0);
    expect(r.lab.status().violations).toEqual([]);
    expect(modes(r.lab)).toEqual({ srv1: "extended", srv2: "extended", srv3: "extended" });
    expect(modeSets(r.lab)).toEqual(["srv3 extended", "srv2 extended", "srv1 extended"]);
    expect(r.lab.status().installs).toEqual({ srv1: 1, srv2: 1, srv3: 1 });
  }, 600_000);
});
