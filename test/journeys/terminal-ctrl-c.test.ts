import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import { type Lab, startLab } from "../../src/lab/index.ts";
import { BIN, runCli } from "../helpers/cli.ts";
import { waitFor, e2eTimeouts } from "../helpers/wait.ts";
import { exampleFleet, labJournal, type Terminal as Tty, Terminal } from "./terminal-helpers.ts";

e2eTimeouts(240_000);

// An operator at a real terminal (tmux): Ctrl-C during `rollgate apply`, `rollgate resume`
// asking the point-of-no-return question (G4), "n", and yes. The Matrix seed at speed 100: an
// install takes 9 s, long enough for a Ctrl-C to land in the middle of one.
const SPEED = 100;

/**
 * The seed's steps around the installs (disable, backup, stop, start, verify: 1 to 2 minutes
 * each, 0.6 to 1.2 s at speed 100) take 20 s here (0.2 s): no signal lands in one of them. The
 * install keeps the seed's 15 minutes (9 s) where a Ctrl-C or SIGTERM lands in one; `install`
 * shortens it too where none does.
 */
function quickSteps(fleet: string, install = "15m"): void {
  const text = readFileSync(fleet, "utf8");
  const quick = text.replace(
    /^( {4})estimates: \{ install: 15m \}$/m,
    `$1estimates: { install: ${install}, disable: 20s, backup: 20s, stop: 20s, start: 20s, verify: 20s }`,
  );
  if (quick === text) throw new Error("matrix-seed.yaml: its estimates line changed");
  writeFileSync(fleet, quick);
}

const labs: Lab[] = [];
const terminals: Tty[] = [];
afterAll(async () => {
  for (const t of terminals) t.kill();
  for (const l of labs) await l.stop();
});

async function matrixLab(install?: string): Promise<{ lab: Lab; dir: string }> {
  const { dir, fleet } = exampleFleet("matrix-seed.yaml");
  quickSteps(fleet, install);
  const lab = await startLab(fleet, { speed: SPEED });
  labs.push(lab);
  return { lab, dir };
}

const server = (lab: Lab, name: string) => lab.status().servers.find((s) => s.name === name)!;

async function runStatus(fleet: string): Promise<{ run: { state: string }; running: string[] }> {
  const st = await runCli(["status", fleet, "--json"], { timeoutMs: 30_000 });
  expect(st.code).toBe(0);
  return JSON.parse(st.stdout);
}

describe("journey: the terminal", () => {
  it("an operator presses Ctrl-C during apply at a terminal, resumes, answers no at the point of no return, then resumes and answers yes", async () => {
    const { lab, dir } = await matrixLab();
    const fleet = lab.derivedFleetPath;
    const tty = Terminal.start(dir);
    terminals.push(tty);

    // apply, at a terminal: the plan is shown and asked about
    const apply = tty.rollgate(`apply ${fleet} --to 3.5.1`);
    await tty.waitForScreen(/Apply this plan to seed-matrix \(18 steps\)\? \[y\/N\]/, 60_000);
    tty.keys("y", true);
    tty.keys("Enter");

    // Ctrl-C while srv3 (the first, M2) installs
    await waitFor(() => server(lab, "srv3").state === "installing", {
      timeoutMs: 60_000,
      what: "srv3 to install",
    });
    const seqAtCtrlC = lab.status().journalSeq;
    tty.keys("C-c");
    // said at once, while the install still runs
    await tty.waitForScreen(
      /Ctrl-C: pausing run run-\S+: running steps finish, no new step starts; `rollgate resume \S+` continues; Ctrl-C again to stop now, the run stays resumable/,
      5_000,
      "the pausing message",
    );
    expect(server(lab, "srv3").state).toBe("installing");
    // the pause is durable at once, as `rollgate pause` makes it
    expect((await runStatus(fleet)).run.state).toBe("paused");

    // the engine lets the install end, then exits 1 (a halted operation, docs/errors.md)
    expect(await apply.exitCode(60_000)).toBe(1);
    expect(tty.screen()).toMatch(
      /run run-\S+ paused: running steps finished, no new step started; continue with: rollgate resume \S+matrix-seed\.lab\.yaml/,
    );
    // what the lab saw: the install ran to its end, and no action came after the Ctrl-C
    const after = labJournal(lab.journalPath!).filter((e) => e.seq > seqAtCtrlC);
    expect(after.filter((e) => e.kind === "action" || e.kind === "refused")).toEqual([]);
    expect(after.some((e) => e.server === "srv3" && /installed 3\.5\.1/.test(e.detail))).toBe(true);
    expect(server(lab, "srv3")).toMatchObject({ release: "3.5.1", state: "stopped" });
    const paused = await runStatus(fleet);
    expect(paused.run.state).toBe("paused");
    expect(paused.running).toEqual([]); // nothing left half-way

    // resume, at a terminal: the run goes on to srv1's stop, M4's point of no return, and asks
    const resume = tty.rollgate(`resume ${fleet}`);
    await tty.waitForScreen(
      /matrix-a\/srv1\/stop is a point of no return \(.*\): the old release cannot come back after it\. Go on\? \[y\/N\]/,
      120_000,
      "the point-of-no-return question",
    );
    expect(server(lab, "srv1")).toMatchObject({ release: "3.5.0", state: "running" });
    const seqAtNo = lab.status().journalSeq;
    tty.keys("n", true);
    tty.keys("Enter");
    // "n" halts cleanly: exit 1, how to go on, the run still resumable, nothing sent
    expect(await resume.exitCode(60_000)).toBe(1);
    const screen = tty.screen();
    expect(screen).toMatch(
      /halted before matrix-a\/srv1\/stop: you answered no at its point of no return \(G4\); it was not started, and the run stays resumable \[ROLLGATE_E_CONFIRM_REQUIRED\]/,
    );
    expect(screen).toMatch(
      /continue with: rollgate resume \S+ \(asks again\), or rollgate resume \S+ --confirm-finalize/,
    );
    expect((await runStatus(fleet)).run.state).toBe("awaiting-confirmation");
    expect(labJournal(lab.journalPath!).filter((e) => e.seq > seqAtNo && e.kind === "action")).toEqual([]);
    expect(server(lab, "srv1")).toMatchObject({ release: "3.5.0", state: "running" });

    // resume once more: the question comes at once (the run starts right at it), yes completes
    const last = tty.rollgate(`resume ${fleet}`);
    await tty.waitForScreen(/srv1\/stop is a point of no return .* Go on\? \[y\/N\]/, 60_000, "the question");
    tty.keys("y", true);
    tty.keys("Enter");
    expect(await last.exitCode(120_000)).toBe(0);
    expect(tty.screen()).toMatch(/run run-\S+ completed: every step done, fleet on 3\.5\.1/);
    const end = lab.status();
    expect(end.servers.map((s) => [s.name, s.release, s.state])).toEqual([
      ["srv1", "3.5.1", "running"],
      ["srv2", "3.5.1", "running"],
      ["srv3", "3.5.1", "running"],
    ]);
    expect(end.installs).toEqual({ srv1: 1, srv2: 1, srv3: 1 });
    expect(end.violations).toEqual([]);
  }, 420_000);

  it("an operator presses Ctrl-C twice during an install: the engine exits at once, and resume finishes the install it left running", async () => {
    const { lab, dir } = await matrixLab();
    const fleet = lab.derivedFleetPath;
    const tty = Terminal.start(dir);
    terminals.push(tty);

    const apply = tty.rollgate(`apply ${fleet} --to 3.5.1 --yes`);
    await waitFor(() => server(lab, "srv3").state === "installing", {
      timeoutMs: 60_000,
      what: "srv3 to install",
    });
    tty.keys("C-c");
    await tty.waitForScreen(/Ctrl-C: pausing run/, 5_000, "the pausing message");
    tty.keys("C-c");
    // promptly: the install (9 s) is still under way when the shell has the exit code
    expect(await apply.exitCode(5_000)).toBe(1);
    expect(server(lab, "srv3").state).toBe("installing");
    expect(tty.screen()).toMatch(
      /Ctrl-C again: stopping now; run run-\S+ stays resumable \(steps under way are observed again\): rollgate resume \S+/,
    );
    const left = await runStatus(fleet);
    expect(left.run.state).toBe("paused");
    expect(left.running).toEqual(["matrix-a/srv3/install"]);

    // as after a crash: resume waits for the install under way instead of starting another
    const resumed = await runCli(["resume", fleet, "--confirm-finalize"], { timeoutMs: 180_000 });
    expect(resumed.code).toBe(0);
    const end = lab.status();
    expect(end.servers.every((s) => s.release === "3.5.1" && s.state === "running")).toBe(true);
    expect(end.installs).toEqual({ srv1: 1, srv2: 1, srv3: 1 });
    expect(end.violations).toEqual([]);
  }, 300_000);

  it("a script's engine gets SIGTERM without a terminal (--json): it pauses, lets the install end, and exits 1", async () => {
    const { lab } = await matrixLab();
    const fleet = lab.derivedFleetPath;
    const child = spawn(process.execPath, [BIN, "apply", fleet, "--to", "3.5.1", "--yes", "--json"], {
      env: { ...process.env, NO_COLOR: "1" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const exited = new Promise<number>((resolve) => child.on("close", (code) => resolve(code ?? -1)));
    await waitFor(() => server(lab, "srv3").state === "installing", {
      timeoutMs: 60_000,
      what: "srv3 to install",
    });
    const seq = lab.status().journalSeq;
    child.kill("SIGTERM");
    await waitFor(() => /SIGTERM: pausing run/.test(stderr), { timeoutMs: 5_000, what: "the message" });
    expect(server(lab, "srv3").state).toBe("installing");
    const code = await Promise.race([
      exited,
      waitFor(() => false, { timeoutMs: 60_000, what: "the engine to exit" }).then(() => -2),
    ]);
    expect(code).toBe(1);
    const lines = stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.at(-1)).toMatchObject({ ok: false, state: "paused" });
    expect(lines.some((e) => e.type === "run.state" && e.state === "paused")).toBe(true);
    // the install was not cut short: it ended before the engine did, and nothing came after
    expect(server(lab, "srv3")).toMatchObject({ release: "3.5.1", state: "stopped" });
    expect(labJournal(lab.journalPath!).filter((e) => e.seq > seq && e.kind === "action")).toEqual([]);
    expect((await runStatus(fleet)).run.state).toBe("paused");
  }, 180_000);

  it("SIGTERM comes while the point-of-no-return question is open: the run pauses at once without an answer, and the terminal is left sane", async () => {
    // the signal lands in no install: srv3's and srv2's take 1 minute (0.6 s)
    const { lab, dir } = await matrixLab("1m");
    const fleet = lab.derivedFleetPath;
    const tty = Terminal.start(dir);
    terminals.push(tty);

    const apply = tty.rollgate(`apply ${fleet} --to 3.5.1 --yes`);
    await tty.waitForScreen(
      /matrix-a\/srv1\/stop is a point of no return \(.*\): the old release cannot come back after it\. Go on\? \[y\/N\]/,
      180_000,
      "the point-of-no-return question",
    );
    const seq = lab.status().journalSeq;
    const pid = await waitFor(() => tty.commandPid(), { timeoutMs: 10_000, what: "rollgate's pid" });
    process.kill(pid, "SIGTERM");
    // promptly: the question is withdrawn, nothing runs, so the engine ends at once
    expect(await apply.exitCode(15_000), tty.screen()).toBe(1);
    const screen = tty.screen();
    expect(screen).toMatch(/SIGTERM: pausing run run-\S+/);
    expect(screen).toMatch(/run run-\S+ paused: running steps finished, no new step started/);
    expect(screen).not.toMatch(/ROLLGATE_E_INTERNAL/);
    // durable: paused in the store, nothing left under way, nothing sent after the signal
    const st = await runStatus(fleet);
    expect(st.run.state).toBe("paused");
    expect(st.running).toEqual([]);
    expect(labJournal(lab.journalPath!).filter((e) => e.seq > seq && e.kind === "action")).toEqual([]);
    expect(server(lab, "srv1")).toMatchObject({ release: "3.5.0", state: "running" });
    // the terminal as the shell expects it: raw mode off, the cursor shown
    expect(tty.cursorVisible()).toBe(true);
    const stty = await tty.stty(10_000);
    for (const flag of ["icanon", "echo", "isig", "icrnl", "opost"])
      expect(stty, stty).toMatch(new RegExp(`(^|\\s)${flag}(\\s|$)`));
  }, 300_000);
});
