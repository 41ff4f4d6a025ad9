import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RollgateError } from "../../src/model/errors.ts";
import { planUpgrade } from "../../src/plan/planner.ts";
import { fleetOf, genericCluster, loadExample, matrixCluster } from "./fleets.ts";

function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return e instanceof RollgateError ? e.code : String(e);
  }
  return undefined;
}

describe("matrix rolling upgrade (M1, M2, M4, M8, M9)", () => {
  const plan = planUpgrade(loadExample("matrix-seed.yaml"), { to: "3.5.1" });

  it("plans the seed's servers srv3, srv2, srv1 by matrix-known address (M2)", () => {
    const order = plan.steps.filter((s) => s.action === "install").map((s) => s.server);
    expect(order).toEqual(["srv3", "srv2", "srv1"]);
    expect(plan.strategy).toBe("rolling");
  });

  it("runs the per-server procedure in order, one server at a time (M1, M9)", () => {
    const actions = plan.steps.slice(0, 6).map((s) => s.action);
    expect(actions).toEqual(["disable", "backup", "stop", "install", "start", "verify"]);
    for (let i = 1; i < plan.steps.length; i++) {
      expect(plan.steps[i]!.start).toBe(plan.steps[i - 1]!.end);
      expect(plan.steps[i]!.after).toEqual([plan.steps[i - 1]!.id]);
    }
    expect(plan.steps[3]!.end - plan.steps[3]!.start).toBe(900); // install: 15m from the fleet file
  });

  it("marks the stop of srv1, the last old-release server, as the only point of no return (M4, G4)", () => {
    const pnr = plan.steps.filter((s) => s.pointOfNoReturn);
    expect(pnr.map((s) => s.id)).toEqual(["matrix-a/srv1/stop"]);
    expect(pnr[0]!.rules).toEqual(expect.arrayContaining(["M4", "G4"]));
  });

  it("sits on its lower bound, keeps the floor and verifies", () => {
    expect(plan.estimate.seconds).toBe(plan.estimate.lowerBoundSeconds);
    expect(plan.estimate.minCapacity).toBe(0.66);
    expect(plan.verification).toMatchObject({ ok: true, violations: [] });
    expect(plan.verification.statesChecked).toBeGreaterThan(plan.steps.length);
  });

  it("orders addresses numerically per octet: 10.10.1.10 before 10.10.1.9", () => {
    const c = matrixCluster("m", 3);
    c.servers[0]!.address = "10.10.1.9";
    c.servers[1]!.address = "10.10.1.10";
    c.servers[2]!.address = "10.10.1.2";
    const p = planUpgrade(fleetOf([c]), { to: "3.5.1" });
    expect(p.steps.filter((s) => s.action === "install").map((s) => s.server)).toEqual([
      "m-s2",
      "m-s1",
      "m-s3",
    ]);
  });

  it("is deterministic: the same input gives the same plan, byte for byte", () => {
    const again = planUpgrade(loadExample("matrix-seed.yaml"), { to: "3.5.1" });
    expect(JSON.stringify(again)).toBe(JSON.stringify(plan));
  });

  it("refuses a source outside the supported paths, naming them (M8)", () => {
    let err: RollgateError | undefined;
    try {
      planUpgrade(fleetOf([matrixCluster("m", 3, "3.4.2")]), { to: "3.5.1" });
    } catch (e) {
      err = e as RollgateError;
    }
    expect(err?.code).toBe("ROLLGATE_E_PLAN_UNSUPPORTED_PATH");
    expect(err?.message).toContain("3.5.1 from 3.1.2 or 3.5.0; 3.6.0 from 3.4.x; 4.1.0 from 3.6.x");
    expect(() => planUpgrade(fleetOf([matrixCluster("m", 3, "3.4.2")]), { to: "3.6.0" })).not.toThrow();
  });

  it("refuses a target that is not newer, an unknown strategy, a bad target, an unreachable floor", () => {
    const f = loadExample("matrix-seed.yaml");
    expect(codeOf(() => planUpgrade(f, { to: "3.5.0" }))).toBe("ROLLGATE_E_PLAN_TARGET_NOT_NEWER");
    expect(codeOf(() => planUpgrade(f, { to: "3.1.2" }))).toBe("ROLLGATE_E_PLAN_TARGET_NOT_NEWER");
    expect(codeOf(() => planUpgrade(f, { to: "3.5.1", strategy: "fastest" }))).toBe(
      "ROLLGATE_E_PLAN_UNKNOWN_STRATEGY",
    );
    expect(codeOf(() => planUpgrade(f, { to: "3.5.1", strategy: "incremental" }))).toBe(
      "ROLLGATE_E_PLAN_STRATEGY_NOT_APPLICABLE",
    );
    expect(codeOf(() => planUpgrade(f, { to: "v3" }))).toBe("ROLLGATE_E_PLAN_BAD_TARGET");
    expect(codeOf(() => planUpgrade(f, { to: "nosuch=3.5.1" }))).toBe("ROLLGATE_E_PLAN_BAD_TARGET");
    const strict = { ...f, defaults: { ...f.defaults, capacityFloor: 1 } };
    expect(codeOf(() => planUpgrade(strict, { to: "3.5.1" }))).toBe("ROLLGATE_E_PLAN_FLOOR_UNREACHABLE");
  });

  it("runs generic clusters in declared order, maxUnavailable at a time within the floor (G2, G3)", () => {
    const c = genericCluster("kv", 6, "2.4.1", 7, { maxUnavailable: 2, order: { by: "name" } });
    const p = planUpgrade(fleetOf([c], [], 0.5), { to: "2.5.0" });
    const installs = p.steps.filter((s) => s.action === "install");
    expect(installs.map((s) => s.server)).toEqual(["kv-s1", "kv-s2", "kv-s3", "kv-s4", "kv-s5", "kv-s6"]);
    expect(installs[0]!.start).toBe(installs[1]!.start); // a batch of two
    expect(p.estimate.seconds).toBe(p.estimate.lowerBoundSeconds);
    expect(p.estimate.minCapacity).toBeGreaterThanOrEqual(0.5);
    // G1: a generic rolling upgrade across incompatible releases is refused
    expect(codeOf(() => planUpgrade(fleetOf([c]), { to: "3.0.0" }))).toBe("ROLLGATE_E_PLAN_UNSUPPORTED_PATH");
  });
});

describe("a matrix already part-upgraded (M3)", () => {
  // servers s1..sN at 10.0.1.1..N: the upgrade order (M2) is sN first
  const partly = (n: number, upgraded: number[]) => {
    const c = matrixCluster("m", n);
    for (const i of upgraded) c.servers[i]!.version = "3.5.1";
    return fleetOf([c], [], 0);
  };

  it("goes on in order from servers already upgraded at the top of the address order", () => {
    const plan = planUpgrade(partly(4, [3, 2]), { to: "3.5.1" });
    expect(plan.steps.filter((s) => s.action === "install").map((s) => s.server)).toEqual(["m-s2", "m-s1"]);
    expect(plan.verification.ok).toBe(true);
  });

  it("refuses a fleet upgraded out of order as bad input, naming M3 and the manual's correction", () => {
    let error: unknown;
    try {
      planUpgrade(partly(3, [0]), { to: "3.5.1" });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RollgateError);
    const e = error as RollgateError;
    expect(e.code).toBe("ROLLGATE_E_PLAN_FLEET_BREAKS_RULES");
    expect(e.message).toContain("M3: m-s1 (10.0.1.1) runs 3.5.1 while m-s3 (10.0.1.3)");
    expect(e.message).toContain("start it last");
    expect(e.message).toContain("--correct-out-of-order");
  });

  it("plans every part-upgraded matrix whose new-release servers are a top segment, refuses the others (never a planner bug)", () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 9 })
          .chain((n) =>
            fc.tuple(
              fc.constant(n),
              fc.uniqueArray(fc.integer({ min: 0, max: n - 1 }), { maxLength: n - 1 }),
            ),
          ),
        ([n, upgraded]) => {
          // top segment: the upgraded servers are the highest addresses
          const top = upgraded.every((i) => i >= n - upgraded.length);
          const code = codeOf(() => planUpgrade(partly(n, upgraded), { to: "3.5.1" }));
          expect(code).toBe(top ? undefined : "ROLLGATE_E_PLAN_FLEET_BREAKS_RULES");
        },
      ),
      { numRuns: 200, seed: 20261130 },
    );
  });
});
