import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { REPO } from "../helpers/cli.ts";
import { startEngine } from "../helpers/engine.ts";
import { e2eTimeouts, waitFor } from "../helpers/wait.ts";
import { journeyLab } from "./engine-helpers.ts";

e2eTimeouts(90_000);

/**
 * `apply --limit`: an operator upgrades one matrix of two, in the lab. The lab's own journal
 * decides: only the limited matrix's servers were installed; the run records its limit, which
 * `status` shows and `resume` keeps, and another limit is refused.
 */
const TWO_MATRICES = `apiVersion: rollgate/v1
fleet: two-matrices
defaults:
  capacityFloor: 0.5
clusters:
${["east", "west"]
  .map(
    (m, k) => `  - name: matrix-${m}
    pack: polyserve-matrix
    version: 3.5.0
    estimates: { install: 15m }
    servers:
${[1, 2].map((i) => `      - { name: ${m}${i}, address: 10.${61 + k}.1.${i} }`).join("\n")}`,
  )
  .join("\n")}
`;

describe("apply --limit", () => {
  it("upgrades only the limited matrix; status shows the limit; another limit is refused", async () => {
    const lab = await journeyLab(TWO_MATRICES, "two-matrices", 3000);
    const bad = await lab.cli(["apply", lab.derived, "--to", "3.5.1", "--limit", "east1", "--yes"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("ROLLGATE_E_PLAN_BAD_LIMIT");
    expect(bad.stderr).toContain("use --limit matrix-east");

    // without --confirm-finalize the run halts before its point of no return (G4), unfinished
    const r = await lab.cli(["apply", lab.derived, "--to", "3.5.1", "--limit", "matrix-east", "--yes"]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain("left alone: matrix-west (not in --limit)");
    const halted = await lab.cli(["status", lab.derived]);
    expect(halted.stdout).toContain("limit     matrix-east");

    // going on with another limit is refused, by resume and by apply; nothing is done
    for (const other of [
      ["resume", lab.derived, "--limit", "matrix-west", "--confirm-finalize"],
      ["apply", lab.derived, "--to", "3.5.1", "--limit", "matrix-west", "--yes", "--confirm-finalize"],
      ["apply", lab.derived, "--to", "3.5.1", "--yes", "--confirm-finalize"],
    ]) {
      const refused = await lab.cli(other);
      expect(refused.code, refused.stderr).toBe(2);
      expect(refused.stderr).toContain("ROLLGATE_E_RUN_LIMIT_MISMATCH");
      expect(refused.stderr).toContain("was started with --limit matrix-east");
    }

    // another target while that run is unfinished: refused, naming it and the way on; nothing done
    const seen = lab.journal().length;
    const beside = await lab.cli(["apply", lab.derived, "--to", "matrix-west=3.5.1", "--yes"]);
    expect(beside.code, beside.stderr).toBe(2);
    expect(beside.stderr).toContain("ROLLGATE_E_RUN_UNFINISHED");
    expect(beside.stderr).toMatch(/run \S+ of this fleet \(3\.5\.1\) is unfinished/);
    expect(beside.stderr).toContain("rollgate resume");
    expect(
      lab
        .journal()
        .slice(seen)
        .filter((e) => e.kind === "action"),
    ).toEqual([]);

    // resume keeps the run's limit
    const resumed = await lab.cli(["resume", lab.derived, "--confirm-finalize"]);
    expect(resumed.code, resumed.stderr).toBe(0);
    // only what the limit took is on the target: the run does not claim the whole fleet
    expect(resumed.stdout).toContain(
      "completed: every step done, matrix-east on 3.5.1; 1 cluster left alone (--limit)",
    );
    expect(resumed.stdout).not.toContain("fleet on 3.5.1");

    const installed = lab
      .journal()
      .filter((e) => e.action === "install" && e.kind !== "violation")
      .map((e) => e.server);
    expect(new Set(installed)).toEqual(new Set(["east1", "east2"]));
    const status = await lab.status();
    expect(status.violations).toEqual([]);
    const release = Object.fromEntries(
      // biome-ignore lint/suspicious/noExplicitAny: lab status JSON read loosely
      status.servers.map((s: any) => [s.name, s.release]),
    );
    expect(release).toEqual({ east1: "3.5.1", east2: "3.5.1", west1: "3.5.0", west2: "3.5.0" });

    const shown = await lab.cli(["status", lab.derived]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain("limit     matrix-east");
    const json = await lab.cli(["status", lab.derived, "--json"]);
    expect(JSON.parse(json.stdout)).toMatchObject({ limit: ["matrix-east"] });
  }, 600_000);

  it("apply again with no --limit on a paused limited DMA run: the limit mismatch, not a drift", async () => {
    const lab = await journeyLab(
      readFileSync(join(REPO, "examples/mixed-fleet.yaml"), "utf8"),
      "mixed-fleet",
      2000,
    );
    const state = join(lab.dir, "s3.db");
    const engine = startEngine([
      "apply",
      lab.derived,
      "--to",
      "10.1.0",
      "--limit",
      "sc-east",
      "--state",
      state,
      "--yes",
      "--confirm-finalize",
      "--json",
    ]);
    await waitFor(() => engine.lines.filter((e) => e.type === "step.done").length >= 2, {
      what: "two steps done",
      timeoutMs: 120_000,
    });
    engine.child.kill("SIGINT"); // running steps finish, the run pauses
    expect(await engine.exited).toBe(1);
    const again = await lab.cli(["apply", lab.derived, "--to", "10.1.0", "--state", state, "--yes"]);
    expect(again.code, again.stderr).toBe(2);
    expect(again.stderr).toContain("ROLLGATE_E_RUN_LIMIT_MISMATCH");
    expect(again.stderr).toContain("was started with --limit sc-east; it cannot go on with no --limit");
    expect(again.stderr).not.toContain("fleet sync");
  }, 600_000);
});
