import { copyFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { escapeControls, jsonText, painter, terminalText } from "../../src/cli/output.ts";
import { REPO, runCli, tempDir } from "../helpers/cli.ts";
import { e2eTimeouts } from "../helpers/wait.ts";

e2eTimeouts(60_000);

const dirs: string[] = [];
afterEach(() => {
  while (dirs.length) rmSync(dirs.pop()!, { recursive: true, force: true });
});

const FAKE = "\u001b[2K\r\u2714 ok: srv3 upgraded";
/** What reaches a terminal must hold no control character but newline (and tab). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: looking for control characters is the point
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

describe("what rollgate prints to a terminal (one place: cli/output.ts)", () => {
  it("escapes C0 and C1 controls and bidi overrides, but keeps rollgate's own colours", () => {
    expect(terminalText(FAKE)).toBe("\\x1b[2K\\r\u2714 ok: srv3 upgraded");
    expect(terminalText("a\tb\nc")).toBe("a\tb\nc");
    expect(escapeControls("\u009b2K\u0007\u007f\u202eabc")).toBe("\\x9b2K\\x07\\x7f\\u202eabc");
    const paint = painter(true);
    expect(terminalText(paint("green", "ok"))).toBe("\u001b[32mok\u001b[0m");
    // a colour spelt inside a value stays text, even inside a painted string
    expect(terminalText(paint("red", `x${FAKE}`))).toBe(
      "\u001b[31mx\\x1b[2K\\r\u2714 ok: srv3 upgraded\u001b[0m",
    );
    expect(terminalText("\uE000:32mforged")).toBe("\uE000:32mforged");
    expect(painter(false)("green", "ok")).toBe("ok");
    // JSON: the same value, with the characters JSON.stringify leaves raw written as \u escapes
    const j = jsonText({ s: `${FAKE}\u009b\u202e` });
    expect(j).not.toMatch(RAW_CONTROL);
    expect(j).not.toContain("\u202e");
    expect(JSON.parse(j)).toEqual({ s: `${FAKE}\u009b\u202e` });
  });

  it("a driver's answer and the state file's record of it are printed escaped by apply and status", async () => {
    const d = tempDir("rollgate-terminal-");
    dirs.push(d);
    const fleet = join(d, "fleet.yaml");
    const say = `process.stderr.write(${JSON.stringify(`${FAKE}\n`)}); process.exit(1)`;
    const status = `console.log(JSON.stringify({ state: "running", release: "3.5.0" }))`;
    writeFileSync(
      fleet,
      [
        "apiVersion: rollgate/v1",
        "fleet: f",
        "clusters:",
        "  - name: m",
        "    pack: polyserve-matrix",
        "    version: 3.5.0",
        "    driver:",
        "      exec:",
        "        commands:",
        `          disable: [${JSON.stringify(process.execPath)}, -e, ${JSON.stringify(say)}]`,
        `          status: [${JSON.stringify(process.execPath)}, -e, ${JSON.stringify(status)}]`,
        // every other action of the plan has a command (never reached: disable fails first)
        ...["backup", "stop", "install", "start", "verify"].map(
          (a) => `          ${a}: [${JSON.stringify(process.execPath)}, -e, "process.exit(1)"]`,
        ),
        "    servers:",
        "      - { name: srv1, address: 127.0.0.1 }",
        "      - { name: srv2, address: 127.0.0.2 }",
        "      - { name: srv3, address: 127.0.0.3 }",
        "",
      ].join("\n"),
    );
    const state = join(d, "state.db");
    const apply = await runCli(["apply", fleet, "--to", "3.5.1", "--yes", "--state", state], {
      timeoutMs: 60_000,
    });
    expect(apply.code, apply.stderr).toBe(1); // escalated: the driver's command failed
    expect(apply.stderr).toContain("\\x1b[2K\\r\u2714 ok: srv3 upgraded");
    expect(apply.stderr + apply.stdout).not.toMatch(RAW_CONTROL);
    const st = await runCli(["status", "--state", state], { timeoutMs: 30_000 });
    expect(st.code, st.stderr).toBe(0);
    expect(st.stdout).toContain("ESCALATION [M9]");
    expect(st.stdout).toContain("\\x1b[2K\\r\u2714 ok");
    expect(st.stdout + st.stderr).not.toMatch(RAW_CONTROL);
    // --json carries the value itself, escaped by JSON
    const json = await runCli(["status", "--state", state, "--json"], { timeoutMs: 30_000 });
    expect(json.stdout).not.toMatch(RAW_CONTROL);
    expect(JSON.parse(json.stdout).escalation.detail).toContain(FAKE);
  }, 120_000);

  it("a fleet file's name with an escape sequence, in validate's ok line and in an error", async () => {
    const d = tempDir("rollgate-terminal-");
    dirs.push(d);
    const evil = join(d, `seed${FAKE}.yaml`);
    copyFileSync(join(REPO, "examples", "matrix-seed.yaml"), evil);
    const ok = await runCli(["validate", evil], { timeoutMs: 30_000 });
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toContain("seed\\x1b[2K\\r\u2714 ok: srv3 upgraded.yaml");
    expect(ok.stdout + ok.stderr).not.toMatch(RAW_CONTROL);
    const missing = await runCli(["validate", join(d, `gone${FAKE}.yaml`)], { timeoutMs: 30_000 });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("gone\\x1b[2K\\r");
    expect(missing.stderr).not.toMatch(RAW_CONTROL);
    // and commander's own usage errors, which quote the argument
    const usage = await runCli(["plan", evil, "--strategy", `x${FAKE}`], { timeoutMs: 30_000 });
    expect(usage.code).toBe(2);
    expect(usage.stderr).not.toMatch(RAW_CONTROL);
  }, 90_000);
});
