import { afterEach, describe, expect, it } from "vitest";
import type { Lab } from "../../src/lab/index.ts";
import { applyWindow, changes, fiveClusterLab, journal } from "./dma-maintenance-window-helpers.ts";
import { e2eTimeouts } from "../helpers/wait.ts";

e2eTimeouts(60_000);

/**
 * The maintenance window (D5) of the Operations Guide, applied by an operator with the real CLI
 * to a five-cluster supercluster with territories (test/fixtures/dma-five.yaml), judged on what
 * the lab saw: its journal and its status.
 */
const CLUSTERS = ["dma-nyc", "dma-bos", "dma-phl", "dma-dca", "dma-atl"];
const TERRITORIES = [
  { name: "us-east", primary: "dma-nyc", backup: "dma-bos" },
  { name: "us-mid", primary: "dma-phl", backup: "dma-nyc" },
  { name: "us-north", primary: "dma-bos", backup: "dma-phl" },
  { name: "us-capital", primary: "dma-dca", backup: "dma-atl" },
  { name: "us-south", primary: "dma-atl" },
];

const labs: Lab[] = [];
afterEach(async () => {
  for (const l of labs.splice(0)) await l.stop();
});

describe("the maintenance window (D5) on a five-cluster supercluster", () => {
  it("an operator applies the maintenance window with territories: every cluster ends in the new supercluster, territories restored, each server installed once, no rule broken", async () => {
    const lab = await fiveClusterLab(3000);
    labs.push(lab);
    const r = await applyWindow(lab, 150_000);
    expect(r.code, r.stderr).toBe(0);
    expect(r.report).toMatchObject({ ok: true, state: "completed" });

    const st = lab.status();
    expect(st.violations).toEqual([]);
    expect(st.superclusters).toHaveLength(1);
    const sc = st.superclusters[0]!;
    expect(sc).toMatchObject({ name: "sc-east@10.1.0", founder: "dma-nyc", territories: TERRITORIES });
    expect([...sc.members].sort()).toEqual([...CLUSTERS].sort());
    for (const s of st.servers) expect([s.name, s.release, s.state]).toEqual([s.name, "10.1.0", "running"]);
    expect(Object.values(st.installs)).toEqual(st.servers.map(() => 1));

    // every server sees the new supercluster whole, in service
    for (const name of st.servers.map((s) => s.name)) {
      const o = lab.world.observe(name)!;
      expect(o).toMatchObject({ supercluster: "sc-east@10.1.0", inService: true, busiedOut: false });
      expect([...(o.superclusterMembers ?? [])].sort()).toEqual([...CLUSTERS].sort());
    }

    // the order D5 gives, as the lab saw it
    const log = changes(lab);
    const at = (text: string) => {
      const i = log.findIndex((d) => d.startsWith(text));
      expect(i, text).toBeGreaterThanOrEqual(0);
      return i;
    };
    const recorded = at(
      "sc-east territories recorded and unassigned until restored: us-east=dma-nyc/dma-bos, us-mid=dma-phl/dma-nyc, us-north=dma-bos/dma-phl, us-capital=dma-dca/dma-atl, us-south=dma-atl",
    );
    const founded = at("dma-nyc founded sc-east@10.1.0");
    const restored = at(
      "sc-east@10.1.0 territories: us-east=dma-nyc/dma-bos, us-mid=dma-phl/dma-nyc, us-north=dma-bos/dma-phl, us-capital=dma-dca/dma-atl, us-south=dma-atl",
    );
    for (const c of CLUSTERS) {
      expect(at(`${c} busied out`)).toBeLessThan(recorded); // the whole supercluster out first
      expect(at(`${c} left sc-east`)).toBeGreaterThan(recorded);
      expect(at(`${c} back in service`)).toBeGreaterThan(restored);
    }
    for (const c of CLUSTERS.slice(1)) {
      const joined = at(`${c} joined sc-east@10.1.0 through dma-nyc`);
      expect(joined).toBeGreaterThan(founded); // D10: they join the first, once it founded
      expect(joined).toBeLessThan(restored);
    }
    expect(at("dma-atl left sc-east (dissolved)")).toBeLessThan(founded);
    // no territory request reached an appliance empty, none was refused
    expect(journal(lab).filter((e) => e.kind === "refused")).toEqual([]);
  }, 180_000);

  it("an operator applies the maintenance window and one cluster's join is lost (fault join-lost): the run escalates at that join (D10), the cluster stays out of service, the lab records the lost member", async () => {
    const lab = await fiveClusterLab(3000);
    labs.push(lab);
    lab.fault("phl-1", "join-lost");
    const r = await applyWindow(lab, 150_000);
    expect(r.code).toBe(1);
    expect(r.report).toMatchObject({ ok: false, state: "escalated" });
    const escalation = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l))
      .find((e) => e.type === "escalation")?.escalation;
    expect(escalation).toMatchObject({ rule: "D10", step: "dma-phl/join-supercluster" });
    expect(escalation.detail).toMatch(
      /dma-phl sees itself in sc-east@10\.1\.0, but nyc-\d \(dma-nyc\) lists/,
    );
    expect(escalation.detail).toMatch(/a lost member/);

    const v = lab.status().violations;
    expect(v.map((x) => x.rule)).toEqual(["D10"]);
    expect(v[0]!.detail).toMatch(/lost member: dma-phl sees itself a member of sc-east@10\.1\.0/);
    // the engine did not take the lost member's word: it was never returned to service
    expect(changes(lab).some((d) => d.startsWith("dma-phl back in service"))).toBe(false);
    expect(lab.world.observe("phl-1")).toMatchObject({ inService: false });
  }, 180_000);
});
