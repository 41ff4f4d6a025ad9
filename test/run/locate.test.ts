import { copyFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadFleetFile } from "../../src/io/fleet-loader.ts";
import { derivedFleetDocument } from "../../src/lab/derived-fleet.ts";
import { labPaths } from "../../src/lab/record.ts";
import type { RollgateError } from "../../src/model/errors.ts";
import { planUpgrade } from "../../src/plan/planner.ts";
import { fleetIdentity } from "../../src/run/identity.ts";
import { defaultStatePath, fleetRefOf, locateRun, pickRun } from "../../src/run/locate.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";
import { REPO, runCli, tempDir } from "../helpers/cli.ts";
import { writeFileSync } from "node:fs";
import { e2eTimeouts } from "../helpers/wait.ts";

e2eTimeouts(60_000);

/**
 * Issue 14: a command naming a fleet acts on that fleet's run only (pickRun took the newest run of
 * any fleet), several candidates are refused rather than guessed, and the original fleet file
 * finds the run of its lab's derived file.
 */
function example(dir: string, name: string): string {
  const path = join(dir, `${name}.yaml`);
  copyFileSync(join(REPO, "examples", `${name}.yaml`), path);
  return path;
}

async function startRunOf(store: SqliteStore, file: string, to: string) {
  const fleet = loadFleetFile(file);
  return await store.createRun({
    fleet: fleet.name,
    fleetFile: file,
    target: to,
    plan: planUpgrade(fleet, { to: [to], strategy: "auto" }),
    fleetId: fleetIdentity(fleet),
  });
}

const codeOf = async (f: () => unknown): Promise<string | undefined> => {
  try {
    await f();
  } catch (e) {
    return (e as RollgateError).code;
  }
  return undefined;
};

describe("pickRun", () => {
  it("picks the named fleet's run, not the newest run of another fleet sharing the state file", async () => {
    const dir = tempDir();
    const matrix = example(dir, "matrix-seed");
    const dma = example(dir, "dma-supercluster");
    const store = new SqliteStore(join(dir, "state.db"));
    const m = await startRunOf(store, matrix, "3.5.1");
    const d = await startRunOf(store, dma, "10.1.0"); // newer
    expect((await pickRun(store, { fleet: fleetRefOf(matrix), unfinishedOnly: true })).id).toBe(m.id);
    expect((await pickRun(store, { fleet: fleetRefOf(dma), unfinishedOnly: true })).id).toBe(d.id);
    // no fleet named, two unfinished runs: refused (exit 2), each listed
    expect(await codeOf(async () => await pickRun(store, {}))).toBe("ROLLGATE_E_RUN_AMBIGUOUS");
    try {
      await pickRun(store, {});
    } catch (e) {
      expect((e as Error).message).toContain(m.id);
      expect((e as Error).message).toContain(d.id);
      expect((e as Error).message).toContain("--run ID");
    }
    expect((await pickRun(store, { run: m.id })).id).toBe(m.id);
    // a finished run of one fleet: that fleet's control commands say so, the other's still work
    await store.setState(m.id, "aborted", "test");
    expect(
      await codeOf(async () => await pickRun(store, { fleet: fleetRefOf(matrix), unfinishedOnly: true })),
    ).toBe("ROLLGATE_E_RUN_FINISHED");
    expect((await pickRun(store, { fleet: fleetRefOf(matrix) })).id).toBe(m.id); // status shows it
    expect((await pickRun(store, {})).id).toBe(d.id); // the one unfinished run
    await store.close();
  });

  it("a fleet with no run in the state file is told so, with the other fleets' runs listed", async () => {
    const dir = tempDir();
    const matrix = example(dir, "matrix-seed");
    const dma = example(dir, "dma-supercluster");
    const store = new SqliteStore(join(dir, "state.db"));
    const d = await startRunOf(store, dma, "10.1.0");
    await expect(pickRun(store, { fleet: fleetRefOf(matrix) })).rejects.toThrow(
      new RegExp(`no run of fleet seed-matrix .*runs of other fleets: ${d.id}`),
    );
    await store.close();
  });
});

describe("pickRun with a fleet file that cannot be read now", () => {
  it("an operator mid-edit of the fleet file still pauses the run started from it (by its path)", async () => {
    const dir = tempDir();
    const matrix = example(dir, "matrix-seed");
    const dma = example(dir, "dma-supercluster");
    const store = new SqliteStore(defaultStatePath(matrix));
    const m = await startRunOf(store, matrix, "3.5.1");
    await store.setState(m.id, "running", "test");
    await startRunOf(store, dma, "10.1.0");
    await store.close();
    writeFileSync(matrix, "apiVersion: rollgate/v1\nfleet: [half-edited\n");
    const r = await runCli(["pause", matrix], { timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`paused run ${m.id}`);
  }, 90_000);
});

describe("locateRun: the original fleet file finds its lab's run", () => {
  it("reads the derived file's state when the fleet's own state holds none of its runs", async () => {
    const dir = tempDir();
    const matrix = example(dir, "matrix-seed");
    const derived = labPaths(matrix).derivedFleet;
    mkdirSync(join(dir, ".rollgate", "lab"), { recursive: true });
    writeFileSync(
      derived,
      derivedFleetDocument(loadFleetFile(matrix), {
        speed: 600,
        driverUrl: "http://127.0.0.1:1/servers/{name}",
      }),
    );
    const labStore = new SqliteStore(defaultStatePath(derived));
    const run = await startRunOf(labStore, derived, "3.5.1");
    await labStore.close();
    const found = await locateRun({ fleet: matrix, unfinishedOnly: true });
    expect(found.run.id).toBe(run.id);
    expect(found.statePath).toBe(defaultStatePath(derived));
    expect(found.fleetFile).toBe(derived); // driven with the lab's drivers, not the original's
    expect(found.viaLab?.derivedFleet).toBe(derived);
    // the derived file finds it too, in its own state
    const direct = await locateRun({ fleet: derived });
    expect(direct.run.id).toBe(run.id);
    expect(direct.viaLab).toBeUndefined();
  });

  it("status of the original file, through the CLI, shows the lab's run and says where it read it", async () => {
    const dir = tempDir();
    const matrix = example(dir, "matrix-seed");
    const derived = labPaths(matrix).derivedFleet;
    mkdirSync(join(dir, ".rollgate", "lab"), { recursive: true });
    writeFileSync(
      derived,
      derivedFleetDocument(loadFleetFile(matrix), {
        speed: 600,
        driverUrl: "http://127.0.0.1:1/servers/{name}",
      }),
    );
    const labStore = new SqliteStore(defaultStatePath(derived));
    const run = await startRunOf(labStore, derived, "3.5.1");
    await labStore.close();
    const r = await runCli(["status", matrix], { timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`run ${run.id} · seed-matrix`);
    expect(r.stderr).toContain(`the lab's run ${run.id}: read from ${defaultStatePath(derived)}`);
  }, 90_000);
});

describe("a fleet file named with another fleet's run (--run)", () => {
  it("pickRun refuses the other fleet's run, naming both fleets (ROLLGATE_E_RUN_OTHER_FLEET)", async () => {
    const dir = tempDir();
    const matrix = example(dir, "matrix-seed");
    const dma = example(dir, "dma-supercluster");
    const store = new SqliteStore(join(dir, "state.db"));
    const m = await startRunOf(store, matrix, "3.5.1");
    const d = await startRunOf(store, dma, "10.1.0");
    expect(
      await codeOf(
        async () => await pickRun(store, { fleet: fleetRefOf(matrix), run: d.id, unfinishedOnly: true }),
      ),
    ).toBe("ROLLGATE_E_RUN_OTHER_FLEET");
    await expect(pickRun(store, { fleet: fleetRefOf(matrix), run: d.id })).rejects.toThrow(
      new RegExp(`run ${d.id} is not a run of fleet seed-matrix .* a run of fleet ${d.fleet}`),
    );
    // the fleet's own run by id, and any run by id when no fleet is named, still work
    expect((await pickRun(store, { fleet: fleetRefOf(matrix), run: m.id })).id).toBe(m.id);
    expect((await pickRun(store, { run: d.id })).id).toBe(d.id);
    await store.close();
  });

  it("abort, pause and status of one fleet file with --run of another fleet's run exit 2 and leave that run alone", async () => {
    const dir = tempDir();
    const matrix = example(dir, "matrix-seed");
    const dma = example(dir, "dma-supercluster");
    const statePath = defaultStatePath(matrix); // shared: both files are in one folder
    const store = new SqliteStore(statePath);
    const d = await startRunOf(store, dma, "10.1.0");
    await store.setState(d.id, "running", "test");
    await startRunOf(store, matrix, "3.5.1");
    await store.close();
    for (const cmd of ["abort", "pause", "status"]) {
      const r = await runCli([cmd, matrix, "--run", d.id], { timeoutMs: 60_000 });
      expect(r.code, `${cmd}: ${r.stdout}${r.stderr}`).toBe(2);
      expect(r.stderr).toContain("ROLLGATE_E_RUN_OTHER_FLEET");
      expect(r.stderr).toContain("seed-matrix");
      expect(r.stderr).toContain(d.fleet);
    }
    const after = new SqliteStore(statePath, { readonly: true });
    expect((await after.getRun(d.id))?.state).toBe("running"); // neither aborted nor paused
    await after.close();
    // the DMA fleet's own file steers it
    const ok = await runCli(["pause", dma, "--run", d.id], { timeoutMs: 60_000 });
    expect(ok.code, ok.stderr).toBe(0);
  }, 180_000);

  it("no run of the fleet: the message says --run picks one of this fleet's runs", async () => {
    const dir = tempDir();
    const matrix = example(dir, "matrix-seed");
    const dma = example(dir, "dma-supercluster");
    const store = new SqliteStore(join(dir, "state.db"));
    await startRunOf(store, dma, "10.1.0");
    await expect(pickRun(store, { fleet: fleetRefOf(matrix) })).rejects.toThrow(
      /--run ID picks one of this fleet's runs/,
    );
    await store.close();
  });
});

describe("status suggests a resume that reaches the run", () => {
  it("from another folder, with another fleet's run unfinished, the confirm suggestion names the fleet file and --state", async () => {
    const dir = tempDir();
    const matrix = example(dir, "matrix-seed");
    const dma = example(dir, "dma-supercluster");
    const statePath = join(dir, "elsewhere", "state.db");
    mkdirSync(join(dir, "elsewhere"));
    const store = new SqliteStore(statePath);
    await startRunOf(store, dma, "10.1.0");
    const m = await startRunOf(store, matrix, "3.5.1");
    const step =
      (await store.getPlan(m.id)).steps.find((s) => s.pointOfNoReturn) ??
      (await store.getPlan(m.id)).steps[0]!;
    await store.append(m.id, { type: "confirmation.needed", step: step.id, rule: "G4", reason: "test" });
    await store.close();
    const r = await runCli(["status", matrix, "--state", statePath], { timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(
      `${step.id} is a point of no return (G4): rollgate resume ${matrix} --state ${statePath} --confirm-finalize`,
    );
  }, 90_000);

  it("with the fleet's default state, the suggestion names the fleet file only", async () => {
    const dir = tempDir();
    const matrix = example(dir, "matrix-seed");
    const store = new SqliteStore(defaultStatePath(matrix));
    const m = await startRunOf(store, matrix, "3.5.1");
    const step = (await store.getPlan(m.id)).steps[0]!;
    await store.append(m.id, { type: "confirmation.needed", step: step.id, rule: "G4", reason: "test" });
    await store.close();
    const r = await runCli(["status", matrix], { timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`(G4): rollgate resume ${matrix} --confirm-finalize`);
  }, 90_000);
});

describe("locateRun with a fleet file that is not there", () => {
  it("a mistyped fleet path with no state beside it is a missing fleet file (exit 2), not a missing state file", async () => {
    const dir = tempDir("rollgate-locate-missing-");
    const missing = join(dir, "no-such-fleet.yaml");
    await expect(locateRun({ fleet: missing })).rejects.toThrow(
      expect.objectContaining({ code: "ROLLGATE_E_FLEET_NOT_FOUND" }),
    );
    const r = await runCli(["abort", missing], { timeoutMs: 60_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("ROLLGATE_E_FLEET_NOT_FOUND");
    expect(r.stderr).toContain(missing);
  });
});
