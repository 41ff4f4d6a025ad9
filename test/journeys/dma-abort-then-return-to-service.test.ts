import { afterEach, describe, expect, it } from "vitest";
import type { Lab } from "../../src/lab/index.ts";
import type { RunSummary } from "../../src/run/summary.ts";
import { runCli } from "../helpers/cli.ts";
import { startEngine } from "../helpers/engine.ts";
import { e2eTimeouts, waitFor } from "../helpers/wait.ts";
import { type Rehearsal, rehearse, service, stateChanges, stopLabs } from "./again-helpers.ts";

e2eTimeouts(600_000);

/**
 * An operator aborts an incremental DMA upgrade (D6) and asks for the clusters back:
 * `rollgate abort FLEET --return-to-service`. Running steps finish, nothing new of the plan
 * starts, and every cluster the run busied out that may return (a member of its supercluster, on
 * one release: D6, D3) is returned to service with its territories; one that left its supercluster
 * is named, with its rule. What the lab saw decides.
 */
afterEach(stopLabs);

const ORIGINAL_TERRITORIES = [
  { name: "us-east", primary: "dma-nyc", backup: "dma-bos" },
  { name: "us-mid", primary: "dma-phl", backup: "dma-nyc" },
  { name: "us-north", primary: "dma-bos", backup: "dma-phl" },
];

/** The lab's journal entries of one kind since `from` (its seq). */
function actionsSince(lab: Lab, from: number): { action?: string; cluster?: string; seq: number }[] {
  return lab.world.journal
    .entries(0, Number.MAX_SAFE_INTEGER)
    .filter((e) => e.kind === "action" && e.seq > from);
}

function lastSeq(lab: Lab): number {
  return lab.world.journal.entries(0, Number.MAX_SAFE_INTEGER).at(-1)?.seq ?? 0;
}

/** Starts the upgrade, waits for `seen` in the lab, aborts with --return-to-service; the lab's seq at the abort. */
async function abortReturning(r: Rehearsal, seen: () => boolean, what: string): Promise<number> {
  const engine = startEngine(["apply", r.fleet, "--to", "10.1.0", "--yes", "--confirm-finalize", "--json"]);
  await waitFor(seen, { timeoutMs: 120_000, what });
  const at = lastSeq(r.lab);
  const abort = await runCli(["abort", r.fleet, "--return-to-service"], { timeoutMs: 60_000 });
  expect(abort.code, abort.stderr).toBe(0);
  expect(await engine.exited).toBe(1);
  expect(engine.lines.at(-1)).toMatchObject({ ok: false, state: "aborted" });
  return at;
}

async function statusJson(r: Rehearsal): Promise<RunSummary> {
  const s = await runCli(["status", r.fleet, "--json"], { timeoutMs: 60_000 });
  expect(s.code, s.stderr).toBe(0);
  return JSON.parse(s.stdout);
}

describe("abort an incremental DMA upgrade, then return to service", () => {
  it("an operator aborts with --return-to-service while the first cluster is being busied out: it comes back in service in its own supercluster, territories restored, nothing installed", async () => {
    const r = await rehearse("dma-supercluster", 40);
    const abortedAt = await abortReturning(
      r,
      () => actionsSince(r.lab, 0).some((e) => e.action === "busy-out" && e.cluster === "dma-nyc"),
      "dma-nyc's busy-out to be sent",
    );
    const log = stateChanges(r.lab);
    // the busy-out ran to its end (a running step finishes), then the cluster came back
    expect(log).toContain("dma-nyc busied out and out of service");
    expect(log.indexOf("dma-nyc back in service")).toBeGreaterThan(
      log.indexOf("dma-nyc busied out and out of service"),
    );
    const status = r.lab.status();
    expect(status.violations).toEqual([]);
    for (const [c, s] of Object.entries(service(r.lab)))
      expect(s, c).toEqual({ inService: true, busiedOut: false, supercluster: "sc-east" });
    expect(status.superclusters).toHaveLength(1);
    expect([...status.superclusters[0]!.members].sort()).toEqual(["dma-bos", "dma-nyc", "dma-phl"]);
    expect([...status.superclusters[0]!.territories].sort((a, b) => a.name.localeCompare(b.name))).toEqual(
      ORIGINAL_TERRITORIES,
    );
    // after the abort: no install, no cluster left or busied out; only the return and the restore
    const after = actionsSince(r.lab, abortedAt).map((e) => e.action);
    expect(after).not.toContain("install");
    expect(after).not.toContain("leave-supercluster");
    expect(after).toContain("return-to-service");
    expect(Object.values(status.installs).every((n) => n === 0)).toBe(true);
    // the run says what came back
    const s = await statusJson(r);
    expect(s.run.state).toBe("aborted");
    expect(s.abort).toEqual({ returned: ["dma-nyc"], leftOutOfService: [], returnedWhy: [] });
    const text = await runCli(["status", r.fleet], { timeoutMs: 60_000 });
    expect(text.stdout).toContain("returned to service after the abort: dma-nyc");
  }, 600_000);

  it("an operator aborts with --return-to-service once the first cluster has left its supercluster: it is reported left out of service (D6, with what to do), the others serve", async () => {
    const r = await rehearse("dma-supercluster", 300);
    // dma-nyc's install lasts 1.6 × its estimate (under 2×: no escalation) at speed 300: the abort, however slow to start, lands before
    // dma-nyc has joined the new supercluster
    for (const s of ["nyc-1", "nyc-2"]) r.lab.fault(s, "slow-install", { factor: 1.6, once: true });
    await abortReturning(
      r,
      () => stateChanges(r.lab).some((d) => d.startsWith("dma-nyc left sc-east")),
      "dma-nyc to leave sc-east",
    );
    const status = r.lab.status();
    expect(status.violations).toEqual([]);
    const now = service(r.lab);
    expect(now["dma-nyc"]).toMatchObject({ inService: false, supercluster: null });
    for (const c of ["dma-bos", "dma-phl"])
      expect(now[c], c).toEqual({ inService: true, busiedOut: false, supercluster: "sc-east" });
    // nothing asked dma-nyc to serve outside a supercluster (the lab would have refused it, D6)
    expect(
      r.lab.world.journal
        .entries(0, Number.MAX_SAFE_INTEGER)
        .some((e) => e.kind === "refused" && e.action === "return-to-service"),
    ).toBe(false);
    const s = await statusJson(r);
    expect(s.run.state).toBe("aborted");
    expect(s.abort?.returned).toEqual([]);
    expect(s.abort?.leftOutOfService).toHaveLength(1);
    expect(s.abort?.leftOutOfService[0]).toMatchObject({ cluster: "dma-nyc", rule: "D6" });
    // what to do, pasteable: the run's fleet file and target
    expect(s.abort?.leftOutOfService[0]?.reason).toContain(
      `finish its upgrade: \`rollgate fleet sync ${r.fleet} --write\` then \`rollgate apply ${r.fleet} --to 10.1.0\``,
    );
    const text = await runCli(["status", r.fleet], { timeoutMs: 60_000 });
    expect(text.stdout).toMatch(/left out of service: dma-nyc \[D6\]/);
  }, 600_000);

  it("an operator aborts a patch upgrade with --return-to-service while dma-nyc installs: the install finishes, dma-nyc is verified (D8) and returned in sc-east; the others are not touched", async () => {
    const r = await rehearse("dma-supercluster", 300);
    // dma-nyc's install lasts 1.6 × its estimate (under the 2× that escalates, M9): the abort lands during it
    for (const s of ["nyc-1", "nyc-2"]) r.lab.fault(s, "slow-install", { factor: 1.6, once: true });
    const engine = startEngine(["apply", r.fleet, "--to", "10.0.3", "--yes", "--confirm-finalize", "--json"]);
    await waitFor(() => stateChanges(r.lab).some((d) => /installing 10\.0\.3/.test(d)), {
      timeoutMs: 120_000,
      what: "dma-nyc's install to begin",
    });
    const at = lastSeq(r.lab);
    const abort = await runCli(["abort", r.fleet, "--return-to-service", "--json"], { timeoutMs: 240_000 });
    expect(abort.code, abort.stderr).toBe(0);
    await engine.exited;
    const report = JSON.parse(abort.stdout.trim().split("\n").at(-1)!);
    expect(report.state).toBe("aborted");
    expect(report.abort.returned).toEqual(["dma-nyc"]);
    expect(report.abort.leftOutOfService).toEqual([]);
    // what the lab saw: dma-nyc on 10.0.3, checked after its install, back in sc-east; the others untouched
    const after = actionsSince(r.lab, at);
    expect(after.some((e) => e.cluster === "dma-nyc" && e.action === "return-to-service")).toBe(true);
    expect(after.some((e) => e.cluster !== "dma-nyc" && e.action === "busy-out")).toBe(false);
    for (const [c, s] of Object.entries(service(r.lab)))
      expect(s, c).toEqual({ inService: true, busiedOut: false, supercluster: "sc-east" });
    const releases = Object.fromEntries(
      [...r.lab.world.clusters.values()].map((c) => [c.name, [...new Set(c.servers.map((x) => x.release))]]),
    );
    expect(releases).toEqual({ "dma-nyc": ["10.0.3"], "dma-bos": ["10.0.1"], "dma-phl": ["10.0.1"] });
    expect(r.lab.status().violations).toEqual([]);
  }, 600_000);
});
