import { dirname, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type Lab, startLab } from "../../src/lab/index.ts";
import { runCli } from "../helpers/cli.ts";
import { labOf } from "../helpers/engine.ts";
import { waitFor, e2eTimeouts } from "../helpers/wait.ts";

e2eTimeouts(60_000);

/**
 * The fleet changes under a halted run; the engine observes before it acts (G5) and escalates
 * where the world disagrees with its journal, instead of sending what the journal's picture
 * would have it send. Asserted on what the labs received.
 */
const labs: Lab[] = [];
afterEach(async () => {
  for (const l of labs.splice(0)) await l.stop();
});

function entries(l: Lab, kinds: string[], after = 0) {
  return l.world.journal.entries(after, Number.MAX_SAFE_INTEGER).filter((e) => kinds.includes(e.kind));
}
const lastSeq = (l: Lab) => l.world.journal.entries(0, Number.MAX_SAFE_INTEGER).at(-1)?.seq ?? 0;

function report(stdout: string): Record<string, unknown> {
  return JSON.parse(stdout.trim().split("\n").at(-1)!) as Record<string, unknown>;
}

describe("resume observes the fleet before it acts", () => {
  it("an operator puts an escalated DMA cluster back into its supercluster: resume escalates (G5), it sends no install the lab would refuse (D4)", async () => {
    const t = await labOf("dma-supercluster", 2000);
    labs.push(t.lab);
    t.lab.fault("nyc-1", "install-fails", { once: true });
    const first = await runCli(
      [
        "apply",
        t.fleet,
        "--to",
        "10.1.0",
        "--strategy",
        "incremental",
        "--yes",
        "--confirm-finalize",
        "--json",
      ],
      { timeoutMs: 120_000 },
    );
    expect(first.code, first.stderr).toBe(1);
    expect(report(first.stdout)).toMatchObject({ state: "escalated", escalation: { rule: "D7" } });
    // the operator takes dma-nyc (still on 10.0.1) back into sc-east through dma-phl
    // (once its login is back: after the failed install the cluster settles, D7)
    await waitFor(
      async () => (await t.lab.act("nyc-1", { action: "join-supercluster", joins: "dma-phl" })).body.ok,
      {
        what: "dma-nyc to rejoin sc-east",
        timeoutMs: 60_000,
      },
    );
    expect(t.lab.status().servers.find((s) => s.name === "nyc-1")).toMatchObject({ release: "10.0.1" });
    const mark = lastSeq(t.lab);

    const again = await runCli(["resume", t.fleet, "--confirm-finalize", "--json"], { timeoutMs: 120_000 });
    expect(again.code, again.stderr).toBe(1);
    const r = report(again.stdout);
    expect(r).toMatchObject({ state: "escalated", escalation: { rule: "G5" } });
    expect(String((r.escalation as { detail: string }).detail)).toMatch(
      /nyc-\d sees dma-nyc in supercluster sc-east/,
    );
    // the lab received no action at all after the operator's join, and refused nothing
    expect(entries(t.lab, ["action", "refused"], mark)).toEqual([]);
    expect(t.lab.status().violations).toEqual([]);
  }, 240_000);

  it("the lab restarts under a halted matrix run (every server back on 3.5.0): resume escalates (G5) and acts on nothing", async () => {
    const t = await labOf("matrix-seed", 1200);
    labs.push(t.lab);
    const first = await runCli(["apply", t.fleet, "--to", "3.5.1", "--yes", "--json"], {
      timeoutMs: 120_000,
    });
    expect(first.code, first.stderr).toBe(1);
    expect(report(first.stdout)).toMatchObject({ state: "awaiting-confirmation" });
    expect(t.lab.status().installs).toEqual({ srv1: 0, srv2: 1, srv3: 1 });
    await t.lab.stop();
    labs.pop();
    // the same lab again: a fresh fleet on 3.5.0, the derived file rewritten in place
    const fresh = await startLab(join(t.dir, "matrix-seed.yaml"), { speed: 1200 });
    labs.push(fresh);
    expect(fresh.derivedFleetPath).toBe(t.fleet);
    expect(dirname(fresh.derivedFleetPath)).toBe(dirname(t.fleet));

    const again = await runCli(["resume", t.fleet, "--confirm-finalize", "--json"], { timeoutMs: 120_000 });
    expect(again.code, again.stderr).toBe(1);
    const r = report(again.stdout);
    expect(r).toMatchObject({ state: "escalated", escalation: { rule: "G5" } });
    const detail = String((r.escalation as { detail: string }).detail);
    expect(detail).toContain("srv3 runs 3.5.0, though the journal has 3.5.1 installed on it");
    expect(detail).toContain("srv2 runs 3.5.0");
    expect(entries(fresh, ["action", "refused"])).toEqual([]);
    const status = await runCli(["status", t.fleet, "--json"]);
    expect(JSON.parse(status.stdout)).toMatchObject({ run: { state: "escalated" } });
  }, 240_000);
});
