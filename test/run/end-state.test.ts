import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { ServerObservation } from "../../src/drivers/driver.ts";
import type { Fleet } from "../../src/model/fleet.ts";
import { parseFleetText } from "../../src/model/fleet-file.ts";
import { planUpgrade } from "../../src/plan/planner.ts";
import { endStateProblems, plannedTerritories } from "../../src/run/end-state.ts";

/**
 * The end-state check (src/run/end-state.ts) on real plans of examples/dma-supercluster.yaml: once
 * every step is done, the supercluster's territories as its members report them must be where the
 * plan leaves them (the fleet file's assignment after the plan's reassign and restore steps).
 */

function exampleFleet(): Fleet {
  const text = readFileSync(new URL("../../examples/dma-supercluster.yaml", import.meta.url), "utf8").replace(
    "capacityFloor: 0.6",
    "capacityFloor: 0",
  );
  const r = parseFleetText(text);
  if (!r.ok) throw new Error(JSON.stringify(r.diagnostics));
  return r.fleet;
}

const TERRITORIES = [
  { name: "us-east", primary: "dma-nyc", backup: "dma-bos" },
  { name: "us-mid", primary: "dma-phl", backup: "dma-nyc" },
  { name: "us-north", primary: "dma-bos", backup: "dma-phl" },
];

/** Every server upgraded, in service, in `sc` with every cluster, seeing `territories`. */
function upgraded(fleet: Fleet, release: string, sc: string, territories: typeof TERRITORIES) {
  const members = fleet.clusters.map((c) => c.name);
  return fleet.clusters.map((cluster) => ({
    cluster,
    observations: cluster.servers.map(
      (s): ServerObservation => ({
        server: s.name,
        cluster: cluster.name,
        state: "running",
        release,
        supercluster: sc,
        superclusterMembers: members,
        inService: true,
        busiedOut: false,
        territories,
      }),
    ),
  }));
}

describe("the end-state check compares the supercluster's territories with the plan's final assignment", () => {
  it("an incremental upgrade ends with the fleet file's territories: no problem; with none left (unassigned), D6", () => {
    const fleet = exampleFleet();
    const plan = planUpgrade(fleet, { to: "10.1.0", strategy: "incremental" });
    expect(
      [...plannedTerritories(plan, fleet).values()].sort((a, b) => a.name.localeCompare(b.name)),
    ).toEqual(TERRITORIES);
    expect(endStateProblems(plan, upgraded(fleet, "10.1.0", "sc-east@10.1.0", TERRITORIES), fleet)).toEqual(
      [],
    );

    const problems = endStateProblems(plan, upgraded(fleet, "10.1.0", "sc-east@10.1.0", []), fleet);
    expect(problems).toEqual([
      expect.objectContaining({ rule: "D6", detail: expect.stringContaining("territories none") }),
    ]);
    expect(problems[0]!.detail).toContain("us-east=dma-nyc/dma-bos");
  });

  it("a maintenance window that ends with a territory on another cluster than the plan's: D5", () => {
    const fleet = exampleFleet();
    const plan = planUpgrade(fleet, { to: "10.1.0", strategy: "maintenance-window" });
    const moved = TERRITORIES.map((t) => (t.name === "us-mid" ? { ...t, primary: "dma-bos" } : t));
    const problems = endStateProblems(plan, upgraded(fleet, "10.1.0", "sc-east@10.1.0", moved), fleet);
    expect(problems).toEqual([expect.objectContaining({ rule: "D5" })]);
    expect(problems[0]!.detail).toContain("us-mid=dma-bos/dma-nyc");
    expect(endStateProblems(plan, upgraded(fleet, "10.1.0", "sc-east@10.1.0", TERRITORIES), fleet)).toEqual(
      [],
    );
  });

  it("a patch upgrade (no territory step) that ends with a territory missing: D4", () => {
    const fleet = exampleFleet();
    const plan = planUpgrade(fleet, { to: "10.0.2", strategy: "patch" });
    const problems = endStateProblems(
      plan,
      upgraded(fleet, "10.0.2", "sc-east", TERRITORIES.slice(1)),
      fleet,
    );
    expect(problems).toEqual([expect.objectContaining({ rule: "D4" })]);
    expect(endStateProblems(plan, upgraded(fleet, "10.0.2", "sc-east", TERRITORIES), fleet)).toEqual([]);
  });
});

describe("the end state of a matrix's declared passes (M11)", () => {
  const text = readFileSync(new URL("../../examples/matrix-two-pass.yaml", import.meta.url), "utf8");
  const parsed = parseFleetText(text);
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.diagnostics));
  const fleet = parsed.fleet;
  const plan = planUpgrade(fleet, { to: "3.5.1" });
  const cluster = fleet.clusters[0]!;
  const observed = (mode: (name: string) => string) => [
    {
      cluster,
      observations: cluster.servers.map(
        (s): ServerObservation => ({
          server: s.name,
          cluster: cluster.name,
          state: "running",
          release: "3.5.1",
          mode: mode(s.name),
          mounts: ["psfs1"],
        }),
      ),
    },
  ];

  it("every server on the release and in the last pass's mode: nothing to say", () => {
    expect(
      endStateProblems(
        plan,
        observed(() => "extended"),
        fleet,
      ),
    ).toEqual([]);
  });

  it("a server left in its old mode is an M11 problem, naming it", () => {
    const problems = endStateProblems(
      plan,
      observed((n) => (n === "srv1" ? "classic" : "extended")),
      fleet,
    );
    expect(problems).toEqual([{ rule: "M11", detail: "srv1 runs in mode classic, not extended" }]);
  });
});
