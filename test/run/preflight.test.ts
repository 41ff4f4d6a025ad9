import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Lab } from "../../src/lab/index.ts";
import { defaultStatePath } from "../../src/run/locate.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";
import { runCli } from "../helpers/cli.ts";
import { labOf } from "../helpers/engine.ts";
import { e2eTimeouts } from "../helpers/wait.ts";

e2eTimeouts(60_000);

/**
 * Before a new run, rollgate observes every server (G5) and starts nothing on a fleet that is not
 * as the fleet file says (issue 5: bad input writes nothing). Found by the crash test: `apply`
 * again after a completed run, with the fleet file still describing the old releases, replayed
 * the incremental procedure and took a DMA cluster out of its new supercluster.
 */
let lab: Lab | undefined;
afterEach(async () => {
  await lab?.stop();
  lab = undefined;
});

const TO = ["--to", "polycom-dma=10.1.0", "--to", "polyserve-matrix=3.5.1"];

describe("preflight", () => {
  it("after a completed run, apply again does nothing: the run has completed (or, with another state file, the file is behind: sync it, then plan again)", async () => {
    const t = await labOf("demo", 6000);
    lab = t.lab;
    const first = await runCli(["apply", t.fleet, ...TO, "--yes", "--confirm-finalize", "--json"], {
      timeoutMs: 120_000,
    });
    expect(first.code, first.stderr).toBe(0);
    const before = t.lab.status();

    const again = await runCli(["apply", t.fleet, ...TO, "--yes", "--confirm-finalize"]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(
      /run run-\S+ has already completed: every server runs its target; nothing to do/,
    );
    expect(again.stderr).toContain("[ROLLGATE_E_RUN_FINISHED]");

    const elsewhere = join(t.dir, "other", "state.db");
    const other = await runCli(["apply", t.fleet, ...TO, "--yes", "--state", elsewhere]);
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/every server already runs its target.*\[ROLLGATE_E_PREFLIGHT_MISMATCH\]/s);
    // the file is behind the servers: not "nothing to do", but the commands to bring it up to date
    expect(other.stderr).not.toContain("nothing to do");
    expect(other.stderr).toContain("the fleet file is behind the fleet");
    expect(other.stderr).toContain(`\`rollgate fleet sync ${t.fleet} --write\`, then plan again`);
    expect(other.stderr).toContain(
      `\`rollgate plan ${t.fleet} --to polycom-dma=10.1.0 --to polyserve-matrix=3.5.1\``,
    );
    expect(existsSync(elsewhere)).toBe(false);

    const store = new SqliteStore(defaultStatePath(t.fleet));
    expect(await store.listRuns()).toHaveLength(1);
    await store.close();
    const after = t.lab.status();
    expect(after.installs).toEqual(before.installs);
    expect(after.journalSeq).toBe(before.journalSeq); // the lab received no action
    expect(after.superclusters).toEqual(before.superclusters);
  }, 180_000);

  it("refuses a DMA cluster that runs another release than the file says, even the target", async () => {
    const t = await labOf("dma-supercluster", 6000);
    lab = t.lab;
    const r = await t.lab.act("nyc-1", { action: "install", release: "10.0.2" }); // by hand, compatible
    expect(r.status, JSON.stringify(r.body)).toBeLessThan(300);
    const seq = t.lab.status().journalSeq;
    const apply = await runCli(["apply", t.fleet, "--to", "10.0.2", "--yes"]);
    expect(apply.code).toBe(2);
    expect(apply.stderr).toMatch(
      /the fleet is not as the fleet file says: nyc-1 runs 10\.0\.2, the file says 10\.0\.1/,
    );
    expect(apply.stderr).toContain("[ROLLGATE_E_PREFLIGHT_MISMATCH]");
    expect(existsSync(defaultStatePath(t.fleet))).toBe(false);
    expect(t.lab.status().journalSeq).toBe(seq);
  });
});
