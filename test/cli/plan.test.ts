import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.ts";
import { e2eTimeouts } from "../helpers/wait.ts";

e2eTimeouts(60_000);

describe("rollgate plan", () => {
  it("--json orders the seed's servers srv3, srv2, srv1 and marks srv1's stop as the point of no return", async () => {
    const r = await runCli(["plan", "examples/matrix-seed.yaml", "--to", "3.5.1", "--json"]);
    expect(r.code).toBe(0);
    const plan = JSON.parse(r.stdout);
    expect(plan).toMatchObject({
      target: "3.5.1",
      strategy: "rolling",
      verification: { ok: true, violations: [] },
    });
    const installs = plan.steps.filter((s: { action: string }) => s.action === "install");
    expect(installs.map((s: { server: string }) => s.server)).toEqual(["srv3", "srv2", "srv1"]);
    const pnr = plan.steps.filter((s: { pointOfNoReturn: boolean }) => s.pointOfNoReturn);
    expect(pnr).toMatchObject([{ action: "stop", server: "srv1", cluster: "matrix-a" }]);
    expect(plan.estimate).toMatchObject({ minCapacity: 0.66 });
    expect(plan.estimate.seconds).toBe(plan.estimate.lowerBoundSeconds);
    for (const s of plan.steps)
      expect(Object.keys(s)).toEqual(
        expect.arrayContaining([
          "id",
          "action",
          "cluster",
          "after",
          "start",
          "end",
          "rules",
          "pointOfNoReturn",
        ]),
      );
  });

  it("prints a readable timeline with a ⚠ marker and a summary; --explain adds the rules", async () => {
    const r = await runCli(["plan", "examples/matrix-seed.yaml", "--to", "3.5.1", "--explain"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/⚠ .*matrix-a\/srv1\s+stop/);
    expect(r.stdout).toMatch(
      /M2 numerically highest matrix-known address first.*srv3 is known to the matrix as 10\.10\.1\.3/,
    );
    expect(r.stdout).toMatch(/verification\s+ok, \d+ states checked/);
    expect(r.stdout).toMatch(/min capacity\s+66% in service \(floor 60%\)/);
  });

  it("--compare shows the strategies side by side", async () => {
    const r = await runCli(["plan", "examples/dma-supercluster.yaml", "--to", "10.1.0", "--compare"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/incremental\s+\S+\s+\S+\s+60%\s+0s/);
    expect(r.stdout).toMatch(/maintenance-window\s+.*\s+0%\s+/);
    expect(r.stdout).toMatch(/auto picks incremental/);
    const j = await runCli([
      "plan",
      "examples/dma-supercluster.yaml",
      "--to",
      "10.1.0",
      "--compare",
      "--json",
    ]);
    expect(JSON.parse(j.stdout).strategies).toHaveLength(2);
  });

  it("plans a mixed fleet with per-pack targets", async () => {
    const r = await runCli([
      "plan",
      "examples/mixed-fleet.yaml",
      "--to",
      "polyserve-matrix=3.5.1",
      "--to",
      "polycom-dma=10.1.0",
      "--to",
      "generic=2.5.0",
      "--json",
    ]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ strategy: "incremental", verification: { ok: true } });
  });

  it("refuses bad input with exit 2 and a coded message, no stack trace", async () => {
    const cases: Array<[string[], RegExp]> = [
      [["plan", "examples/matrix-seed.yaml"], /--to VERSION is required.*ROLLGATE_E_USAGE/],
      [["plan", "examples/matrix-seed.yaml", "--to", "latest"], /not a release.*ROLLGATE_E_PLAN_BAD_TARGET/],
      [["plan", "examples/matrix-seed.yaml", "--to", "3.5.0"], /not newer.*ROLLGATE_E_PLAN_TARGET_NOT_NEWER/],
      [
        ["plan", "examples/matrix-seed.yaml", "--to", "4.1.0"],
        /3\.5\.1 from 3\.1\.2 or 3\.5\.0.*UNSUPPORTED_PATH/,
      ],
      [["plan", "examples/matrix-seed.yaml", "--to", "3.5.1", "--strategy", "yolo"], /UNKNOWN_STRATEGY/],
      [
        ["plan", "examples/dma-supercluster.yaml", "--to", "10.1.0", "--strategy", "maintenance-window"],
        /FLOOR_UNREACHABLE/,
      ],
      [
        ["plan", "test/fixtures/out-of-order.yaml", "--to", "3.5.1"],
        /already breaks the rules: M3: srv1 .*correct-out-of-order.*ROLLGATE_E_PLAN_FLEET_BREAKS_RULES/,
      ],
    ];
    for (const [args, re] of cases) {
      const r = await runCli(args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr).toMatch(re);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });
});
