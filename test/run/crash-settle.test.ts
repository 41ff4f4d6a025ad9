import { copyFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type Lab, startLab } from "../../src/lab/index.ts";
import { defaultStatePath } from "../../src/run/locate.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";
import { REPO, runCli, tempDir } from "../helpers/cli.ts";
import { startEngine } from "../helpers/engine.ts";
import { waitFor, e2eTimeouts } from "../helpers/wait.ts";

e2eTimeouts(90_000);

/**
 * Crash safety (issue 5) at one precise moment: the engine is killed after a DMA install has ended
 * on every server but before login has come back (the settle time, D7). The restarted engine must
 * see the install as under way (G5) and wait for login, not request the install again (which the
 * appliance refuses while it settles, and which would install twice).
 */
let lab: Lab | undefined;
afterEach(async () => {
  await lab?.stop();
  lab = undefined;
});

describe("kill -9 while a DMA cluster settles after its install", () => {
  it("the resumed run waits for login and completes; one install per server", async () => {
    const dir = tempDir("rollgate-settle-");
    const file = join(dir, "dma-settle.yaml");
    copyFileSync(join(REPO, "test", "fixtures", "dma-settle.yaml"), file);
    lab = await startLab(file, { speed: 600 }); // install 1 s, settle 12 s
    const fleet = lab.derivedFleetPath;
    const engine = startEngine(["apply", fleet, "--to", "10.0.2", "--yes", "--json"]);
    const l = lab;
    await waitFor(() => l.status().servers.every((s) => s.release === "10.0.2" && s.state === "running"), {
      what: "the install to end on every server",
      timeoutMs: 30_000,
      intervalMs: 10,
    });
    expect(engine.lines.some((e) => e.type === "step.done" && e.step === "dma-solo/install")).toBe(false);
    engine.child.kill("SIGKILL");
    await engine.exited;

    const again = await runCli(["resume", fleet, "--json"], { timeoutMs: 60_000 });
    expect(again.code, again.stderr).toBe(0);
    expect(lab.status().installs).toEqual({ "solo-1": 1, "solo-2": 1 });
    expect(lab.status().violations).toEqual([]);
    const store = new SqliteStore(defaultStatePath(fleet));
    const events = await store.events((await store.listRuns())[0]!.id);
    await store.close();
    const intents = events.filter((e) => e.type === "step.intent" && e.step === "dma-solo/install");
    expect(intents).toHaveLength(1);
    // the resumed engine found the install under way and waited for login (not already settled:
    // then the test would not have hit the window it is about)
    const done = events.find((e) => e.type === "step.done" && e.step === "dma-solo/install");
    expect(done).toMatchObject({ observed: false });
  }, 90_000);
});
