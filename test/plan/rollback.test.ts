import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compareAddresses } from "../../src/model/address.ts";
import { planRollback } from "../../src/plan/rollback.ts";
import { verifyPlan } from "../../src/plan/verify.ts";
import { dmaSupercluster, fleetOf, genericCluster, matrixCluster, scrambledMatrix } from "./fleets.ts";

/**
 * Going back before the point of no return (issue 12, item 2): the upgraded servers of a matrix
 * part way through its upgrade return to the old release, lowest address first (M3), one at a
 * time (M1), while an old-release server is still active (M4). Every plan verifies; the verifier
 * refuses one that goes top first.
 */

/** A matrix of `n` servers whose top `k` in the address order run 3.5.1, the rest 3.5.0; file order scrambled. */
function partUpgraded(n: number, k: number, shuffle: number, floor: number, fs = false) {
  const c = scrambledMatrix(n, "3.5.0", 9, shuffle, { fs });
  const top = [...c.servers].sort((a, b) => compareAddresses(b.address, a.address)).slice(0, k);
  for (const s of top) s.version = "3.5.1";
  return fleetOf([c], [], floor);
}

describe("rollback plans over random part-upgraded matrices", () => {
  it("every plan verifies: the upgraded servers go back lowest address first, one at a time, with no point of no return", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 9 }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 0, max: 1000 }),
        fc.constantFrom(0, 0.4, 0.6),
        fc.boolean(),
        (n, k0, shuffle, floor, fs) => {
          const fleet = partUpgraded(n, Math.min(k0, n - 1), shuffle, floor, fs);
          const c = fleet.clusters[0]!;
          const upgraded = c.servers.filter((s) => s.version === "3.5.1");
          if (upgraded.length === 0 || upgraded.length === c.servers.length) return;
          let plan: ReturnType<typeof planRollback>;
          try {
            plan = planRollback(fleet);
          } catch (e) {
            expect((e as { code?: string }).code).toBe("ROLLGATE_E_PLAN_FLOOR_UNREACHABLE");
            return;
          }
          expect(plan.verification.violations).toEqual([]);
          expect(plan.targets).toEqual({ mx: "3.5.0" });
          expect(plan.rollback).toEqual({ from: { mx: "3.5.1" } });
          const installs = plan.steps.filter((s) => s.action === "install");
          expect(installs.map((s) => s.server).sort()).toEqual(upgraded.map((s) => s.name).sort());
          expect(installs.every((s) => s.release === "3.5.0")).toBe(true);
          const addr = (name: string) => c.servers.find((s) => s.name === name)!.address;
          for (let i = 1; i < installs.length; i++)
            expect(compareAddresses(addr(installs[i - 1]!.server!), addr(installs[i]!.server!))).toBe(-1);
          expect(plan.steps.some((s) => s.pointOfNoReturn)).toBe(false);
          expect(plan.estimate.minCapacity + 0.01).toBeGreaterThanOrEqual(floor);
        },
      ),
      { numRuns: 80, seed: 20261203 },
    );
  });

  it("the verifier refuses a rollback that goes top first (M3) and one past the point of no return (M4/M8)", () => {
    const fleet = partUpgraded(4, 2, 0, 0.6);
    const plan = planRollback(fleet);
    const targets = new Map(Object.entries(plan.targets));
    const rules = (steps: typeof plan.steps) => [
      ...new Set(verifyPlan(fleet, steps, targets).violations.map((v) => v.rule)),
    ];
    expect(rules(plan.steps)).toEqual([]);
    // the two servers' procedures swapped: the top one goes back first
    const swapped = structuredClone(plan.steps);
    const [a, b] = [swapped[0]!.server!, swapped.at(-1)!.server!];
    for (const s of swapped) s.server = s.server === a ? b : a;
    expect(rules(swapped)).toContain("M3");
    // every old-release server stopped for good before the rollback: past the point of no return
    const c = fleet.clusters[0]!;
    const old = c.servers.filter((s) => s.version === "3.5.0");
    const stops = old.map((s, i) => ({
      id: `mx/${s.name}/stop`,
      action: "stop" as const,
      cluster: "mx",
      server: s.name,
      after: [],
      start: 0,
      end: 1 + i,
      rules: [],
      pointOfNoReturn: false,
    }));
    const late = structuredClone(plan.steps).map((s) => ({ ...s, start: s.start + 10, end: s.end + 10 }));
    const broken = rules([...stops, ...late]);
    expect(broken).toEqual(expect.arrayContaining(["M4", "M8"]));
  });
});

describe("what rollgate does not roll back, and says so", () => {
  it("refuses a matrix on one release (M4), a DMA cluster (D9), a generic cluster and a fleet with nothing mixed", () => {
    const one = fleetOf([matrixCluster("mx", 3, "3.5.1")]);
    expect(() => planRollback(one, { clusters: ["mx"] })).toThrow(
      expect.objectContaining({ code: "ROLLGATE_E_ROLLBACK_PAST_NO_RETURN" }),
    );
    expect(() => planRollback(one)).toThrow(expect.objectContaining({ code: "ROLLGATE_E_ROLLBACK_NOTHING" }));
    const sc = dmaSupercluster("sc", [1, 2], "10.0.1", 40, [100, 100, 100, 100, 100]);
    const dma = fleetOf([...sc.clusters], [sc.supercluster], 0.4);
    expect(() => planRollback(dma, { clusters: [sc.clusters[0]!.name] })).toThrow(
      expect.objectContaining({
        code: "ROLLGATE_E_ROLLBACK_UNSUPPORTED",
        message: expect.stringContaining("D9"),
      }),
    );
    const g = fleetOf([genericCluster("g", 3, "2.4.1", 60)]);
    expect(() => planRollback(g, { clusters: ["g"] })).toThrow(
      expect.objectContaining({ code: "ROLLGATE_E_ROLLBACK_UNSUPPORTED" }),
    );
    expect(() => planRollback(g, { clusters: ["nope"] })).toThrow(
      expect.objectContaining({ code: "ROLLGATE_E_USAGE" }),
    );
  });

  it("--cluster with no name is a usage error; with no --cluster, a mixed generic cluster is named as left alone", () => {
    const fleet = partUpgraded(3, 1, 2, 0.3);
    expect(() => planRollback(fleet, { clusters: [" "] })).toThrow(
      expect.objectContaining({
        code: "ROLLGATE_E_USAGE",
        message: expect.stringContaining("--cluster needs"),
      }),
    );
    const g = genericCluster("g", 3, "2.4.1", 60);
    g.servers = g.servers.map((s, i) => (i === 0 ? { ...s, version: "2.5.0" } : s));
    const both = fleetOf([...fleet.clusters, g], [], 0.3);
    const plan = planRollback(both);
    expect(Object.keys(plan.targets)).toEqual(["mx"]);
    expect((plan.findings ?? []).join("\n")).toContain(
      "g (a generic cluster: rollgate rolls back matrices only) also runs 2.4.1 and 2.5.0: left alone",
    );
  });

  it("refuses, as bad input, a filesystem mounted only on the newer servers (M5), saying how to go on", () => {
    const fleet = partUpgraded(4, 2, 5, 0.6);
    const c = fleet.clusters[0]!;
    const newer = c.servers.filter((s) => s.version === "3.5.1").map((s) => s.name);
    c.filesystems = [{ name: "fs1", mountedOn: newer }];
    expect(() => planRollback(fleet)).toThrow(
      expect.objectContaining({
        code: "ROLLGATE_E_ROLLBACK_UNSUPPORTED",
        message: expect.stringMatching(/fs1 is mounted only on 3\.5\.1 servers .*\(M5\)\. Unmount fs1 on/),
      }),
    );
    // mounted on an old-release server too: both releases may share it, the rollback plans
    c.filesystems = [{ name: "fs1", mountedOn: c.servers.map((s) => s.name) }];
    expect(planRollback(fleet).verification.ok).toBe(true);
  });
});
