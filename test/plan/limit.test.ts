import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { RollgateError } from "../../src/model/errors.ts";
import { planUpgrade } from "../../src/plan/planner.ts";
import { verifyPlan } from "../../src/plan/verify.ts";
import { readFileSync } from "node:fs";
import { parseFleetText } from "../../src/model/fleet-file.ts";
import { loadExample } from "./fleets.ts";
import { buildFleet, fleetArb, targetsFor } from "./random-fleets.ts";

/** `--limit` (docs/planning.md, "A subset at a time"): only the clusters it names are planned. */
const MIXED_TO = ["polyserve-matrix=3.5.1", "polycom-dma=10.1.0", "generic=2.5.0"];

function refusal(f: () => unknown): RollgateError {
  try {
    f();
  } catch (e) {
    if (e instanceof RollgateError) return e;
    throw e;
  }
  throw new Error("not refused");
}

describe("plan --limit", () => {
  const fleet = loadExample("mixed-fleet.yaml");

  it("a matrix: only its servers get steps; the rest is left alone, not in --limit", () => {
    const plan = planUpgrade(fleet, { to: MIXED_TO, limit: ["matrix-a"] });
    expect(new Set(plan.steps.map((s) => s.cluster))).toEqual(new Set(["matrix-a"]));
    expect(plan.targets).toEqual({ "matrix-a": "3.5.1" });
    expect(plan.limit).toEqual(["matrix-a"]);
    expect(plan.leftAlone).toEqual([
      { cluster: "dma-nyc", supercluster: "sc-east", reason: "not in --limit" },
      { cluster: "dma-bos", supercluster: "sc-east", reason: "not in --limit" },
      { cluster: "dma-lab", supercluster: "sc-east", reason: "not in --limit" },
      { cluster: "kv-store", reason: "not in --limit" },
    ]);
    expect(plan.verification.ok).toBe(true);
  });

  it("the union of a supercluster and a pack; a short pack name; a cluster with no target is said so", () => {
    const plan = planUpgrade(fleet, { to: ["polycom-dma=10.1.0"], limit: ["sc-east", "generic"] });
    expect(new Set(plan.steps.map((s) => s.cluster))).toEqual(new Set(["dma-nyc", "dma-bos", "dma-lab"]));
    expect(plan.leftAlone).toEqual([
      { cluster: "matrix-a", reason: "not in --limit" },
      { cluster: "kv-store", reason: "in --limit, but no --to target" },
    ]);
    const dma = planUpgrade(fleet, { to: MIXED_TO, limit: ["dma"] });
    expect(Object.keys(dma.targets).sort()).toEqual(["dma-bos", "dma-lab", "dma-nyc"]);
  });

  it("a bare --to that some clusters outside the limit could not take plans the limit only", () => {
    // 3.5.1 is no upgrade of the DMA or generic clusters: outside the limit, never looked at
    const plan = planUpgrade(fleet, { to: "3.5.1", limit: ["matrix"] });
    expect(plan.targets).toEqual({ "matrix-a": "3.5.1" });
  });

  it("half a supercluster in an incompatible upgrade is refused with D2; in a patch with D3", () => {
    const d2 = refusal(() => planUpgrade(fleet, { to: MIXED_TO, limit: ["dma-nyc"] }));
    expect(d2.code).toBe("ROLLGATE_E_PLAN_LIMIT_SPLITS_SUPERCLUSTER");
    expect(d2.message).toMatch(/^D2: --limit takes dma-nyc but not dma-bos, dma-lab of supercluster sc-east/);
    expect(d2.message).toContain("--limit sc-east");
    const d3 = refusal(() =>
      planUpgrade(fleet, { to: ["polycom-dma=10.0.2"], limit: ["dma-nyc", "kv-store"] }),
    );
    expect(d3.code).toBe("ROLLGATE_E_PLAN_LIMIT_SPLITS_SUPERCLUSTER");
    expect(d3.message).toMatch(/^D3: /);
  });

  it("a DMA cluster in no supercluster is its own unit: named alone, it is planned alone", () => {
    const path = new URL("../../examples/mixed-fleet.yaml", import.meta.url).pathname;
    const text = readFileSync(path, "utf8");
    const standalone = text
      .slice(0, text.indexOf("superclusters:"))
      .replace(/capacityFloor: .*/, "capacityFloor: 0");
    const r = parseFleetText(standalone, path);
    if (!r.ok) throw new Error("the standalone fleet does not validate");
    const plan = planUpgrade(r.fleet, { to: ["polycom-dma=10.1.0"], limit: ["dma-nyc"] });
    expect(new Set(plan.steps.map((s) => s.cluster))).toEqual(new Set(["dma-nyc"]));
    expect(plan.leftAlone?.map((l) => l.cluster)).toEqual(["matrix-a", "dma-bos", "dma-lab", "kv-store"]);
    expect(plan.verification.ok).toBe(true);
  });

  it("a server, an unknown name (with a close one), and a limit with nothing to plan are bad input", () => {
    const server = refusal(() => planUpgrade(fleet, { to: MIXED_TO, limit: ["srv2"] }));
    expect(server.code).toBe("ROLLGATE_E_PLAN_BAD_LIMIT");
    expect(server.message).toContain("srv2 is a server of cluster matrix-a");
    const typo = refusal(() => planUpgrade(fleet, { to: MIXED_TO, limit: ["sc-eest"] }));
    expect(typo.code).toBe("ROLLGATE_E_PLAN_BAD_LIMIT");
    expect(typo.message).toContain("did you mean sc-east?");
    const none = refusal(() => planUpgrade(fleet, { to: ["polycom-dma=10.1.0"], limit: ["matrix"] }));
    expect(none.code).toBe("ROLLGATE_E_PLAN_BAD_LIMIT");
  });

  it("property: a limited plan touches nothing outside the limit and verifies against the whole fleet", () => {
    fc.assert(
      fc.property(fleetArb, fc.array(fc.nat(), { minLength: 1, maxLength: 3 }), (r, picks) => {
        const fleet = buildFleet(r);
        // the units a limit may name: a matrix or generic cluster, a supercluster, a pack
        const units = [
          ...fleet.clusters.filter((c) => c.supercluster === undefined).map((c) => c.name),
          ...fleet.superclusters.map((s) => s.name),
          "matrix",
          "dma",
          "generic",
        ];
        const limit = [...new Set(picks.map((p) => units[p % units.length]!))];
        const to = targetsFor(fleet, r.incompatible);
        let plan: ReturnType<typeof planUpgrade>;
        try {
          plan = planUpgrade(fleet, { to, limit });
        } catch (e) {
          // a floor no plan can keep, or a limit of packs the fleet has none of
          expect(["ROLLGATE_E_PLAN_FLOOR_UNREACHABLE", "ROLLGATE_E_PLAN_BAD_LIMIT"]).toContain(
            (e as { code?: string }).code,
          );
          return;
        }
        const inside = new Set(
          fleet.clusters
            .filter(
              (c) =>
                limit.includes(c.name) ||
                (c.supercluster !== undefined && limit.includes(c.supercluster)) ||
                limit.includes(c.pack) ||
                (limit.includes("matrix") && c.pack === "polyserve-matrix") ||
                (limit.includes("dma") && c.pack === "polycom-dma"),
            )
            .map((c) => c.name),
        );
        for (const s of plan.steps) expect(inside.has(s.cluster), s.id).toBe(true);
        for (const c of Object.keys(plan.targets)) expect(inside.has(c), c).toBe(true);
        for (const l of plan.leftAlone ?? []) expect(plan.targets[l.cluster]).toBeUndefined();
        expect((plan.leftAlone ?? []).length + Object.keys(plan.targets).length).toBe(fleet.clusters.length);
        // verified again here, over the whole fleet: the clusters left alone stay as they are
        const v = verifyPlan(fleet, plan.steps, new Map(Object.entries(plan.targets)));
        expect(v.violations).toEqual([]);
      }),
      { numRuns: 60 },
    );
  });
});
