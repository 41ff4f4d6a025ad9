import { afterEach, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.ts";
import { startEngine } from "../helpers/engine.ts";
import { waitFor, e2eTimeouts } from "../helpers/wait.ts";
import {
  applyTo,
  type Rehearsal,
  rehearse,
  releases,
  service,
  stateChanges,
  stopLabs,
} from "./again-helpers.ts";

e2eTimeouts(150_000);

/**
 * An operator aborts an incremental DMA upgrade (D6) part way, then goes on: `rollgate apply`
 * plans from where the supercluster stands (G5) and reaches the target; nothing is installed
 * twice and every cluster ends in service. What the lab saw decides.
 */
afterEach(stopLabs);

async function abortWhen(
  r: Rehearsal,
  seen: (log: string[]) => boolean,
  what: string,
  slowNyc = true,
): Promise<void> {
  // dma-nyc's install (the first) lasts 1.6 × its estimate (under 2×: no escalation, M9) at a
  // lab speed of 300, ~13 s, so that the abort, however slow the
  // machine is to start it, lands while dma-nyc is on its way (out of service, not yet back)
  if (slowNyc)
    for (const s of ["nyc-1", "nyc-2"]) r.lab.fault(s, "slow-install", { factor: 1.6, once: true });
  const engine = startEngine(["apply", r.fleet, "--to", "10.1.0", "--yes", "--confirm-finalize", "--json"]);
  await waitFor(() => seen(stateChanges(r.lab)), { timeoutMs: 120_000, what });
  const abort = await runCli(["abort", r.fleet], { timeoutMs: 60_000 });
  expect(abort.code, abort.stderr).toBe(0);
  expect(await engine.exited).toBe(1);
  expect(engine.lines.at(-1)).toMatchObject({ ok: false, state: "aborted" });
}

async function goOn(r: Rehearsal): Promise<void> {
  // the fleet file is brought up to what the servers report, then the upgrade goes on
  const sync = await runCli(["fleet", "sync", r.fleet, "--write"], { timeoutMs: 60_000 });
  expect(sync.code, sync.stderr).toBe(0);
  const again = await applyTo(r.fleet, ["10.1.0"]);
  expect(again.code, `${again.stderr}\n${again.stdout.slice(-2000)}`).toBe(0);
}

function assertUpgraded(r: Rehearsal): void {
  const status = r.lab.status();
  expect(status.violations).toEqual([]);
  expect(Object.values(releases(r.lab)).every((v) => v === "10.1.0")).toBe(true);
  expect(status.superclusters).toHaveLength(1);
  expect(status.superclusters[0]).toMatchObject({ name: "sc-east@10.1.0", founder: "dma-nyc" });
  expect([...status.superclusters[0]!.members].sort()).toEqual(["dma-bos", "dma-nyc", "dma-phl"]);
  for (const n of Object.keys(status.installs)) expect(status.installs[n], n).toBe(1);
  for (const [c, s] of Object.entries(service(r.lab)))
    expect(s, c).toEqual({ inService: true, busiedOut: false, supercluster: "sc-east@10.1.0" });
}

/**
 * dma-bos's and dma-phl's installs take 5 minutes (40 for dma-nyc, whose install the aborts
 * land in): at speed 300 a second each, so that going on does not wait 16 s for them. The
 * busy-outs, settles and joins (5 minutes, a second each) take 30 s (0.1 s): the aborts land
 * in none of them (the first journey's in dma-nyc's install, the second's once dma-nyc is
 * busied out, in its leave or its install).
 */
const QUICK = "busy-out: 30s, settle: 30s, join-supercluster: 30s";
const shortOthers = (text: string) =>
  text
    .replace(/^( {4}estimates: \{ install: 40m)( \})$/m, `$1, ${QUICK}$2`)
    .replace(/^( {4}capacity: 300)$/gm, `$1\n    estimates: { install: 5m, ${QUICK} }`);

/**
 * Every install takes 5 minutes (dma-nyc's too, not slowed), the other steps their defaults:
 * the abort once dma-nyc has founded the new supercluster lands in what is left (dma-nyc's
 * return, dma-bos's and dma-phl's upgrades, ~12 s), with no install of dma-nyc's to wait for.
 */
const shortInstalls = (text: string) =>
  text
    .replace("estimates: { install: 40m }", "estimates: { install: 5m }")
    .replace(/^( {4}capacity: 300)$/gm, "$1\n    estimates: { install: 5m }");

describe("abort an incremental DMA upgrade, then go on", () => {
  it("an operator aborts while the first cluster installs, syncs the fleet file, and applies again: the upgrade reaches the target", async () => {
    const r = await rehearse("dma-supercluster", 300, shortOthers);
    await abortWhen(
      r,
      (log) => log.some((d) => /^nyc-1: .*installing 10\.1\.0/.test(d)),
      "dma-nyc's install to start",
    );
    // the running install finished; nothing after it started: dma-nyc is upgraded, out of
    // service, in no supercluster
    await waitFor(() => stateChanges(r.lab).some((d) => /^nyc-1: .*installed 10\.1\.0/.test(d)), {
      timeoutMs: 60_000,
      what: "dma-nyc's install to end",
    });
    const stuck = service(r.lab)["dma-nyc"]!;
    expect(stuck.inService).toBe(false);
    // the next apply before the fleet file is updated is refused and says what to write
    const stale = await applyTo(r.fleet, ["10.1.0"]);
    expect(stale.code).toBe(2);
    expect(stale.stderr).toContain("ROLLGATE_E_PREFLIGHT_MISMATCH");
    expect(stale.stderr).toContain("rollgate fleet sync");
    await goOn(r);
    assertUpgraded(r);
    const log = stateChanges(r.lab);
    // dma-nyc came back (founded the new supercluster, back in service) before another cluster went out
    expect(log.indexOf("dma-nyc back in service")).toBeLessThan(
      log.indexOf("dma-bos busied out and out of service"),
    );
  }, 600_000);

  it("an operator aborts once the first cluster is busied out, then applies again: that cluster is back in service before any other goes out, and every cluster ends in service", async () => {
    const r = await rehearse("dma-supercluster", 300, shortOthers);
    await abortWhen(r, (log) => log.includes("dma-nyc busied out and out of service"), "dma-nyc busied out");
    expect(service(r.lab)["dma-nyc"]!.inService).toBe(false);
    await goOn(r);
    assertUpgraded(r);
    const log = stateChanges(r.lab);
    expect(log.indexOf("dma-nyc back in service")).toBeLessThan(
      log.indexOf("dma-bos busied out and out of service"),
    );
  }, 600_000);

  it("an operator aborts once the first cluster has founded the new supercluster (the second one part way, wherever the abort lands), then goes on: every cluster ends upgraded once and in service", async () => {
    const r = await rehearse("dma-supercluster", 300, shortInstalls);
    await abortWhen(
      r,
      (log) => log.includes("dma-nyc founded sc-east@10.1.0 (members: dma-nyc)"),
      "dma-nyc to found sc-east@10.1.0",
      false,
    );
    await goOn(r);
    assertUpgraded(r);
  }, 600_000);
});
