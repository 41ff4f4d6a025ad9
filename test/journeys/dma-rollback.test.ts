import { afterEach, describe, expect, it } from "vitest";
import type { Lab } from "../../src/lab/index.ts";
import { runCli } from "../helpers/cli.ts";
import { startEngine } from "../helpers/engine.ts";
import { labEntries } from "../helpers/journey.ts";
import { e2eTimeouts, waitFor } from "../helpers/wait.ts";
import { applyTo, rehearse, stopLabs } from "./again-helpers.ts";

e2eTimeouts(90_000);

/**
 * D9, as an operator meets it: sc-east (dma-nyc, dma-bos, dma-phl) patched from 10.0.1 to 10.0.2;
 * dma-bos comes back wrong, so its last upgrade is rolled back. `rollgate rollback --cluster
 * dma-bos` reads from the cluster what it returns to and shows the manual's procedure; with
 * --yes it halts at the rollback itself (the point of no return: data written since may be
 * lost) until it is confirmed; with --confirm-finalize it runs: territories away, out, leave,
 * roll back, verify, rejoin, return, territories back. The lab, which keeps the release and the
 * data store from before the last upgrade, decides; a second step back is refused by rollgate
 * and by the lab.
 */
afterEach(stopLabs);

function cluster(lab: Lab, name: string) {
  return lab.world.clusters.get(name)!;
}

describe("a DMA cluster's last upgrade rolled back (D9)", () => {
  it("patched to 10.0.2, dma-bos rolled back to 10.0.1: the lab restores its data store, it rejoins sc-east, territories as designed, no rule broken; a second step back is refused", async () => {
    const r = await rehearse("dma-supercluster", 1200);
    const up = await applyTo(r.fleet, ["10.0.2"]);
    expect(up.code, up.stderr).toBe(0);
    expect((await runCli(["fleet", "sync", r.fleet, "--write"], { timeoutMs: 60_000 })).code).toBe(0);
    const storeBefore = cluster(r.lab, "dma-bos").dataStore.lineage.length;

    const shown = await runCli(["rollback", r.fleet, "--cluster", "dma-bos"], { timeoutMs: 60_000 });
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain("10.0.2 → 10.0.1 (D9)");
    expect(shown.stdout).toContain("may be lost");
    expect(shown.stdout).toContain("--yes");
    const plan = JSON.parse((await runCli(["rollback", r.fleet, "--cluster", "dma-bos", "--json"])).stdout);
    expect(plan.verification.ok).toBe(true);
    expect(plan.steps.map((s: { action: string }) => s.action)).toEqual([
      "reassign-territories",
      "busy-out",
      "leave-supercluster",
      "install",
      "verify",
      "join-supercluster",
      "return-to-service",
      "restore-territories",
    ]);
    const seen = r.lab.status().journalSeq;
    expect(labEntries(r.lab).filter((e) => e.seq > seen && e.kind === "action")).toEqual([]);

    // --yes alone stops before the rollback itself: it needs an explicit confirmation (G4)
    const held = await runCli(["rollback", r.fleet, "--cluster", "dma-bos", "--yes", "--json"], {
      timeoutMs: 240_000,
    });
    expect(held.code, held.stderr).toBe(1);
    expect(held.stdout + held.stderr).toContain("dma-bos/install@rollback");
    expect(cluster(r.lab, "dma-bos").servers.map((s) => s.release)).toEqual(["10.0.2", "10.0.2"]);

    const run = await runCli(["resume", r.fleet, "--confirm-finalize", "--json"], { timeoutMs: 240_000 });
    expect(run.code, run.stderr).toBe(0);
    const status = r.lab.status();
    expect(status.violations).toEqual([]);
    const bos = cluster(r.lab, "dma-bos");
    expect(bos.servers.map((s) => s.release)).toEqual(["10.0.1", "10.0.1"]);
    expect(cluster(r.lab, "dma-nyc").servers.map((s) => s.release)).toEqual(["10.0.2", "10.0.2"]);
    expect(bos.supercluster).toBe("sc-east");
    expect(bos.inService).toBe(true);
    expect(bos.dataStore.lineage.slice(storeBefore).join("\n")).toContain(
      "restored to its state before the upgrade",
    );
    expect(bos.rollbackTo).toBeNull();
    const sc = r.lab.world.superclusters.get("sc-east")!;
    expect(new Set(sc.members)).toEqual(new Set(["dma-nyc", "dma-bos", "dma-phl"]));
    expect(sc.territories).toEqual(
      expect.arrayContaining([
        { name: "us-east", primary: "dma-nyc", backup: "dma-bos" },
        { name: "us-north", primary: "dma-bos", backup: "dma-phl" },
      ]),
    );

    // a second step back: rollgate refuses (the cluster has none to roll back), so does the lab
    expect((await runCli(["fleet", "sync", r.fleet, "--write"], { timeoutMs: 60_000 })).code).toBe(0);
    const again = await runCli(["rollback", r.fleet, "--cluster", "dma-bos"], { timeoutMs: 60_000 });
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("ROLLGATE_E_ROLLBACK_NOTHING");
    expect(again.stderr).toContain("D9");
    const lab = await r.lab.act("bos-1", { action: "install", release: "10.0.0", rollback: true });
    expect(lab.status).toBe(409);
    expect(JSON.stringify(lab.body)).toContain("D9");
    const down = await r.lab.act("nyc-1", { action: "install", release: "10.0.1" });
    expect(down.status).toBe(409);
    expect(JSON.stringify(down.body)).toContain("only by a rollback");
  }, 600_000);

  it("the engine killed during the rollback itself: rollgate rollback --yes again finishes it without a second rollback, the data store restored once, no rule broken", async () => {
    const r = await rehearse("dma-supercluster", 600);
    const up = await applyTo(r.fleet, ["10.0.2"]);
    expect(up.code, up.stderr).toBe(0);
    expect((await runCli(["fleet", "sync", r.fleet, "--write"], { timeoutMs: 60_000 })).code).toBe(0);
    const engine = startEngine([
      "rollback",
      r.fleet,
      "--cluster",
      "dma-bos",
      "--yes",
      "--confirm-finalize",
      "--json",
    ]);
    const installing = () =>
      labEntries(r.lab).some(
        (e) => e.kind === "state" && e.server === "bos-1" && e.detail.endsWith("installing 10.0.1"),
      );
    await waitFor(installing, { timeoutMs: 120_000, what: "dma-bos's rollback install" });
    engine.child.kill("SIGKILL");
    await engine.exited;
    // what an operator types again: the rollback, which goes on with the run cut short (the cluster,
    // rolled back already, has nothing more to give: planning it anew would say nothing to do)
    const again = await runCli(
      ["rollback", r.fleet, "--cluster", "dma-bos", "--yes", "--confirm-finalize", "--json"],
      { timeoutMs: 240_000 },
    );
    expect(again.code, again.stderr).toBe(0);
    expect(r.lab.status().violations).toEqual([]);
    const bos = cluster(r.lab, "dma-bos");
    expect(bos.servers.map((s) => s.release)).toEqual(["10.0.1", "10.0.1"]);
    expect(bos.servers.map((s) => s.installs)).toEqual([2, 2]); // the patch, then one rollback
    expect(bos.dataStore.lineage.filter((l) => l.startsWith("restored to its state before")).length).toBe(1);
    expect(bos).toMatchObject({ supercluster: "sc-east", inService: true });
  }, 600_000);
});
