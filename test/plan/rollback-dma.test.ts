import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Cluster, Supercluster } from "../../src/model/fleet.ts";
import { planRollback } from "../../src/plan/rollback.ts";
import { dmaSupercluster, fleetOf } from "./fleets.ts";

/**
 * D9: the rollback of a DMA cluster's last applied upgrade. Its territories go to the other
 * members first (D4), it is busied out and leaves its supercluster, rolls back (the point of no
 * return: data written since may be lost, G4), is verified (D8), rejoins a compatible supercluster
 * of its lineage (D2, D10), returns to service and gets its territories back. Every plan verifies,
 * the floor holds; the refusals name their rule.
 */
function patched(n: number, k: number, floor: number) {
  // a supercluster after a patch upgrade to 10.0.2; the rollback returns one cluster to 10.0.1
  const sc = dmaSupercluster(
    "sc",
    Array.from({ length: n }, (_, i) => 1 + (i % 2)),
    "10.0.2",
    40,
  );
  return { fleet: fleetOf([...sc.clusters], [sc.supercluster], floor), name: sc.clusters[k]!.name };
}

describe("DMA rollback plans (D9)", () => {
  it("every plan verifies: territories away first, out, leave, roll back (the point of no return), verify, rejoin, return, territories back", () => {
    let planned = 0;
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 5 }),
        fc.integer({ min: 0, max: 4 }),
        fc.constantFrom(0, 0.4, 0.6, 0.75),
        (n, k, floor) => {
          const { fleet, name } = patched(n, k % n, floor);
          let plan: ReturnType<typeof planRollback>;
          try {
            plan = planRollback(fleet, { clusters: [name], dmaRollbackTo: new Map([[name, "10.0.1"]]) });
          } catch (e) {
            expect((e as { code?: string }).code).toBe("ROLLGATE_E_PLAN_FLOOR_UNREACHABLE");
            return;
          }
          planned++;
          expect(plan.verification.violations).toEqual([]);
          expect(plan.targets).toEqual({ [name]: "10.0.1" });
          expect(plan.rollback).toEqual({ from: { [name]: "10.0.2" } });
          expect(plan.estimate.minCapacity + 0.01).toBeGreaterThanOrEqual(floor);
          expect(plan.steps.map((s) => s.action)).toEqual([
            "reassign-territories",
            "busy-out",
            "leave-supercluster",
            "install",
            "verify",
            "join-supercluster",
            "return-to-service",
            "restore-territories",
          ]);
          const install = plan.steps.find((s) => s.action === "install")!;
          expect(install).toMatchObject({ release: "10.0.1", rollback: true, pointOfNoReturn: true });
          expect(install.rules).toEqual(expect.arrayContaining(["D9", "G4"]));
          expect(plan.steps.filter((s) => s.pointOfNoReturn)).toHaveLength(1);
          expect(plan.steps.every((s) => s.cluster === name)).toBe(true);
          const join = plan.steps.find((s) => s.action === "join-supercluster")!;
          expect(join.joins).not.toBe(name);
          expect(join.supercluster).toBe("sc");
          expect((plan.findings ?? []).join("\n")).toContain("may be lost");
        },
      ),
      { numRuns: 60 },
    );
    expect(planned).toBeGreaterThan(20);
  });

  it("a cluster out of its supercluster after a failed verification (D8) skips what is done: roll back, verify, rejoin the old supercluster, return, territories back as designed", () => {
    const sc = dmaSupercluster("sc-east", [1, 1, 1], "10.0.1", 50);
    const stuck: Cluster = {
      ...sc.clusters[0]!,
      version: "10.1.0",
      servers: sc.clusters[0]!.servers.map((s) => ({ ...s, version: "10.1.0" })),
      leftSupercluster: "sc-east",
    };
    delete stuck.supercluster;
    const territories = sc.supercluster.territories.map((t) =>
      t.primary === stuck.name || t.backup === stuck.name
        ? { ...t, assigned: { primary: sc.clusters[1]!.name, backup: sc.clusters[2]!.name } }
        : t,
    );
    const east: Supercluster = {
      ...sc.supercluster,
      clusters: sc.supercluster.clusters.slice(1),
      territories,
    };
    const fleet = fleetOf([stuck, ...sc.clusters.slice(1)], [east], 0.5);
    const plan = planRollback(fleet, {
      clusters: [stuck.name],
      dmaRollbackTo: new Map([[stuck.name, "10.0.1"]]),
    });
    expect(plan.verification.violations).toEqual([]);
    expect(plan.steps.map((s) => s.action)).toEqual([
      "busy-out",
      "install",
      "verify",
      "join-supercluster",
      "return-to-service",
      "restore-territories",
    ]);
    expect(plan.steps.find((s) => s.action === "join-supercluster")).toMatchObject({
      supercluster: "sc-east",
    });
    // its territories come back as designed: every cluster of them is a member of sc-east again
    expect(plan.steps.at(-1)!.territories).toEqual(
      sc.supercluster.territories.filter((t) => t.primary === stuck.name || t.backup === stuck.name),
    );
  });

  it("the only member of a new supercluster: its leave ends that supercluster, a point of no return too (G4); it rejoins the old one", () => {
    const old = dmaSupercluster("sc-east", [1, 1, 1], "10.1.0", 70);
    const nyc = old.clusters[0]!;
    const upgraded: Cluster = {
      ...nyc,
      version: "10.2.0",
      servers: nyc.servers.map((s) => ({ ...s, version: "10.2.0" })),
      supercluster: "sc-east@10.2.0",
    };
    const others = old.clusters.slice(1);
    const east: Supercluster = {
      ...old.supercluster,
      clusters: others.map((c) => c.name),
      territories: old.supercluster.territories.map((t) => ({
        ...t,
        assigned: { primary: others[0]!.name, backup: others[1]!.name },
      })),
    };
    const fresh: Supercluster = {
      name: "sc-east@10.2.0",
      pack: "polycom-dma",
      clusters: [nyc.name],
      territories: [],
    };
    const fleet = fleetOf([upgraded, ...others], [east, fresh], 0.5);
    const plan = planRollback(fleet, {
      clusters: [nyc.name],
      dmaRollbackTo: new Map([[nyc.name, "10.1.0"]]),
    });
    expect(plan.verification.violations).toEqual([]);
    const leave = plan.steps.find((s) => s.action === "leave-supercluster")!;
    expect(leave.pointOfNoReturn).toBe(true);
    expect(leave.rules).toContain("G4");
    expect(plan.steps.find((s) => s.action === "join-supercluster")).toMatchObject({
      supercluster: "sc-east",
    });
  });

  it("refuses a second step back (nothing to roll back), a rollback no supercluster could take back (D2), and a DMA cluster the caller could not read", () => {
    const { fleet, name } = patched(3, 0, 0.4);
    expect(() => planRollback(fleet, { clusters: [name], dmaRollbackTo: new Map([[name, null]]) })).toThrow(
      expect.objectContaining({
        code: "ROLLGATE_E_ROLLBACK_NOTHING",
        message: expect.stringContaining("D9"),
      }),
    );
    expect(() => planRollback(fleet, { clusters: [name] })).toThrow(
      expect.objectContaining({ code: "ROLLGATE_E_ROLLBACK_UNSUPPORTED" }),
    );
    // a major release back while every other member runs 10.1: it could rejoin nothing (D2)
    const up = dmaSupercluster("sc", [1, 1, 1], "10.1.0", 60);
    const upFleet = fleetOf([...up.clusters], [up.supercluster], 0.4);
    expect(() =>
      planRollback(upFleet, {
        clusters: [up.clusters[0]!.name],
        dmaRollbackTo: new Map([[up.clusters[0]!.name, "10.0.1"]]),
      }),
    ).toThrow(
      expect.objectContaining({
        code: "ROLLGATE_E_ROLLBACK_UNSUPPORTED",
        message: expect.stringContaining("D2"),
      }),
    );
    // "back" to a release that is not older
    expect(() =>
      planRollback(fleet, { clusters: [name], dmaRollbackTo: new Map([[name, "10.0.2"]]) }),
    ).toThrow(expect.objectContaining({ code: "ROLLGATE_E_ROLLBACK_NOTHING" }));
  });
});
