import { describe, expect, it } from "vitest";
import { commandPath, EXAMPLES, everyCommand } from "../../src/cli/examples.ts";
import { buildProgram } from "../../src/cli/main.ts";
import { processOutput } from "../../src/cli/output.ts";
import { runCli } from "../helpers/cli.ts";
import { e2eTimeouts } from "../helpers/wait.ts";

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
});
