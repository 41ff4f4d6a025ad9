import { spawnSync } from "node:child_process";
import { chmodSync, cpSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { commandPath, EXAMPLES, everyCommand } from "../../src/cli/examples.ts";
import { buildProgram } from "../../src/cli/main.ts";
import { processOutput } from "../../src/cli/output.ts";
import { BIN, REPO, runCli, tempDir } from "../helpers/cli.ts";
import { budget, e2eTimeouts } from "../helpers/wait.ts";

// Runs the real CLI: every command's --help, and a few examples.
e2eTimeouts(120_000);

const paths = everyCommand(buildProgram({ output: processOutput(), exitCode: 0 })).map(commandPath);

describe("every command's --help ends with Examples: (issue 13, item 6)", () => {
  it("every command and subcommand of the program tree has examples, and each names its own command", () => {
    expect(paths.length).toBeGreaterThan(20);
    expect(paths.filter((p) => !EXAMPLES[p]?.length)).toEqual([]);
    expect(Object.keys(EXAMPLES).filter((p) => !paths.includes(p))).toEqual([]);
    for (const p of paths.filter((x) => x !== ""))
      expect(
        EXAMPLES[p]!.some((l) => l.startsWith(`rollgate ${p}`) || l.includes(`rollgate ${p} `)),
        p,
      ).toBe(true);
  });

  it("`rollgate … --help` ends with the Examples: section, for every command", async () => {
    for (let i = 0; i < paths.length; i += 4) {
      await Promise.all(
        paths.slice(i, i + 4).map(async (p) => {
          const r = await runCli([...p.split(" ").filter(Boolean), "--help"]);
          expect(r.code, p).toBe(0);
          const tail = `Examples:\n${EXAMPLES[p]!.map((l) => `  $ ${l}`).join("\n")}\n`;
          expect(r.stdout.endsWith(tail), `${p || "rollgate"} --help:\n${r.stdout}`).toBe(true);
        }),
      );
    }
  });

  it("the examples run as written (those that need no lab or run)", async () => {
    const runnable = [
      "rollgate validate examples/matrix-seed.yaml",
      "rollgate validate examples/mixed-fleet.yaml --json",
      "rollgate plan examples/matrix-seed.yaml --to 3.5.1 --explain",
      "rollgate plan examples/dma-supercluster.yaml --to 10.1.0 --compare",
      "rollgate plan examples/mixed-fleet.yaml --to polyserve-matrix=3.5.1 --to polycom-dma=10.1.0 --json",
      "rollgate rules --pack polycom-dma --json",
      "rollgate rules",
      "rollgate demo --speed 6000 --json",
    ];
    const listed = Object.values(EXAMPLES).flat();
    for (const line of runnable) {
      expect(listed, line).toContain(line);
      const r = await runCli(line.split(" ").slice(1));
      expect(r.code, `${line}\n${r.stderr}`).toBe(0);
      expect(r.stdout).not.toBe("");
    }
  });

  /**
   * Why an example is not run here: it needs a lab up, a run's state file, or it runs an engine
   * or a server until stopped. Every other example runs for real.
   */
  function needsALabOrRun(line: string): string | undefined {
    if (line.includes("examples/.rollgate/lab/")) return "the lab's derived fleet (lab up first)";
    if (/^rollgate (lab|demo|serve|engine)\b/.test(line) || /^\S+=\S+ rollgate engine\b/.test(line))
      return "starts or drives a lab, an engine or a server";
    if (/^rollgate token (revoke|list|create)\b/.test(line) || /^rollgate token\b/.test(line))
      return "a state file a run made";
    return undefined;
  }

  it("every other example runs as written from a copy of the checkout (a shell, a rollgate on PATH)", () => {
    const listed = [...new Set(Object.values(EXAMPLES).flat())];
    const runnable = listed.filter((l) => needsALabOrRun(l) === undefined);
    // the ones the brief says must run, among them
    for (const l of [
      "rollgate import ansible examples/ansible/hosts.ini --pack polyserve-matrix --version 3.5.0 -o fleet.yaml",
      "rollgate import ansible examples/ansible/inventory.yaml --group-as supercluster --pack polycom-dma --version 10.0.1",
      "rollgate schema > fleet.schema.json",
    ])
      expect(runnable).toContain(l);
    const root = tempDir("rollgate-examples-");
    cpSync(join(REPO, "examples"), join(root, "examples"), {
      recursive: true,
      filter: (src) => !src.includes(".rollgate"),
    });
    const bin = join(root, "bin");
    mkdirSync(bin);
    writeFileSync(join(bin, "rollgate"), `#!/bin/sh\nexec "${process.execPath}" "${BIN}" "$@"\n`);
    chmodSync(join(bin, "rollgate"), 0o755);
    // the folders the completion examples write into (they say the folder must be on $fpath)
    mkdirSync(join(root, ".zfunc"));
    mkdirSync(join(root, ".config", "fish", "completions"), { recursive: true });
    for (const line of runnable) {
      const r = spawnSync("bash", ["-c", `set -e -o pipefail\n${line}`], {
        cwd: root,
        encoding: "utf8",
        env: { ...process.env, HOME: root, NO_COLOR: "1", PATH: `${bin}:${process.env.PATH}` },
        timeout: budget(60_000),
      });
      expect(r.status, `${line}\n${r.stderr}`).toBe(0);
    }
  });

  it("the token revoke example's id reads as a placeholder, and the status example names the apply's fleet", () => {
    expect(EXAMPLES["token revoke"]!.join("\n")).toMatch(/TOKEN_ID .*`rollgate token list`/);
    expect(EXAMPLES.status).toContain("rollgate status examples/.rollgate/lab/matrix-seed.lab.yaml --json");
  });
});
