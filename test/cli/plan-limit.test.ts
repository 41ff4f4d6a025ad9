import { describe, expect, it } from "vitest";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO, runCli, tempDir } from "../helpers/cli.ts";
import { e2eTimeouts } from "../helpers/wait.ts";

e2eTimeouts(60_000);

/** `rollgate plan --limit` on the examples, through the real CLI (docs/planning.md, "A subset at a time"). */
const MIXED = [
  "plan",
  "examples/mixed-fleet.yaml",
  "--to",
  "polyserve-matrix=3.5.1",
  "--to",
  "polycom-dma=10.1.0",
];

describe("rollgate plan --limit", () => {
  it("--json: only the limited supercluster has steps; what is left alone is listed with why", async () => {
    const r = await runCli([...MIXED, "--limit", "sc-east", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const plan = JSON.parse(r.stdout);
    expect(new Set(plan.steps.map((s: { cluster: string }) => s.cluster))).toEqual(
      new Set(["dma-nyc", "dma-bos", "dma-lab"]),
    );
    expect(plan.limit).toEqual(["sc-east"]);
    expect(plan.leftAlone).toEqual([
      { cluster: "matrix-a", reason: "not in --limit" },
      { cluster: "kv-store", reason: "not in --limit" },
    ]);
    expect(plan.verification).toMatchObject({ ok: true, violations: [] });
  });

  it("text: the limit and every cluster left alone, before the steps", async () => {
    const r = await runCli([...MIXED, "--limit", "matrix", "--limit", "kv-store"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("limit: matrix, kv-store");
    expect(r.stdout).toContain("left alone: dma-nyc (sc-east): not in --limit");
    expect(r.stdout).toContain("left alone: kv-store: in --limit, but no --to target");
    expect(r.stdout).not.toMatch(/dma-nyc\s+\S+\s+(busy-out|install)/);
    expect(r.stdout).toContain("verification  ok");
  });

  it("--compare takes the limit too", async () => {
    const r = await runCli([...MIXED, "--limit", "matrix-a", "--compare", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    // the strategies of matrix-a alone: rolling and M12's two alternatives, none of the DMA ones
    expect(JSON.parse(r.stdout).strategies.map((s: { strategy: string }) => s.strategy)).toEqual([
      "rolling",
      "all-at-once",
      "two-halves",
    ]);
  });

  it("refuses half a supercluster (D2), a server and an unknown name: exit 2, a coded message, no stack", async () => {
    const cases: Array<[string, RegExp]> = [
      [
        "dma-nyc",
        /D2: --limit takes dma-nyc but not dma-bos, dma-lab of supercluster sc-east.*ROLLGATE_E_PLAN_LIMIT_SPLITS_SUPERCLUSTER/s,
      ],
      ["srv3", /srv3 is a server of cluster matrix-a.*use --limit matrix-a.*ROLLGATE_E_PLAN_BAD_LIMIT/s],
      ["matrx-a", /did you mean matrix-a\?.*ROLLGATE_E_PLAN_BAD_LIMIT/s],
    ];
    for (const [name, re] of cases) {
      const r = await runCli([...MIXED, "--limit", name]);
      expect(r.code, name).toBe(2);
      expect(r.stdout).toBe("");
      expect(r.stderr).toMatch(re);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it("refuses a --to CLUSTER=V outside the limit, naming the target and the limit (a bare or pack --to is fine)", async () => {
    const r = await runCli([
      "plan",
      "examples/mixed-fleet.yaml",
      "--to",
      "matrix-a=3.5.1",
      "--to",
      "kv-store=2.5.0",
      "--limit",
      "matrix-a",
    ]);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toMatch(
      /--to kv-store=2\.5\.0: cluster kv-store is outside the --limit \(which takes matrix-a\).*ROLLGATE_E_PLAN_BAD_LIMIT/,
    );
    const ok = await runCli([...MIXED, "--limit", "matrix-a"]);
    expect(ok.code, ok.stderr).toBe(0);
  });

  it("a blank --limit says so readably", async () => {
    const r = await runCli([...MIXED, "--limit", " "]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--limit " ": the name is empty or blank.*ROLLGATE_E_PLAN_BAD_LIMIT/);
  });

  it("a cluster named like a pack: --limit refuses the ambiguity; cluster: and pack: pick one", async () => {
    const dir = tempDir();
    const fleet = join(dir, "fleet.yaml");
    writeFileSync(
      fleet,
      readFileSync(join(REPO, "examples/mixed-fleet.yaml"), "utf8").replaceAll("matrix-a", "matrix"),
    );
    const base = ["plan", fleet, "--to", "polyserve-matrix=3.5.1", "--to", "polycom-dma=10.1.0", "--json"];
    const r = await runCli([...base, "--limit", "matrix"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /"matrix" is both a cluster of fleet acme-mixed and the rule pack polyserve-matrix; say which: --limit cluster:matrix .* or --limit pack:matrix .*ROLLGATE_E_PLAN_BAD_LIMIT/,
    );
    for (const pick of ["cluster:matrix", "pack:matrix"]) {
      const p = await runCli([...base, "--limit", pick]);
      expect(p.code, p.stderr).toBe(0);
      expect(new Set(JSON.parse(p.stdout).steps.map((s: { cluster: string }) => s.cluster))).toEqual(
        new Set(["matrix"]),
      );
    }
  });
});
