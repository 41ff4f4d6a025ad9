import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type Lab, startLab } from "../../src/lab/index.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";
import { REPO, runCli, tempDir } from "../helpers/cli.ts";
import { labOf, startEngine } from "../helpers/engine.ts";
import { waitFor, e2eTimeouts } from "../helpers/wait.ts";

e2eTimeouts(120_000);

/**
 * A run belongs to a fleet by its servers, not by the file's name or path (docs/security.md):
 * a copy of the fleet file cannot start a second engine on the same servers, and a fleet that
 * only shares the first one's name never resumes its run. Asserted on what the labs saw.
 */
const labs: Lab[] = [];
const dirs: string[] = [];
afterEach(async () => {
  for (const l of labs.splice(0)) await l.stop();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Every action the lab received and every change it made, "server: detail". */
function seen(l: Lab, kind: "action" | "state"): string[] {
  return l.world.journal
    .entries(0, Number.MAX_SAFE_INTEGER)
    .filter((e) => e.kind === kind)
    .map((e) => `${e.cluster ?? ""}/${e.server ?? ""}: ${e.detail}`);
}

const duplicates = (xs: string[]) => xs.filter((x, i) => xs.indexOf(x) !== i);

describe("the fleet a run belongs to", () => {
  it("an operator applies a copy of the fleet file from another checkout while the original's engine runs: refused, each action seen once", async () => {
    const t = await labOf("matrix-seed", 150);
    labs.push(t.lab);
    dirs.push(t.dir);
    const other = tempDir("rollgate-checkout-");
    dirs.push(other);
    const copy = join(other, "matrix-seed.lab.yaml");
    copyFileSync(t.fleet, copy);
    const engine = startEngine(["apply", t.fleet, "--to", "3.5.1", "--yes", "--confirm-finalize", "--json"]);
    await waitFor(() => engine.lines.some((e) => e.type === "step.intent"), {
      what: "the first step",
      timeoutMs: 60_000,
    });
    const second = await runCli(["apply", copy, "--to", "3.5.1", "--yes", "--confirm-finalize"], {
      timeoutMs: 120_000,
    });
    expect(second.code, second.stderr).toBe(2);
    expect(second.stderr).toMatch(
      /another rollgate engine \(pid \d+ .*srv\d \(matrix-a\).*ROLLGATE_E_RUN_LOCKED/,
    );
    expect(await engine.exited).toBe(0);
    const status = t.lab.status();
    expect(status.violations).toEqual([]);
    expect(status.installs).toEqual({ srv1: 1, srv2: 1, srv3: 1 });
    expect(duplicates(seen(t.lab, "state"))).toEqual([]);
  }, 180_000);

  it("two fleets named alike share a state file: apply on the second starts its own run, the first's crashed run is left alone", async () => {
    const prod = await labOf("matrix-seed", 150);
    labs.push(prod.lab);
    dirs.push(prod.dir);
    // staging: the same file but other servers (addresses), the same `fleet:` name
    const stagingDir = tempDir("rollgate-staging-");
    dirs.push(stagingDir);
    const stagingSource = join(stagingDir, "matrix-seed.yaml");
    writeFileSync(
      stagingSource,
      readFileSync(join(REPO, "examples", "matrix-seed.yaml"), "utf8").replaceAll("10.10.", "10.30."),
    );
    const staging = await startLab(stagingSource, { speed: 1200 });
    labs.push(staging);
    const state = join(tempDir("rollgate-shared-state-"), "state.db");
    dirs.push(join(state, ".."));
    mkdirSync(join(state, ".."), { recursive: true });

    const engine = startEngine(["apply", prod.fleet, "--to", "3.5.1", "--yes", "--state", state, "--json"]);
    await waitFor(() => engine.lines.some((e) => e.type === "step.intent"), {
      what: "prod's first step",
      timeoutMs: 60_000,
    });
    engine.child.kill("SIGKILL"); // prod's engine dies mid-run: its run stays unfinished
    await engine.exited;
    const prodActions = seen(prod.lab, "action").length;

    const r = await runCli(
      ["apply", staging.derivedFleetPath, "--to", "3.5.1", "--yes", "--confirm-finalize", "--state", state],
      { timeoutMs: 120_000 },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(staging.status().installs).toEqual({ srv1: 1, srv2: 1, srv3: 1 });
    expect(staging.status().violations).toEqual([]);
    // prod's lab got nothing more, and prod's run is still there, unfinished, for prod's engine
    expect(seen(prod.lab, "action").length).toBe(prodActions);
    const store = new SqliteStore(state, { readonly: true });
    const runs = await store.listRuns();
    await store.close();
    expect(runs.map((x) => x.state).sort()).toEqual(["completed", "running"]);
  }, 240_000);
});
