import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type Lab, startLab } from "../../src/lab/index.ts";
import { defaultStatePath } from "../../src/run/locate.ts";
import { openExistingStore } from "../../src/store/open.ts";
import { runCli } from "../helpers/cli.ts";
import { e2eTimeouts, waitFor } from "../helpers/wait.ts";
import { exampleFleet, labJournal, type Terminal as Tty, Terminal } from "./terminal-helpers.ts";

e2eTimeouts(300_000);

// An operator at a real terminal (tmux): several points of no return at once (a maintenance
// window's leaves), "n" to the first of them, a Ctrl-C while the servers are still being
// observed (preflight), and a SIGINT or SIGTERM while the plan's question is open.

const labs: Lab[] = [];
const terminals: Tty[] = [];
afterAll(async () => {
  for (const t of terminals) t.kill();
  for (const l of labs) await l.stop();
});

/** A terminal left as a shell expects it: canonical input, echo, signals from the keyboard. */
function expectSaneTerminal(stty: string): void {
  for (const flag of ["icanon", "echo", "isig", "icrnl", "opost"])
    expect(stty, stty).toMatch(new RegExp(`(^|\\s)${flag}(\\s|$)`));
}

async function maintenanceWindowLab(): Promise<{ lab: Lab; dir: string }> {
  const { dir, fleet } = exampleFleet("dma-supercluster.yaml");
  writeFileSync(fleet, readFileSync(fleet, "utf8").replace(/capacityFloor: [0-9.]+/, "capacityFloor: 0"));
  const lab = await startLab(fleet, { speed: 300 });
  labs.push(lab);
  return { lab, dir };
}

const count = (text: string, re: RegExp) => [...text.matchAll(new RegExp(re.source, "g"))].length;
const QUESTION =
  /(\S+) is a point of no return \([^)]*\): the old release cannot come back after it\. Go on\? \[y\/N\]/;

describe("journey: questions at the terminal", () => {
  it("an operator applies a maintenance window at a terminal and answers yes to its points of no return, one question at a time, each naming its step", async () => {
    const { lab, dir } = await maintenanceWindowLab();
    const tty = Terminal.start(dir);
    terminals.push(tty);

    const apply = tty.rollgate(`apply ${lab.derivedFleetPath} --to 10.1.0 --strategy maintenance-window`);
    const brief = await tty.waitForScreen(/(\d+) point\(s\) of no return/, 60_000, "the plan");
    const points = Number(brief[1]);
    expect(points).toBeGreaterThan(1);
    await tty.waitForScreen(/Apply this plan to \S+ \(\d+ steps\)\? \[y\/N\]/, 60_000);
    tty.keys("y", true);
    tty.keys("Enter");

    // each question on its own: one open at a time, naming its step; "y" is read by that one only
    const asked: string[] = [];
    for (let k = 1; k <= points; k++) {
      const step = await waitFor(
        () => {
          const qs = [...tty.screen().matchAll(new RegExp(QUESTION.source, "g"))];
          return qs.length >= k ? qs[k - 1]![1] : undefined;
        },
        { timeoutMs: 120_000, what: `question ${k} of ${points}; screen:\n${tty.screen()}` },
      );
      asked.push(step);
      expect(count(tty.screen(), QUESTION), tty.screen()).toBe(k); // no other question open
      tty.keys("y", true);
      await tty.waitForScreen(
        new RegExp(`${step.replaceAll("/", "\\/")} is a point of no return.*\\[y\\/N\\] y`),
        10_000,
        "the echo",
      );
      expect(tty.screen()).not.toMatch(/\[y\/N\] yy/); // one prompt reads the key
      tty.keys("Enter");
    }
    expect(await apply.exitCode(240_000), tty.screen()).toBe(0);
    const screen = tty.screen();
    expect(screen).not.toMatch(/ROLLGATE_E_INTERNAL/);
    expect(screen).toMatch(/run run-\S+ completed: every step done, fleet on 10\.1\.0/);
    // and what brings the fleet file up to date for the next upgrade, with its path
    expect(screen.replace(/\s+/g, " ")).toContain("rollgate fleet sync");
    // every step confirmed was asked about, by name, once
    expect(new Set(asked).size).toBe(points);
    expect(asked.every((s) => /leave-supercluster/.test(s))).toBe(true);
    // what the lab saw: every server on the target, no rule broken
    const end = lab.status();
    expect(end.servers.every((s) => s.release === "10.1.0")).toBe(true);
    expect(end.violations).toEqual([]);
  }, 300_000);

  it("an operator presses Ctrl-C while apply still observes the servers (one does not answer): it says nothing was written and exits 1", async () => {
    const { dir, fleet } = exampleFleet("matrix-seed.yaml");
    const lab = await startLab(fleet, { speed: 100 });
    labs.push(lab);
    lab.fault("srv1", "unreachable-drop"); // its observation waits for the driver's timeout
    // the servers the lab was asked about (the preflight's observations of the others)
    const observed = new Set<string>();
    const observe = lab.world.observe.bind(lab.world);
    lab.world.observe = (name: string) => {
      observed.add(name);
      return observe(name);
    };
    const tty = Terminal.start(dir);
    terminals.push(tty);

    const apply = tty.rollgate(`apply ${lab.derivedFleetPath} --to 3.5.1`);
    await waitFor(() => observed.has("srv2") && observed.has("srv3"), {
      timeoutMs: 60_000,
      what: "the preflight to observe srv2 and srv3",
    });
    tty.keys("C-c");
    expect(await apply.exitCode(30_000), tty.screen()).toBe(1);
    expect(tty.screen()).toMatch(/Ctrl-C: stopped before the run started; nothing was written/);
    expect(tty.screen()).not.toMatch(/Apply this plan/);
    // nothing was written, nothing was done
    expect(existsSync(join(dir, ".rollgate", "lab"))).toBe(true);
    // where apply keeps this fleet's state (beside the derived fleet file): not created
    const state = defaultStatePath(lab.derivedFleetPath);
    expect(existsSync(state) ? readFileSync(state).length : 0).toBe(0);
    expect(labJournal(lab.journalPath!).filter((e) => e.kind === "action")).toEqual([]);
  }, 120_000);

  it("an operator answers no to the first of a maintenance window's points of no return: nothing more is asked nor started, and apply exits 1 with the run resumable", async () => {
    const { lab, dir } = await maintenanceWindowLab();
    const fleet = lab.derivedFleetPath;
    const tty = Terminal.start(dir);
    terminals.push(tty);

    const apply = tty.rollgate(`apply ${fleet} --to 10.1.0 --strategy maintenance-window`);
    const brief = await tty.waitForScreen(/(\d+) point\(s\) of no return/, 60_000, "the plan");
    expect(Number(brief[1])).toBeGreaterThan(1); // more questions than the one answered
    await tty.waitForScreen(/Apply this plan to \S+ \(\d+ steps\)\? \[y\/N\]/, 60_000);
    tty.keys("y", true);
    tty.keys("Enter");

    const step = (await tty.waitForScreen(QUESTION, 120_000, "the first question"))[1]!;
    const statePath = defaultStatePath(fleet);
    const store = openExistingStore(statePath, { readonly: true });
    let seqAtNo: number;
    let runId: string;
    try {
      runId = (await store.listRuns())[0]!.id;
      seqAtNo = await store.lastSeq();
    } finally {
      await store.close();
    }
    const labSeqAtNo = lab.status().journalSeq;
    tty.keys("n", true);
    tty.keys("Enter");

    // "n" halts: no other question is shown, the engine ends without waiting for an answer
    expect(await apply.exitCode(120_000), tty.screen()).toBe(1);
    const screen = tty.screen();
    expect(count(screen, QUESTION), screen).toBe(1);
    expect(screen).toMatch(
      new RegExp(
        `halted before ${step.replaceAll("/", "\\/")}: you answered no at its point of no return \\(G4\\); it was not started, and the run stays resumable \\[ROLLGATE_E_CONFIRM_REQUIRED\\]`,
      ),
    );
    expect(screen).not.toMatch(/ROLLGATE_E_INTERNAL/);

    // the store: resumable, awaiting the confirmation of the step declined; nothing was started
    // after the "n", and nothing is left under way
    const st = await runCli(["status", fleet, "--json"], { timeoutMs: 30_000 });
    expect(st.code).toBe(0);
    const status = JSON.parse(st.stdout) as { run: { state: string }; running: string[] };
    expect(status.run.state).toBe("awaiting-confirmation");
    expect(status.running).toEqual([]);
    const after = openExistingStore(statePath, { readonly: true });
    try {
      const events = await after.events(runId, seqAtNo);
      expect(events.filter((e) => e.type === "step.intent" || e.type === "step.started")).toEqual([]);
      expect(events.filter((e) => e.type === "confirmation.given")).toEqual([]);
    } finally {
      await after.close();
    }
    // the lab: the step declined was not done, and no rule was broken
    const cluster = step.split("/")[0]!;
    const actions = labJournal(lab.journalPath!).filter((e) => e.seq > labSeqAtNo && e.kind === "action");
    expect(actions.filter((e) => e.cluster === cluster && /leave/i.test(e.detail))).toEqual([]);
    expect(lab.status().violations).toEqual([]);
  }, 300_000);

  it.each(["SIGTERM", "SIGINT"] as const)(
    "a %s comes while the plan's question is open: apply stops at once with nothing written, and leaves the terminal sane",
    async (signal) => {
      const { dir, fleet } = exampleFleet("matrix-seed.yaml");
      const lab = await startLab(fleet, { speed: 100 });
      labs.push(lab);
      const tty = Terminal.start(dir);
      terminals.push(tty);

      const apply = tty.rollgate(`apply ${lab.derivedFleetPath} --to 3.5.1`);
      await tty.waitForScreen(/Apply this plan to seed-matrix \(18 steps\)\? \[y\/N\]/, 60_000);
      const pid = await waitFor(() => tty.commandPid(), { timeoutMs: 10_000, what: "rollgate's pid" });
      process.kill(pid, signal);
      // promptly, without an answer
      expect(await apply.exitCode(10_000), tty.screen()).toBe(1);
      const key = signal === "SIGINT" ? "Ctrl-C" : signal;
      expect(tty.screen()).toMatch(
        new RegExp(
          `${key}: stopped before the run started; nothing was written \\[ROLLGATE_E_INTERRUPTED\\]`,
        ),
      );
      expect(tty.screen()).not.toMatch(/ROLLGATE_E_DECLINED/);
      // nothing was written, nothing was done
      const state = defaultStatePath(lab.derivedFleetPath);
      expect(existsSync(state) ? readFileSync(state).length : 0).toBe(0);
      expect(labJournal(lab.journalPath!).filter((e) => e.kind === "action")).toEqual([]);
      // the terminal as the shell expects it: raw mode off, the cursor shown
      expect(tty.cursorVisible()).toBe(true);
      expectSaneTerminal(await tty.stty(10_000));
    },
    120_000,
  );

  it("an operator rolls back a DMA cluster at a terminal and answers no at the rollback itself (D9): its words say what is lost, nothing is rolled back, the run stays resumable", async () => {
    const { dir, fleet: file } = exampleFleet("dma-supercluster.yaml");
    const lab = await startLab(file, { speed: 1200 });
    labs.push(lab);
    const fleet = lab.derivedFleetPath;
    const up = await runCli(["apply", fleet, "--to", "10.0.2", "--yes", "--confirm-finalize"], {
      timeoutMs: 240_000,
    });
    expect(up.code, up.stderr).toBe(0);
    expect((await runCli(["fleet", "sync", fleet, "--write"], { timeoutMs: 60_000 })).code).toBe(0);
    const tty = Terminal.start(dir);
    terminals.push(tty);
    const rollback = tty.rollgate(`rollback ${fleet} --cluster dma-bos --yes`);
    const q = await tty.waitForScreen(
      /(dma-bos\/install@rollback) is a point of no return \([^)]*\): after it the cluster's data store returns to its state before its last upgrade, and data written since may be lost \(D9\)\. Go on\? \[y\/N\]/,
      120_000,
      "the rollback's question",
    );
    expect(q[1]).toBe("dma-bos/install@rollback");
    const labSeq = lab.status().journalSeq;
    tty.keys("n", true);
    tty.keys("Enter");
    expect(await rollback.exitCode(120_000), tty.screen()).toBe(1);
    expect(tty.screen()).toMatch(/halted before dma-bos\/install@rollback: you answered no/);
    // what the lab saw: no install after the "n"; dma-bos still on 10.0.2, its upgrade still rollbackable
    const after = labJournal(lab.journalPath!).filter((e) => e.seq > labSeq);
    expect(after.filter((e) => e.kind === "action" && e.action === "install")).toEqual([]);
    const bos = lab.world.clusters.get("dma-bos")!;
    expect(bos.servers.map((s) => s.release)).toEqual(["10.0.2", "10.0.2"]);
    expect(bos.rollbackTo?.release).toBe("10.0.1");
    const st = JSON.parse((await runCli(["status", fleet, "--json"], { timeoutMs: 30_000 })).stdout);
    expect(st.run.state).toBe("awaiting-confirmation");
    expect(lab.status().violations).toEqual([]);
  });

  it("an operator applies a two-pass upgrade (M11) at a terminal: yes to the release pass's point of no return, no to the mode pass's, whose words say the old mode is what is lost; srv1 stays in the old mode, the run resumable", async () => {
    const { dir, fleet: file } = exampleFleet("matrix-two-pass.yaml");
    const lab = await startLab(file, { speed: 1200 });
    labs.push(lab);
    const fleet = lab.derivedFleetPath;
    const tty = Terminal.start(dir);
    terminals.push(tty);
    const apply = tty.rollgate(`apply ${fleet} --to 3.5.1`);
    await tty.waitForScreen(/Apply this plan to \S+ \(\d+ steps\)\? \[y\/N\]/, 60_000, "the plan's question");
    tty.keys("y", true);
    tty.keys("Enter");
    await tty.waitForScreen(
      /matrix-a\/srv1\/stop@3\.5\.1 is a point of no return \([^)]*\): the old release cannot come back after it\. Go on\? \[y\/N\]/,
      120_000,
      "the release pass's question",
    );
    tty.keys("y", true);
    tty.keys("Enter");
    await tty.waitForScreen(
      /matrix-a\/srv1\/stop@mode-extended is a point of no return \([^)]*\): the old mode cannot come back after it\. Go on\? \[y\/N\]/,
      120_000,
      "the mode pass's question",
    );
    const labSeq = lab.status().journalSeq;
    tty.keys("n", true);
    tty.keys("Enter");
    expect(await apply.exitCode(120_000), tty.screen()).toBe(1);
    expect(tty.screen()).toMatch(/halted before matrix-a\/srv1\/stop@mode-extended: you answered no/);
    // what the lab saw: srv1 neither stopped nor set after the "n"; the others in the new mode
    const after = labJournal(lab.journalPath!).filter((e) => e.seq > labSeq);
    expect(after.filter((e) => e.kind === "action" && e.server === "srv1" && e.action !== "disable")).toEqual(
      [],
    );
    const mode = (n: string) => lab.world.servers.get(n)!.mode;
    expect([mode("srv3"), mode("srv2"), mode("srv1")]).toEqual(["extended", "extended", "classic"]);
    expect(lab.world.servers.get("srv1")!.software).toBe("running");
    const st = JSON.parse((await runCli(["status", fleet, "--json"], { timeoutMs: 30_000 })).stdout);
    expect(st.run.state).toBe("awaiting-confirmation");
    expect(lab.status().violations).toEqual([]);
  });
});
