import { describe, expect, it } from "vitest";
import type { ServerObservation } from "../../src/drivers/driver.ts";
import type { Cluster } from "../../src/model/fleet.ts";
import type { Step } from "../../src/model/step.ts";
import { preconditionProblems } from "../../src/run/preconditions.ts";

/** The rules a step relies on, judged on fresh observations (src/run/preconditions.ts). */
const dma: Cluster = {
  name: "dma-nyc",
  pack: "polycom-dma",
  version: "10.0.1",
  capacity: 1,
  estimates: {},
  filesystems: [],
  supercluster: "sc-east",
  servers: [
    { name: "nyc-1", address: "10.20.1.1", version: "10.0.1", interfaces: [] },
    { name: "nyc-2", address: "10.20.1.2", version: "10.0.1", interfaces: [] },
  ],
} as unknown as Cluster;
const matrix: Cluster = {
  ...dma,
  name: "mx",
  pack: "polyserve-matrix",
  supercluster: undefined,
  servers: [
    { name: "srv1", address: "10.10.1.1", version: "3.5.0", interfaces: [] },
    { name: "srv2", address: "10.10.1.2", version: "3.5.0", interfaces: [] },
    { name: "srv3", address: "10.10.1.10", version: "3.5.0", interfaces: [] },
  ],
} as unknown as Cluster;

const step = (over: Partial<Step>): Step =>
  ({
    id: "x",
    cluster: "dma-nyc",
    after: [],
    start: 0,
    end: 1,
    rules: [],
    pointOfNoReturn: false,
    ...over,
  }) as Step;
const obs = (server: string, over: Partial<ServerObservation>): ServerObservation => ({
  server,
  cluster: "c",
  state: "running",
  release: "10.0.1",
  ...over,
});

describe("preconditions on observed state", () => {
  it("D4: an incompatible install of a cluster observed in a supercluster is held back", () => {
    const install = step({ action: "install", rules: ["D2", "D4", "D7"] });
    const inSc = [obs("nyc-1", { supercluster: "sc-east" }), obs("nyc-2", { supercluster: "sc-east" })];
    expect(preconditionProblems({ step: install, cluster: dma, observations: inSc }, "10.1.0")).toEqual([
      expect.objectContaining({ rule: "D4" }),
    ]);
    const out = inSc.map((o) => ({ ...o, supercluster: null }));
    expect(preconditionProblems({ step: install, cluster: dma, observations: out }, "10.1.0")).toEqual([]);
    // a patch (D3) installs inside the supercluster
    const patch = step({ action: "install", rules: ["D3", "D7"] });
    expect(preconditionProblems({ step: patch, cluster: dma, observations: inSc }, "10.0.2")).toEqual([]);
  });

  it("D4: a leave needs the cluster busied out, out of service, every server online; D1/D2 for a join", () => {
    const leave = step({ action: "leave-supercluster" });
    const serving = [obs("nyc-1", { inService: true, busiedOut: false }), obs("nyc-2", { state: "stopped" })];
    expect(
      preconditionProblems({ step: leave, cluster: dma, observations: serving }, "10.1.0").map((p) => p.rule),
    ).toEqual(["D4", "D4"]);
    const join = step({ action: "join-supercluster", joins: "dma-bos", supercluster: "sc-east@10.1.0" });
    const old = [obs("nyc-1", { supercluster: "sc-east" }), obs("nyc-2", { supercluster: "sc-east" })];
    expect(
      preconditionProblems({ step: join, cluster: dma, observations: old }, "10.1.0").map((p) => p.rule),
    ).toEqual(["D1", "D2"]);
  });

  it("D4: a leave is held back while the cluster still serves a territory of its supercluster (its own view), unless it is the last member", () => {
    const leave = step({ action: "leave-supercluster" });
    const ready = { inService: false, busiedOut: true, superclusterMembers: ["dma-nyc", "dma-bos"] };
    const holding = [
      obs("nyc-1", { ...ready, territories: [{ name: "us-east", primary: "dma-bos", backup: "dma-nyc" }] }),
      obs("nyc-2", { ...ready, territories: [{ name: "us-east", primary: "dma-bos", backup: "dma-nyc" }] }),
    ];
    const problems = preconditionProblems({ step: leave, cluster: dma, observations: holding }, "10.0.1");
    expect(problems).toEqual([expect.objectContaining({ rule: "D4" })]);
    expect(problems[0]!.detail).toContain("us-east (backup)");
    const moved = holding.map((o) => ({ ...o, territories: [{ name: "us-east", primary: "dma-bos" }] }));
    expect(preconditionProblems({ step: leave, cluster: dma, observations: moved }, "10.0.1")).toEqual([]);
    const last = holding.map((o) => ({ ...o, superclusterMembers: ["dma-nyc"] }));
    expect(preconditionProblems({ step: leave, cluster: dma, observations: last }, "10.0.1")).toEqual([]);
  });

  it("M2: a server begins only once every server above it in the numeric address order runs the target", () => {
    const disable = step({ action: "disable", cluster: "mx", server: "srv2" });
    const seen = [
      obs("srv1", { release: "3.5.0" }),
      obs("srv2", { release: "3.5.0" }),
      obs("srv3", { release: "3.5.0" }), // 10.10.1.10 is above 10.10.1.2
    ];
    const problems = preconditionProblems(
      { step: disable, cluster: matrix, observations: [seen[1]!], matrix: seen },
      "3.5.1",
    );
    expect(problems).toEqual([expect.objectContaining({ rule: "M2" })]);
    expect(problems[0]!.detail).toContain("srv3 (10.10.1.10) runs 3.5.0");
    const upgraded = seen.map((o) => (o.server === "srv3" ? { ...o, release: "3.5.1" } : o));
    expect(
      preconditionProblems(
        { step: disable, cluster: matrix, observations: [seen[1]!], matrix: upgraded },
        "3.5.1",
      ),
    ).toEqual([]);
  });

  it("M11: a mode change only while the servers run one release and no third mode; a release change only while they run one mode; nothing is sent otherwise", () => {
    const pass = { n: 2, of: 2, to: "3.5.1", mode: "extended", rule: "M11" };
    const setMode = step({ action: "set-mode", cluster: "mx", server: "srv2", mode: "extended", pass });
    const at = (release: string, mode: string) => ({ release, mode, state: "stopped" as const });
    const ok = [
      obs("srv1", at("3.5.1", "classic")),
      obs("srv2", at("3.5.1", "classic")),
      obs("srv3", at("3.5.1", "extended")),
    ];
    const ask = (matrix: ServerObservation[], s = setMode) =>
      preconditionProblems(
        { step: s, cluster: matrixOn("3.5.1"), observations: [matrix[1]!], matrix },
        "3.5.1",
      );
    expect(ask(ok)).toEqual([]);
    const twoReleases = ok.map((o) => (o.server === "srv1" ? { ...o, release: "3.5.0" } : o));
    expect(ask(twoReleases)).toEqual([expect.objectContaining({ rule: "M11" })]);
    expect(ask(twoReleases)[0]!.detail).toContain("3.5.0 and 3.5.1");
    const third = ok.map((o) => (o.server === "srv3" ? { ...o, mode: "turbo" } : o));
    expect(ask(third)[0]!.detail).toContain("srv3 runs in mode turbo");
    const install = step({ action: "install", cluster: "mx", server: "srv2", release: "4.1.0" });
    expect(ask(ok, install)).toEqual([expect.objectContaining({ rule: "M11" })]);
  });
});

/** The matrix above with every server on `release`. */
function matrixOn(release: string): Cluster {
  return { ...matrix, servers: matrix.servers.map((s) => ({ ...s, version: release })) };
}
