import { afterEach, describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.ts";
import { waitFor, e2eTimeouts } from "../helpers/wait.ts";
import { applyTo, rehearse, releases, service, stateChanges, stopLabs } from "./again-helpers.ts";

e2eTimeouts(150_000);

/**
 * An operator upgrades one DMA cluster by hand, at the console (`rollgate lab act`), following the
 * manual (D4, D6, D7, D8): territories reassigned, busied out, out of the supercluster, installed,
 * verified. Then `rollgate apply` plans from where the supercluster stands (G5) and finishes.
 */
afterEach(stopLabs);

describe("one DMA cluster upgraded by hand", () => {
  it("an operator upgrades dma-nyc by hand, syncs the fleet file, and rollgate apply finishes the supercluster from there", async () => {
    const r = await rehearse("dma-supercluster", 600);
    const act = async (server: string, ...args: string[]) => {
      const res = await runCli(["lab", "act", r.original, server, ...args], { timeoutMs: 60_000 });
      return res;
    };
    const must = async (server: string, ...args: string[]) => {
      const res = await act(server, ...args);
      expect(res.code, `lab act ${server} ${args.join(" ")}: ${res.stdout}${res.stderr}`).toBe(0);
    };
    // D4: its territories to the clusters that stay, busied out, then it leaves
    await must("nyc-1", "reassign", "us-east=dma-bos/dma-phl,us-mid=dma-phl/dma-bos");
    await must("nyc-1", "busy-out");
    await must("nyc-1", "leave");
    // D7: the install on both servers; D8: verified once login is back (after the settle)
    await must("nyc-1", "install", "10.1.0");
    await waitFor(async () => (await act("nyc-1", "verify")).code === 0, {
      timeoutMs: 60_000,
      what: "dma-nyc verified after its install",
    });
    expect(releases(r.lab)).toMatchObject({ "nyc-1": "10.1.0", "nyc-2": "10.1.0", "bos-1": "10.0.1" });
    expect(service(r.lab)["dma-nyc"]).toMatchObject({ inService: false, supercluster: null });

    // rollgate says what the fleet file must now say, and fleet sync writes it
    const stale = await applyTo(r.fleet, ["10.1.0"]);
    expect(stale.code).toBe(2);
    expect(stale.stderr).toContain("ROLLGATE_E_PREFLIGHT_MISMATCH");
    expect(stale.stderr).toMatch(/-\s+\d+ \|\s+version: 10\.0\.1\n\+\s+\d+ \|\s+version: 10\.1\.0/);
    const sync = await runCli(["fleet", "sync", r.fleet, "--write"], { timeoutMs: 60_000 });
    expect(sync.code, sync.stderr).toBe(0);

    // the plan starts from where the fleet stands: dma-nyc is not installed again
    const plan = await runCli(["plan", r.fleet, "--to", "10.1.0", "--json"], { timeoutMs: 60_000 });
    expect(plan.code, plan.stderr).toBe(0);
    const p = JSON.parse(plan.stdout);
    expect(
      p.steps
        .filter((s: { action: string }) => s.action === "install")
        .map((s: { cluster: string }) => s.cluster),
    ).toEqual(["dma-bos", "dma-phl"]);
    expect(p.findings.join("\n")).toMatch(/G5.*dma-nyc on 10\.1\.0 in no supercluster/);

    const done = await applyTo(r.fleet, ["10.1.0"]);
    expect(done.code, `${done.stderr}\n${done.stdout.slice(-2000)}`).toBe(0);
    const status = r.lab.status();
    expect(status.violations).toEqual([]);
    expect(Object.values(releases(r.lab)).every((v) => v === "10.1.0")).toBe(true);
    expect(status.superclusters).toEqual([
      expect.objectContaining({ name: "sc-east@10.1.0", founder: "dma-nyc" }),
    ]);
    expect([...status.superclusters[0]!.members].sort()).toEqual(["dma-bos", "dma-nyc", "dma-phl"]);
    for (const n of Object.keys(status.installs)) expect(status.installs[n], n).toBe(1);
    for (const [c, s] of Object.entries(service(r.lab)))
      expect(s, c).toEqual({ inService: true, busiedOut: false, supercluster: "sc-east@10.1.0" });
    const log = stateChanges(r.lab);
    expect(log).toContain("dma-nyc founded sc-east@10.1.0 (members: dma-nyc)");
  }, 600_000);
});
