import { spawnSync } from "node:child_process";
import { chmodSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { buildProgram } from "../../src/cli/main.ts";
import { commandPath, everyCommand } from "../../src/cli/examples.ts";
import { processOutput } from "../../src/cli/output.ts";
import { BIN, runCli, tempDir } from "../helpers/cli.ts";
import { budget, e2eTimeouts } from "../helpers/wait.ts";

// Runs the real CLI and the real bash.
e2eTimeouts(60_000);

/** A folder with a `rollgate` on it that runs this checkout's bin, to put first on PATH. */
function rollgateOnPath(): string {
  const dir = tempDir("rollgate-completion-");
  const shim = join(dir, "rollgate");
  writeFileSync(shim, `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`);
  chmodSync(shim, 0o755);
  return dir;
}

const hasShell = (shell: string) => spawnSync("sh", ["-c", `command -v ${shell}`]).status === 0;

/** The program's commands as paths ("lab up"), from the program tree itself. */
const paths = everyCommand(buildProgram({ output: processOutput(), exitCode: 0 }))
  .map(commandPath)
  .filter((p) => p !== "");

describe("rollgate completion bash|zsh|fish (issue 13, item 6)", () => {
  it("bash: the script sources in the real bash, registers `complete -F`, and completes partial words", () => {
    const dir = rollgateOnPath();
    // each case: the words typed (the last is the partial word under the cursor)
    const cases: Array<[string[], string]> = [
      [["rollgate", "va"], "validate"],
      [["rollgate", "lab", ""], "up status down fault act"],
      [["rollgate", "lab", "f"], "fault"],
      [["rollgate", "apply", "f.yaml", "--log-f"], "--log-format"],
      [["rollgate", "apply", "f.yaml", "--log-level", "d"], "debug"],
      [["rollgate", "apply", "f.yaml", "--strategy", "in"], "incremental"],
      [["rollgate", "completion", ""], "bash zsh fish"],
      [["rollgate", "lab", "fault", "f.yaml", "srv1", "install-"], "install-fails install-hangs"],
      [["rollgate", "token", "create", "--role", ""], "viewer operator"],
      // plan checks --strategy itself: its choices come from its help line
      [
        ["rollgate", "plan", "x.yaml", "--strategy", ""],
        "auto rolling patch maintenance-window incremental all-at-once two-halves",
      ],
      // nothing more after the shell, after --version, after the last argument with choices
      [["rollgate", "completion", "bash", ""], ""],
      [["rollgate", "--version", ""], ""],
      [["rollgate", "lab", "fault", "f.yaml", ""], ""],
      [["rollgate", "import", "ansible", "h.ini", "--version", "1.0", "--gro"], "--group-as"],
    ];
    const script = [
      "source <(rollgate completion bash) || exit 9",
      "complete -p rollgate",
      ...cases.map(
        ([words]) =>
          `COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _rollgate; echo "reply: \${COMPREPLY[*]}"`,
      ),
    ].join("\n");
    const r = spawnSync("bash", ["-c", script], {
      encoding: "utf8",
      env: { ...process.env, PATH: `${dir}:${process.env.PATH}` },
      timeout: budget(30_000),
    });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    const [registered, ...replies] = r.stdout.replace(/\n$/, "").split("\n");
    expect(registered).toBe("complete -o default -F _rollgate rollgate");
    expect(replies).toEqual(cases.map(([, want]) => `reply: ${want}`));
  });

  it("bash and zsh scripts offer every command of the program tree; fish's names each one too", async () => {
    for (const shell of ["bash", "zsh", "fish"]) {
      const r = await runCli(["completion", shell]);
      expect(r.code, r.stderr).toBe(0);
      for (const p of paths) expect(r.stdout, `${shell}: ${p}`).toContain(`'${p}'`);
      // zsh ties `path` to $PATH: a local of that name would empty it while completing
      if (shell === "zsh") expect(r.stdout).not.toMatch(/\blocal\b[^\n]*\bpath\b/);
      if (hasShell(shell)) {
        const check = spawnSync(shell, ["-n"], { input: r.stdout, encoding: "utf8" });
        expect(check.status, `${shell} -n: ${check.stderr}`).toBe(0);
      }
    }
  });

  it("an unknown shell is a usage error (exit 2) that names the shells", async () => {
    const r = await runCli(["completion", "tcsh"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("Allowed choices are bash, zsh, fish. [ROLLGATE_E_USAGE]");
  });
});
