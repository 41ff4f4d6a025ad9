import { describe, expect, it } from "vitest";
import type { RollgateError } from "../../src/model/errors.ts";
import { compareStrategies, planUpgrade } from "../../src/plan/planner.ts";
import type { Plan } from "../../src/plan/types.ts";
import { dmaSupercluster, fleetOf, loadExample } from "./fleets.ts";

const east = loadExample("dma-supercluster.yaml");
const withFloor = (capacityFloor: number) => ({ ...east, defaults: { ...east.defaults, capacityFloor } });

function stepsOf(plan: Plan, cluster: string): string[] {
  return plan.steps.filter((s) => s.cluster === cluster).map((s) => s.action);
}

describe("DMA patch upgrade (D3, D7)", () => {
  const plan = planUpgrade(east, { to: "10.0.2" });

  it("upgrades each cluster with the basic procedure while it stays in the supercluster", () => {
    expect(plan.strategy).toBe("patch");
    expect(stepsOf(plan, "dma-nyc")).toEqual(["busy-out", "install", "verify", "return-to-service"]);
    expect(plan.steps.some((s) => s.action === "leave-supercluster")).toBe(false);
    const install = plan.steps.find((s) => s.id === "dma-nyc/install")!;
    expect(install.server).toBeUndefined();
    expect(install.end - install.start).toBe(2400 + 300); // install + settle (D7)
  });

  it("runs as many clusters at once as the floor allows", () => {
    const five = dmaSupercluster("sc", [2, 2, 2, 2, 2]);
    const p = planUpgrade(fleetOf(five.clusters, [five.supercluster], 0.6), { to: "10.0.2" });
    const starts = p.steps.filter((s) => s.action === "busy-out").map((s) => s.start);
    expect(new Set(starts).size).toBe(3); // two, two, one
    expect(p.estimate.minCapacity).toBe(0.6);
    expect(p.verification.ok).toBe(true);
    expect(p.estimate.seconds).toBeLessThanOrEqual(1.05 * p.estimate.lowerBoundSeconds);
  });
});

describe("DMA patch upgrade where clusters sharing a territory go out together (D4)", () => {
  // capacities 200/300/100/200, territories on the ring c1–c2–c3–c4–c1, floor 0.5: only pairs
  // sharing a territory fill the half that may be out, so territories are reassigned and restored
  const ring = dmaSupercluster("sc", [1, 1, 1, 1], "10.0.1", 100, [200, 300, 100, 200]);
  const p = planUpgrade(fleetOf(ring.clusters, [ring.supercluster], 0.5), { to: "10.0.2" });

  it("reassigns ahead of a slot while the previous windows are open, within 1.05 of the bound", () => {
    expect(p.strategy).toBe("patch");
    expect(p.verification.violations).toEqual([]);
    expect(p.estimate.lowerBoundSeconds).toBe(6360);
    expect(p.estimate.seconds).toBeLessThanOrEqual(6600);
    expect(p.estimate.seconds).toBeLessThanOrEqual(1.05 * p.estimate.lowerBoundSeconds);
    // some reassignment runs while another cluster is out of service
    const windows = p.steps
      .filter((s) => s.action === "busy-out")
      .map((b) => [b.start, p.steps.find((s) => s.id === `${b.cluster}/return-to-service`)!.end] as const);
    const early = p.steps.filter(
      (s) => s.action === "reassign-territories" && windows.some(([a, e]) => a < s.start && s.start < e),
    );
    expect(early.length).toBeGreaterThan(0);
    expect(p.estimate.minCapacity).toBe(0.5);
  });
});

describe("DMA incompatible upgrade", () => {
  const inc = planUpgrade(east, { to: "10.1.0" });

  it("auto picks incremental when the floor forbids an outage", () => {
    expect(inc.strategy).toBe("incremental");
    expect(inc.estimate.outageSeconds).toBe(0);
    expect(inc.estimate.minCapacity).toBeGreaterThanOrEqual(0.6);
    expect(inc.verification.ok).toBe(true);
  });

  it("reassigns, busies out, leaves, installs, verifies, joins the founder, returns, restores (D4, D6, D8, D10)", () => {
    expect(stepsOf(inc, "dma-bos")).toEqual([
      "reassign-territories",
      "busy-out",
      "leave-supercluster",
      "install",
      "verify",
      "join-supercluster",
      "return-to-service",
      "restore-territories",
    ]);
    const founder = inc.steps.find((s) => s.founds)!;
    expect(founder).toMatchObject({ cluster: "dma-nyc", action: "verify", founds: "sc-east@10.1.0" });
    for (const j of inc.steps.filter((s) => s.action === "join-supercluster"))
      expect(j.joins).toBe("dma-nyc");
  });

  it("restores every territory to its original assignment", () => {
    const last = new Map<string, string>();
    for (const s of inc.steps)
      for (const t of s.territories ?? []) last.set(t.name, `${t.primary}/${t.backup ?? "-"}`);
    expect(Object.fromEntries(last)).toEqual({
      "us-east": "dma-nyc/dma-bos",
      "us-mid": "dma-phl/dma-nyc",
      "us-north": "dma-bos/dma-phl",
    });
  });

  it("marks the leave that empties the old supercluster as the point of no return", () => {
    expect(inc.steps.filter((s) => s.pointOfNoReturn).map((s) => s.id)).toEqual([
      "dma-phl/leave-supercluster",
    ]);
  });

  it("stays within 1.05 × its lower bound", () => {
    expect(inc.estimate.seconds).toBeGreaterThanOrEqual(inc.estimate.lowerBoundSeconds);
    expect(inc.estimate.seconds).toBeLessThanOrEqual(1.05 * inc.estimate.lowerBoundSeconds);
  });

  it("maintenance-window: everything leaves, upgrades in parallel, joins the first, with an outage (D5)", () => {
    const mw = planUpgrade(withFloor(0), { to: "10.1.0" });
    expect(mw.strategy).toBe("maintenance-window"); // floor 0: auto picks the fastest
    expect(mw.estimate.minCapacity).toBe(0);
    expect(mw.estimate.outageSeconds).toBeGreaterThan(0);
    const installs = mw.steps.filter((s) => s.action === "install");
    expect(new Set(installs.map((s) => s.start)).size).toBe(1);
    expect(mw.steps.find((s) => s.action === "reassign-territories")?.unassigned).toEqual([
      "us-east",
      "us-mid",
      "us-north",
    ]);
    expect(mw.estimate.seconds).toBeLessThan(inc.estimate.seconds);
    expect(mw.verification.ok).toBe(true);
  });

  it("maintenance-window: the whole supercluster goes out together, then the territories are recorded and taken off it; none is sent empty (D5)", () => {
    const mw = planUpgrade(withFloor(0), { to: "10.1.0", strategy: "maintenance-window" });
    const busy = mw.steps.filter((s) => s.action === "busy-out");
    expect(busy.map((s) => [s.cluster, s.start, s.after])).toEqual([
      ["dma-nyc", 0, []],
      ["dma-bos", 0, []],
      ["dma-phl", 0, []],
    ]);
    const record = mw.steps.find((s) => s.id === "dma-nyc/record-territories")!;
    expect(record).toMatchObject({
      action: "reassign-territories",
      territories: [],
      supercluster: "sc-east",
    });
    expect(record.unassigned).toEqual(["us-east", "us-mid", "us-north"]);
    expect(record.rules).toEqual(["D5"]);
    expect(record.after).toEqual(busy.map((s) => s.id)); // only once nothing serves
    for (const l of mw.steps.filter((s) => s.action === "leave-supercluster")) {
      expect(l.after).toContain(record.id);
      expect(l.start).toBeGreaterThanOrEqual(record.end);
    }
    // every territory step of the plan sends something to the appliance
    for (const s of mw.steps.filter((x) => x.action.endsWith("-territories")))
      expect((s.territories?.length ?? 0) + (s.unassigned?.length ?? 0)).toBeGreaterThan(0);
    const restore = mw.steps.find((s) => s.action === "restore-territories")!;
    expect(restore.territories).toEqual(east.superclusters[0]!.territories);
    expect(restore.supercluster).toBe("sc-east@10.1.0");
    expect(restore.start).toBeGreaterThanOrEqual(
      Math.max(...mw.steps.filter((s) => s.action === "join-supercluster").map((s) => s.end)),
    );
    expect(mw.verification.ok).toBe(true);
  });

  it("auto says why it chose: at floor 0 the maintenance window is the shortest that keeps the floor, a full outage (docs/planning.md)", () => {
    const auto = planUpgrade(withFloor(0), { to: "10.1.0" });
    expect(auto.strategy).toBe("maintenance-window");
    expect(auto.choice).toMatch(
      /^auto picks maintenance-window: the shortest plan that keeps the capacity floor 0 \(1h4m, against incremental 2h\d+m\)/,
    );
    expect(auto.choice).toMatch(/full outage, so service is fully unavailable for 1h4m \(D5\)/);
    expect(auto.choice).toMatch(/--strategy incremental/);
    const kept = planUpgrade(east, { to: "10.1.0" });
    expect(kept.strategy).toBe("incremental");
    expect(kept.choice).toMatch(
      /^auto picks incremental: the shortest plan that keeps the capacity floor 0\.6/,
    );
    expect(kept.choice).not.toMatch(/outage/);
    expect(planUpgrade(east, { to: "10.1.0", strategy: "incremental" }).choice).toBeUndefined();
  });

  it("refuses maintenance-window when the floor forbids an outage", () => {
    expect(() => planUpgrade(east, { to: "10.1.0", strategy: "maintenance-window" })).toThrow(
      expect.objectContaining({ code: "ROLLGATE_E_PLAN_FLOOR_UNREACHABLE" }) as unknown as RollgateError,
    );
    expect(() => planUpgrade(east, { to: "10.1.0", strategy: "patch" })).toThrow(/applicable: incremental/);
  });

  it("--compare shows every applicable strategy side by side", () => {
    const rows = compareStrategies(east, { to: "10.1.0" });
    expect(rows.map((r) => r.strategy)).toEqual(["incremental", "maintenance-window"]);
    expect(rows[0]).toMatchObject({ ok: true, keepsFloor: true, outageSeconds: 0 });
    expect(rows[1]).toMatchObject({ ok: false, keepsFloor: false, minCapacity: 0 });
    expect(rows[1]!.outageSeconds).toBeGreaterThan(0);
    expect(rows[0]!.mixedWindowSeconds).toBeGreaterThan(0);
  });
});

describe("a mixed fleet in one plan", () => {
  it("upgrades matrix, DMA and generic clusters in parallel, each within its own domain", () => {
    const f = loadExample("mixed-fleet.yaml");
    const p = planUpgrade(f, { to: ["polyserve-matrix=3.5.1", "polycom-dma=10.1.0", "generic=2.5.0"] });
    expect(p.strategy).toBe("incremental");
    expect(p.targets).toMatchObject({ "matrix-a": "3.5.1", "dma-nyc": "10.1.0", "kv-store": "2.5.0" });
    const firsts = ["matrix-a", "dma-nyc", "kv-store"].map(
      (c) => p.steps.find((s) => s.cluster === c)!.start,
    );
    expect(firsts).toEqual([0, 0, 0]);
    expect(
      p.steps.filter((s) => s.action === "install" && s.cluster === "matrix-a").map((s) => s.server),
    ).toEqual(["srv4", "srv3", "srv2", "srv1"]);
    // generic: the leader last (G2 by role)
    expect(p.steps.filter((s) => s.action === "install" && s.cluster === "kv-store").at(-1)!.server).toBe(
      "kv-2",
    );
    expect(p.verification.ok).toBe(true);
    expect(p.estimate.seconds).toBeLessThanOrEqual(1.05 * p.estimate.lowerBoundSeconds);
    // a bare target cannot fit products on different release lines
    expect(() => planUpgrade(f, { to: "3.5.1" })).toThrow(/--to CLUSTER=VERSION/);
  });
});
