import { describe, expect, it } from "vitest";
import type { Fleet } from "../../src/model/fleet.ts";
import { planUpgrade } from "../../src/plan/planner.ts";
import type { Step } from "../../src/model/step.ts";
import type { Plan } from "../../src/plan/types.ts";
import { verifyPlan } from "../../src/plan/verify.ts";
import { loadExample } from "./fleets.ts";

const seed = loadExample("matrix-seed.yaml");
const east = loadExample("dma-supercluster.yaml");

/** Verifies a corrupted copy of a plan's steps. */
function corrupt(fleet: Fleet, plan: Plan, edit: (steps: Step[], byId: (id: string) => Step) => unknown) {
  let steps: Step[] = structuredClone(plan.steps);
  const byId = (id: string) => {
    const s = steps.find((x) => x.id === id);
    if (!s) throw new Error(`no step ${id}`);
    return s;
  };
  const edited = edit(steps, byId);
  if (Array.isArray(edited)) steps = edited as Step[];
  return verifyPlan(fleet, steps, new Map(Object.entries(plan.targets)));
}

const rulesOf = (r: { violations: { rule: string }[] }) => [...new Set(r.violations.map((v) => v.rule))];

describe("the verifier names the broken rule of a corrupted plan", () => {
  const matrix = planUpgrade(seed, { to: "3.5.1" });
  const patch = planUpgrade(east, { to: "10.0.2" });
  const inc = planUpgrade(east, { to: "10.1.0" });

  it("accepts the planner's plans", () => {
    for (const p of [matrix, patch, inc]) {
      const r = verifyPlan(p === matrix ? seed : east, p.steps, new Map(Object.entries(p.targets)));
      expect(r.violations).toEqual([]);
      expect(r.statesChecked).toBe(p.verification.statesChecked);
    }
  });

  it("swapping two matrix installs breaks M2 (and the procedure, M9)", () => {
    const r = corrupt(seed, matrix, (_s, byId) => {
      byId("matrix-a/srv3/install").server = "srv2";
      byId("matrix-a/srv2/install").server = "srv3";
    });
    expect(r.ok).toBe(false);
    expect(rulesOf(r)).toContain("M2");
    expect(r.violations.find((v) => v.rule === "M2")).toMatchObject({
      step: "matrix-a/srv3/install",
      branch: "during",
    });
  });

  it("upgrading srv2 before srv3 breaks M2; starting a lower server first breaks M3", () => {
    const swapped = corrupt(seed, matrix, (steps) => {
      for (const s of steps)
        if (s.server === "srv3") s.server = "srv2";
        else if (s.server === "srv2") s.server = "srv3";
    });
    expect(rulesOf(swapped)).toContain("M2");
    expect(swapped.violations[0]!.detail).toMatch(/srv3 \(10\.10\.1\.3\)/);
    // srv1 (the lowest address) upgraded and started first: the old-release servers above it go
    // isolated the moment it runs the new release beside them
    const lowestFirst = corrupt(seed, matrix, (steps) => {
      for (const s of steps)
        if (s.server === "srv3") s.server = "srv1";
        else if (s.server === "srv1") s.server = "srv3";
    });
    expect(rulesOf(lowestFirst)).toContain("M3");
    expect(lowestFirst.violations.find((v) => v.rule === "M3")).toMatchObject({
      step: "matrix-a/srv3/start",
    });
    expect(lowestFirst.violations.find((v) => v.rule === "M3")!.detail).toMatch(
      /still runs 3\.5\.0 and is higher in the address order: starting srv1 on 3\.5\.1 would isolate the old servers/,
    );
  });

  it("dropping a territory reassignment breaks D4 when the cluster leaves", () => {
    const r = corrupt(east, inc, (steps) =>
      steps
        .filter((s) => s.id !== "dma-bos/reassign-territories")
        .map((s) => ({ ...s, after: s.after.filter((a) => a !== "dma-bos/reassign-territories") })),
    );
    expect(rulesOf(r)).toContain("D4");
    expect(r.violations.find((v) => v.rule === "D4")!.detail).toMatch(/dma-bos is still (primary|backup)/);
  });

  it("joining in the wrong direction breaks D10", () => {
    const r = corrupt(east, inc, (_s, byId) => {
      const j = byId("dma-bos/join-supercluster");
      j.cluster = "dma-nyc";
      j.joins = "dma-bos";
    });
    expect(rulesOf(r)).toContain("D10");
  });

  it("taking two clusters out at once breaks the capacity floor G3", () => {
    const r = corrupt(east, patch, (steps) => {
      const shift = 3180; // dma-bos's chain moved onto dma-nyc's
      for (const s of steps)
        if (s.cluster === "dma-bos") {
          s.start -= shift;
          s.end -= shift;
          s.after = [];
        }
    });
    expect(rulesOf(r)).toContain("G3");
    expect(r.violations.find((v) => v.rule === "G3")!.detail).toMatch(
      /30% of its capacity in service, below the floor 60%/,
    );
  });

  it("an unmarked point of no return breaks G4", () => {
    const r = corrupt(seed, matrix, (_s, byId) => {
      byId("matrix-a/srv1/stop").pointOfNoReturn = false;
    });
    expect(rulesOf(r)).toEqual(["G4"]);
  });

  it("installing an incompatible release inside the supercluster breaks D4/D2", () => {
    const r = corrupt(east, inc, (_s, byId) => {
      const leave = byId("dma-bos/leave-supercluster");
      const install = byId("dma-bos/install");
      leave.start = install.end;
      leave.end = install.end + 120;
      install.start -= 120;
      install.after = [];
    });
    expect(rulesOf(r)).toEqual(expect.arrayContaining(["D4", "D2"]));
  });

  it("checks the failed branch: a reassignment that may land before its target is back breaks D4", () => {
    // the reassignment for dma-phl's window, handing us-mid to dma-bos alone, started while
    // dma-bos has rejoined but is not back in service: if it fails after taking effect, nobody
    // serves us-mid; if it lands at its end, dma-bos is back
    const back = inc.steps.find((s) => s.id === "dma-bos/return-to-service")!;
    const r = corrupt(east, inc, (_s, byId) => {
      const re = byId("dma-nyc/reassign-territories-for-dma-phl");
      re.start = back.start;
      re.end = back.end;
      re.territories = [
        { name: "us-mid", primary: "dma-bos" },
        ...re.territories!.filter((t) => t.name !== "us-mid"),
      ];
      // and without the dependencies that would keep it after dma-bos's return
      re.after = re.after.filter((a) => byId(a).end <= re.start);
    });
    const failed = r.violations.filter((v) => v.branch === "failed");
    expect(failed.length).toBeGreaterThan(0);
    expect(failed[0]!.rule).toBe("D4");
    expect(r.violations.filter((v) => v.branch !== "failed")).toEqual([]);
  });

  it("a reassignment to clusters of another supercluster breaks D4", () => {
    const r = corrupt(east, inc, (_s, byId) => {
      byId("dma-nyc/reassign-territories-for-dma-phl").cluster = "dma-phl";
    });
    expect(rulesOf(r)).toContain("D4");
    expect(r.violations.find((v) => v.rule === "D4")!.detail).toMatch(/not a member of sc-east/);
  });

  it("a dropped step leaves the fleet short of its target", () => {
    const r = corrupt(seed, matrix, (steps) => steps.filter((s) => !s.id.startsWith("matrix-a/srv1/")));
    expect(rulesOf(r)).toContain("M6");
  });

  it("counts the states it checked, failure branches included", () => {
    expect(inc.verification.statesChecked).toBeGreaterThan(2 * new Set(inc.steps.map((s) => s.start)).size);
  });
});
