import { afterEach, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.ts";
import { startEngine } from "../helpers/engine.ts";
import { labEntries } from "../helpers/journey.ts";
import { e2eTimeouts, waitFor } from "../helpers/wait.ts";
import { applyTo, installs, rehearse, releases, stopLabs } from "./again-helpers.ts";

e2eTimeouts(90_000);

/**
 * M8's chained path, as an operator meets it: the seed's matrix on 3.4.0 and the target 4.1.0,
 * which no supported rolling upgrade reaches from 3.4.x. One `rollgate apply --to 4.1.0` plans
 * and performs the chain 3.4.0 → 3.6.0 → 4.1.0, two full rolling passes, each in the address
 * order (M2) with its own point of no return (M4, G4). The lab, which refuses an unsupported
 * rolling install by itself (M8), decides whether it was done right.
 */
afterEach(stopLabs);

const from340 = (t: string) => t.replace("version: 3.5.0", "version: 3.4.0");

describe("a matrix upgraded along a chained path (M8)", () => {
  it("rollgate plan shows the two passes; rollgate apply --to 4.1.0 performs both: each server installed 3.6.0 then 4.1.0, in the address order, no rule broken", async () => {
    const r = await rehearse("matrix-seed", 1200, from340);
    const plan = await runCli(["plan", r.fleet, "--to", "4.1.0", "--json"]);
    expect(plan.code, plan.stderr).toBe(0);
    const p = JSON.parse(plan.stdout);
    expect(p.findings.join("\n")).toContain("3.4.0 → 3.6.0 → 4.1.0");
    expect(p.steps.filter((s: { pointOfNoReturn: boolean }) => s.pointOfNoReturn)).toHaveLength(2);
    expect(new Set(p.steps.map((s: { pass?: { to: string } }) => s.pass?.to))).toEqual(
      new Set(["3.6.0", "4.1.0"]),
    );

    const run = await applyTo(r.fleet, ["4.1.0"]);
    expect(run.code, run.stderr).toBe(0);
    const status = r.lab.status();
    expect(status.violations).toEqual([]);
    expect(Object.values(releases(r.lab))).toEqual(["4.1.0", "4.1.0", "4.1.0"]);
    expect(status.installs).toEqual({ srv1: 2, srv2: 2, srv3: 2 });
    expect(installs(r.lab)).toEqual([
      "srv3 3.6.0",
      "srv2 3.6.0",
      "srv1 3.6.0",
      "srv3 4.1.0",
      "srv2 4.1.0",
      "srv1 4.1.0",
    ]);
  }, 600_000);

  it("the engine killed during the second pass: rollgate resume finishes the chain, each server installed exactly twice, no rule broken", async () => {
    const r = await rehearse("matrix-seed", 600, from340);
    const engine = startEngine(["apply", r.fleet, "--to", "4.1.0", "--yes", "--confirm-finalize", "--json"]);
    // the moment: the second pass's first install is under way on srv3
    await waitFor(() => installs(r.lab).includes("srv3 4.1.0"), { timeoutMs: 180_000 });
    engine.child.kill("SIGKILL");
    await engine.exited;

    const again = await runCli(["resume", r.fleet, "--confirm-finalize", "--json"], { timeoutMs: 240_000 });
    expect(again.code, again.stderr).toBe(0);
    const status = r.lab.status();
    expect(status.violations).toEqual([]);
    expect(Object.values(releases(r.lab))).toEqual(["4.1.0", "4.1.0", "4.1.0"]);
    expect(status.installs).toEqual({ srv1: 2, srv2: 2, srv3: 2 });
  }, 600_000);

  it("from a release no chain leaves (3.1.2 → 4.1.0): refused before anything is done, with the supported paths", async () => {
    const r = await rehearse("matrix-seed", 1200, (t) => t.replace("version: 3.5.0", "version: 3.1.2"));
    const seen = r.lab.status().journalSeq;
    const run = await applyTo(r.fleet, ["4.1.0"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("ROLLGATE_E_PLAN_UNSUPPORTED_PATH");
    expect(run.stderr).toContain("direct or as a chain");
    expect(run.stderr).toContain("3.6.0 from 3.4.x");
    expect(labEntries(r.lab).filter((e) => e.seq > seen && e.kind === "action")).toEqual([]);
  }, 600_000);

  it("abort --rollback during the second pass: only that pass's point of no return counts; srv3 and srv2 go back to 3.6.0 (the pass's old release), lowest first, no rule broken", async () => {
    const r = await rehearse("matrix-seed", 300, (t) =>
      from340(t).replace("estimates: { install: 15m }", "estimates: { install: 10m, stop: 10m }"),
    );
    const engine = startEngine(["apply", r.fleet, "--to", "4.1.0", "--yes", "--confirm-finalize", "--json"]);
    await waitFor(() => installs(r.lab).includes("srv2 4.1.0"), { timeoutMs: 300_000, what: "srv2's 4.1.0" });
    const back = await runCli(["abort", r.fleet, "--rollback"], { timeoutMs: 480_000 });
    expect(back.code, back.stderr).toBe(0);
    expect(await engine.exited).toBe(1);
    expect(r.lab.status().violations).toEqual([]);
    expect(releases(r.lab)).toEqual({ srv1: "3.6.0", srv2: "3.6.0", srv3: "3.6.0" });
    expect(installs(r.lab)).toEqual([
      "srv3 3.6.0",
      "srv2 3.6.0",
      "srv1 3.6.0",
      "srv3 4.1.0",
      "srv2 4.1.0",
      "srv2 3.6.0",
      "srv3 3.6.0",
    ]);
  }, 900_000);
});
