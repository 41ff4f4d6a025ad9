import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseFleetText } from "../../src/model/fleet-file.ts";
import type { Fleet } from "../../src/model/fleet.ts";
import { planUpgrade } from "../../src/plan/planner.ts";
import { REPO } from "../helpers/cli.ts";
import { e2eTimeouts } from "../helpers/wait.ts";

e2eTimeouts(60_000);

/**
 * A DMA supercluster after one incremental upgrade, and part way through one (an abort, a cluster
 * upgraded by hand), as `rollgate fleet sync` writes it: the plan's supercluster names round-trip
 * through the fleet file and the plan starts from where the fleet stands (G5, D6).
 */
const base = readFileSync(join(REPO, "examples", "dma-supercluster.yaml"), "utf8");

function fleetOf(text: string): Fleet {
  const r = parseFleetText(text);
  if (!r.ok) throw new Error(r.diagnostics.map((d) => `${d.code} ${d.path}: ${d.message}`).join("; "));
  return r.fleet;
}

const upgraded = base
  .replaceAll("version: 10.0.1", "version: 10.1.0")
  .replace("name: sc-east\n", "name: sc-east@10.1.0\n");
// dma-nyc left sc-east (its territories handed to dma-bos and dma-phl) and runs 10.1.0
const nycLeft = base
  .replace(/(name: dma-nyc\n\s+pack: polycom-dma\n\s+version: )10\.0\.1/, "$110.1.0")
  .replace("clusters: [dma-nyc, dma-bos, dma-phl]", "clusters: [dma-bos, dma-phl]")
  .replace(
    "{ name: us-east, primary: dma-nyc, backup: dma-bos }",
    "{ name: us-east, primary: dma-bos, backup: dma-phl }",
  )
  .replace(
    "{ name: us-mid, primary: dma-phl, backup: dma-nyc }",
    "{ name: us-mid, primary: dma-phl, backup: dma-bos }",
  );
// an abort during dma-nyc's leave: out of sc-east, still on 10.0.1 (fleet sync writes leftSupercluster)
const nycBetween = nycLeft
  .replace(/(name: dma-nyc\n\s+pack: polycom-dma\n\s+version: )10\.1\.0/, "$110.0.1")
  .replace(
    "    estimates: { install: 40m }\n",
    "    estimates: { install: 40m }\n    leftSupercluster: sc-east\n",
  );
const nycFounded = `${nycLeft}  - name: sc-east@10.1.0\n    pack: polycom-dma\n    clusters: [dma-nyc]\n`;

describe("a supercluster's name round-trips through the fleet file, and a part-done supercluster is planned from where it stands", () => {
  it("the new supercluster's name (sc-east@10.1.0) is valid in the fleet file; the next upgrade founds sc-east@10.2.0 and verifies", () => {
    const fleet = fleetOf(upgraded);
    expect(fleet.superclusters[0]!.name).toBe("sc-east@10.1.0");
    const plan = planUpgrade(fleet, { to: "10.2.0" });
    expect(plan.verification.ok).toBe(true);
    expect(plan.steps.find((s) => s.founds)?.founds).toBe("sc-east@10.2.0");
    expect(plan.steps.filter((s) => s.action === "install")).toHaveLength(3);
  });

  it("a name that is not NAME or NAME@RELEASE is still refused", () => {
    expect(parseFleetText(base.replace("name: sc-east\n", "name: sc-east@x\n")).ok).toBe(false);
    expect(parseFleetText(base.replace("name: sc-east\n", "name: sc east\n")).ok).toBe(false);
  });

  it("dma-nyc founded sc-east@10.1.0 before an abort: only its return to service, then the others join it (no second founding, no reinstall)", () => {
    const plan = planUpgrade(fleetOf(nycFounded), { to: "10.1.0" });
    expect(plan.verification.ok).toBe(true);
    const nyc = plan.steps.filter((s) => s.id.startsWith("dma-nyc/") && !s.id.includes("-for-"));
    expect(nyc.map((s) => s.action)).toEqual(["return-to-service"]);
    expect(plan.steps.some((s) => s.founds)).toBe(false);
    for (const c of ["dma-bos", "dma-phl"]) {
      const join = plan.steps.find((s) => s.id === `${c}/join-supercluster`)!;
      expect(join).toMatchObject({ joins: "dma-nyc", supercluster: "sc-east@10.1.0" });
      // it goes out only once dma-nyc is back in service (G3)
      expect(plan.steps.find((s) => s.id === `${c}/busy-out`)!.start).toBeGreaterThanOrEqual(
        plan.steps.find((s) => s.id === "dma-nyc/return-to-service")!.end,
      );
    }
    expect(plan.findings?.join("\n")).toMatch(/G5.*part way/);
    // a selector naming the old supercluster (or a cluster's) stands for the whole lineage
    expect(planUpgrade(fleetOf(nycFounded), { to: "sc-east=10.1.0" }).steps).toHaveLength(plan.steps.length);
  });

  it("dma-nyc upgraded (by hand, or before an abort) and in no supercluster: it founds sc-east@10.1.0 at its verify, returns, the others join it", () => {
    const plan = planUpgrade(fleetOf(nycLeft), { to: "10.1.0" });
    expect(plan.verification.ok).toBe(true);
    const nyc = plan.steps.filter((s) => s.id.startsWith("dma-nyc/") && !s.id.includes("-for-"));
    expect(nyc.map((s) => s.action)).toEqual(["verify", "return-to-service"]);
    expect(nyc[0]!.founds).toBe("sc-east@10.1.0");
    expect(plan.steps.filter((s) => s.action === "install").map((s) => s.cluster)).toEqual([
      "dma-bos",
      "dma-phl",
    ]);
    expect(plan.steps.find((s) => s.id === "dma-phl/leave-supercluster")!.pointOfNoReturn).toBe(true);
  });

  it("dma-nyc left sc-east and is not upgraded yet (leftSupercluster): carried on with its upgrade (no second leave), founds sc-east@10.1.0, the others join it", () => {
    const fleet = fleetOf(nycBetween);
    expect(fleet.clusters[0]).toMatchObject({ leftSupercluster: "sc-east" });
    const plan = planUpgrade(fleet, { to: "10.1.0" });
    expect(plan.verification.ok).toBe(true);
    const nyc = plan.steps.filter((s) => s.id.startsWith("dma-nyc/") && !s.id.includes("-for-"));
    expect(nyc.map((s) => s.action)).toEqual(["busy-out", "install", "verify", "return-to-service"]);
    expect(nyc[2]!.founds).toBe("sc-east@10.1.0");
    expect(plan.steps.filter((s) => s.action === "install")).toHaveLength(3);
    // without the file saying where it came from, it is a cluster on its own (D7), refused at floor 0.6
    expect(() =>
      planUpgrade(fleetOf(nycBetween.replace("    leftSupercluster: sc-east\n", "")), { to: "10.1.0" }),
    ).toThrow(/no supercluster/);
  });

  it("a maintenance window aborted during its installs (every member left sc-east, dma-nyc on 10.1.0, fleet sync kept the supercluster with each cluster marked leftSupercluster): planned from there, dma-nyc founds sc-east@10.1.0, the others are installed and join, the design's territories come back (D5, D10, G5)", () => {
    const five = readFileSync(join(REPO, "test", "fixtures", "dma-five.yaml"), "utf8");
    const left = five
      .replace(/(name: dma-nyc\n\s+pack: polycom-dma\n\s+version: )10\.0\.1/, "$110.1.0")
      .replace(/(\n {4}servers:\n)/g, "\n    leftSupercluster: sc-east$1");
    const fleet = fleetOf(left);
    // listed in sc-east and marked as having left it: a member of none now
    expect(fleet.clusters.map((c) => [c.supercluster, c.leftSupercluster])).toEqual(
      fleet.clusters.map(() => [undefined, "sc-east"]),
    );
    expect(fleet.superclusters[0]).toMatchObject({
      clusters: [],
      formerMembers: ["dma-nyc", "dma-bos", "dma-phl", "dma-dca", "dma-atl"],
    });
    const plan = planUpgrade(fleet, { to: "10.1.0" });
    expect(plan.verification.ok).toBe(true);
    const installs = plan.steps.filter((s) => s.action === "install").map((s) => s.cluster);
    expect(installs.sort()).toEqual(["dma-atl", "dma-bos", "dma-dca", "dma-phl"]);
    expect(plan.steps.filter((s) => s.action === "leave-supercluster")).toEqual([]);
    expect(plan.steps.find((s) => s.founds)).toMatchObject({ cluster: "dma-nyc", founds: "sc-east@10.1.0" });
    const joins = plan.steps.filter((s) => s.action === "join-supercluster").map((s) => s.cluster);
    expect(joins.sort()).toEqual(["dma-atl", "dma-bos", "dma-dca", "dma-phl"]);
    // every territory of the design is restored in the new supercluster
    const restored = plan.steps
      .filter((s) => s.action === "restore-territories")
      .flatMap((s) => s.territories ?? [])
      .map((t) => t.name)
      .sort();
    expect(restored).toEqual(["us-capital", "us-east", "us-mid", "us-north", "us-south"]);
    expect(plan.steps.filter((s) => s.action === "return-to-service")).toHaveLength(5);
    // the operator's own command line, repeated, is not refused: it is the rest of that window
    expect(plan.strategy).toBe("maintenance-window");
    const again = planUpgrade(fleet, { to: "10.1.0", strategy: "maintenance-window" });
    expect(again.steps.map((s) => s.id)).toEqual(plan.steps.map((s) => s.id));
  });

  it("a maintenance window aborted once every install had ended (all five on 10.1.0, all out of sc-east): the target is not refused as not newer; dma-nyc founds sc-east@10.1.0, the others join, territories restored, no install (D5, D10, G5)", () => {
    const five = readFileSync(join(REPO, "test", "fixtures", "dma-five.yaml"), "utf8");
    const fleet = fleetOf(
      five
        .replaceAll("version: 10.0.1", "version: 10.1.0")
        .replace(/(\n {4}servers:\n)/g, "\n    leftSupercluster: sc-east$1"),
    );
    const plan = planUpgrade(fleet, { to: "10.1.0" });
    expect(plan.verification.ok).toBe(true);
    expect(plan.steps.filter((s) => s.action === "install")).toEqual([]);
    expect(plan.steps.find((s) => s.founds)).toMatchObject({ cluster: "dma-nyc", founds: "sc-east@10.1.0" });
    expect(plan.steps.filter((s) => s.action === "join-supercluster")).toHaveLength(4);
    expect(plan.steps.filter((s) => s.action === "return-to-service")).toHaveLength(5);
    // a fleet with nothing left to do is still "not newer"
    expect(() =>
      planUpgrade(fleetOf(five.replaceAll("version: 10.0.1", "version: 10.1.0")), { to: "10.1.0" }),
    ).toThrow(/not newer/);
  });

  it("an abort after dma-nyc founded sc-east@10.1.0, its territories reassigned for now (fleet sync keeps the design and writes `assigned`): the plan starts from the assignment and ends on the design (D4, D6, G5)", () => {
    const designed = nycFounded
      .replace(
        "{ name: us-east, primary: dma-bos, backup: dma-phl }",
        "{ name: us-east, primary: dma-nyc, backup: dma-bos, assigned: { primary: dma-bos, backup: dma-phl } }",
      )
      .replace(
        "{ name: us-mid, primary: dma-phl, backup: dma-bos }",
        "{ name: us-mid, primary: dma-phl, backup: dma-nyc, assigned: { primary: dma-phl, backup: dma-bos } }",
      );
    expect(designed).toContain("assigned: { primary: dma-bos");
    const fleet = fleetOf(designed);
    expect(fleet.superclusters[0]!.territories[0]).toEqual({
      name: "us-east",
      primary: "dma-nyc",
      backup: "dma-bos",
      assigned: { primary: "dma-bos", backup: "dma-phl" },
    });
    const plan = planUpgrade(fleet, { to: "10.1.0" });
    expect(plan.verification.ok).toBe(true);
    // the last write of each territory is its design
    const last = new Map<string, { primary: string; backup?: string }>();
    for (const s of [...plan.steps].sort((a, b) => a.end - b.end))
      if (s.action === "restore-territories" || s.action === "reassign-territories")
        for (const t of s.territories ?? [])
          last.set(t.name, { primary: t.primary, ...(t.backup ? { backup: t.backup } : {}) });
    expect(last.get("us-east")).toEqual({ primary: "dma-nyc", backup: "dma-bos" });
    expect(last.get("us-mid")).toEqual({ primary: "dma-phl", backup: "dma-nyc" });
    // without `assigned`, a design naming dma-nyc (in sc-east@10.1.0 for now) is refused, saying what to write
    const r = parseFleetText(designed.replace(", assigned: { primary: dma-bos, backup: dma-phl }", ""));
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.diagnostics.map((d) => d.expected ?? d.message).join(" ")).toContain("assigned");
  });
});
