import { readFileSync, writeFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { runCli, tempDir } from "../helpers/cli.ts";
import { startEngine, type EngineProcess } from "../helpers/engine.ts";
import { waitFor, e2eTimeouts } from "../helpers/wait.ts";
import { actionsOf, copyExample, labUp, statusJson } from "./steer-helpers.ts";

e2eTimeouts(210_000);

/**
 * Issue 14, steering the right run: every lab-derived fleet file of a folder lands in
 * `.rollgate/lab/` and shares one state file. `rollgate pause <matrix derived file>` paused the
 * DMA run (the newest run of any fleet), and `rollgate status <original file>` found no run at all.
 */
const originals: string[] = [];

/** The example's install estimate, shortened in the copy. */
function shorten(file: string, from: string, to: string): void {
  const text = readFileSync(file, "utf8");
  if (!text.includes(from)) throw new Error(`${file} has no "${from}"`);
  writeFileSync(file, text.replace(from, to));
}
const engines: EngineProcess[] = [];
afterAll(async () => {
  for (const e of engines) if (e.child.exitCode === null) e.child.kill("SIGKILL");
  for (const f of originals) await runCli(["lab", "down", f], { timeoutMs: 60_000 });
}, 120_000);

describe("two lab fleets in one folder", () => {
  it("an operator with the matrix and the DMA labs up in one folder pauses, inspects and aborts each run by its own file (derived or original), and the other run goes on", async () => {
    const dir = tempDir("rollgate-journey-steer-");
    const matrixFile = copyExample(dir, "matrix-seed");
    const dmaFile = copyExample(dir, "dma-supercluster");
    originals.push(matrixFile, dmaFile);
    // installs of 3 and 10 minutes (7 and 8 s in the lab): the runs last about a minute each, long
    // enough to steer them mid-run even on a loaded machine (every CLI call here costs seconds
    // there), while a pause or an abort waits for a running step of seconds, not of half a minute
    shorten(matrixFile, "estimates: { install: 15m }", "estimates: { install: 3m }");
    shorten(dmaFile, "estimates: { install: 40m }", "estimates: { install: 10m }");
    const matrix = await labUp(matrixFile, 25);
    const dma = await labUp(dmaFile, 75);
    expect(matrix.derived).not.toBe(dma.derived);

    const matrixEngine = startEngine([
      "apply",
      matrix.derived,
      "--to",
      "3.5.1",
      "--yes",
      "--confirm-finalize",
      "--json",
    ]);
    engines.push(matrixEngine);
    await waitFor(() => actionsOf(matrix.journal).length > 0, {
      timeoutMs: 60_000,
      what: "the matrix lab's first action",
    });
    const dmaEngine = startEngine([
      "apply",
      dma.derived,
      "--to",
      "10.1.0",
      "--yes",
      "--confirm-finalize",
      "--json",
    ]);
    engines.push(dmaEngine);
    await waitFor(() => actionsOf(dma.journal).length > 0, {
      timeoutMs: 60_000,
      what: "the DMA lab's first action",
    });

    // Both runs are in one state file; with no fleet named, status refuses to guess.
    const bare = await runCli(["status", "--state", (await statusJson([matrix.derived])).statePath], {
      timeoutMs: 60_000,
    });
    expect(bare.code, bare.stderr).toBe(2);
    expect(bare.stderr).toContain("[ROLLGATE_E_RUN_AMBIGUOUS]");
    expect(bare.stderr).toContain("--run ID");
    expect(bare.stderr).not.toMatch(/\n\s+at /); // no stack trace

    // Pause the matrix by its derived file (the DMA run was started last).
    const pause = await runCli(["pause", matrix.derived], { timeoutMs: 60_000 });
    expect(pause.code, pause.stderr).toBe(0);
    const matrixStatus = await statusJson([matrixFile]); // the ORIGINAL file finds the lab's run
    expect(matrixStatus.run.fleet).toBe("seed-matrix");
    expect(matrixStatus.run.state).toBe("paused");
    const dmaStatus = await statusJson([dmaFile]);
    expect(dmaStatus.run.fleet).toBe("acme-video");
    expect(dmaStatus.run.state).toBe("running");
    expect((await statusJson([dma.derived])).run.id).toBe(dmaStatus.run.id);
    const text = await runCli(["status", matrixFile], { timeoutMs: 60_000 });
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain(`run ${matrixStatus.run.id} · seed-matrix`);
    expect(text.stderr).toMatch(
      /the lab's run run-\S+: read from .*state\.db \(the state of .*matrix-seed\.lab\.yaml\)/,
    );

    // The lab of the paused fleet receives nothing new once its running steps are done; the
    // other lab goes on receiving actions.
    const settled = await waitFor(
      async () => {
        const before = actionsOf(matrix.journal).length;
        const dmaBefore = actionsOf(dma.journal).length;
        await waitFor(() => actionsOf(dma.journal).length >= dmaBefore + 2, {
          timeoutMs: 60_000,
          what: "two more actions in the DMA lab",
        });
        return actionsOf(matrix.journal).length === before ? before : undefined;
      },
      { timeoutMs: 120_000, what: "the matrix lab to receive nothing while the DMA lab goes on" },
    );
    expect(actionsOf(matrix.journal).length).toBe(settled);

    // Resume the matrix by its original file (handed to its live engine), pause the DMA by its
    // original file: now the matrix lab goes on and the DMA one stops.
    const resume = await runCli(["resume", matrixFile], { timeoutMs: 60_000 });
    expect(resume.code, resume.stderr).toBe(0);
    expect(resume.stdout).toContain(matrixStatus.run.id);
    const pauseDma = await runCli(["pause", dmaFile], { timeoutMs: 60_000 });
    expect(pauseDma.code, pauseDma.stderr).toBe(0);
    expect(pauseDma.stdout).toContain(dmaStatus.run.id);
    expect((await statusJson([matrix.derived])).run.state).not.toBe("paused");
    expect((await statusJson([dma.derived])).run.state).toBe("paused");
    const matrixBefore = actionsOf(matrix.journal).length;
    await waitFor(() => actionsOf(matrix.journal).length >= matrixBefore + 2, {
      timeoutMs: 60_000,
      what: "the resumed matrix lab to receive actions again",
    });

    // Abort each by its own file; each engine ends its own run.
    const abortMatrix = await runCli(["abort", matrixFile], { timeoutMs: 60_000 });
    expect(abortMatrix.code, abortMatrix.stderr).toBe(0);
    const abortDma = await runCli(["abort", dma.derived], { timeoutMs: 60_000 });
    expect(abortDma.code, abortDma.stderr).toBe(0);
    expect(await matrixEngine.exited).toBe(1);
    expect(await dmaEngine.exited).toBe(1);
    expect((await statusJson([matrixFile])).run.state).toBe("aborted");
    expect((await statusJson([dmaFile])).run.state).toBe("aborted");
  }, 420_000);
});
