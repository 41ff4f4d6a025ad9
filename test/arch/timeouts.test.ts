import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const REPO = fileURLToPath(new URL("../..", import.meta.url));

const files = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith(".test.ts") ? [join(dir, e.name)] : [],
  );

// What makes a test file end to end: it starts the CLI, an engine, a lab, a server or a process.
const STARTS =
  /from "[^"]*(helpers\/cli\.ts|helpers\/engine\.ts|src\/lab\/[^"]*|src\/server\/[^"]*|-helpers\.ts|\/helpers\.ts)"|from "node:child_process"/;

describe("test time budgets", () => {
  it("every end-to-end test file declares its own budget (e2eTimeouts), never vitest's short default", () => {
    const missing = files(join(REPO, "test"))
      .filter((f) => f !== fileURLToPath(import.meta.url))
      .filter((f) => {
        const text = readFileSync(f, "utf8");
        return STARTS.test(text) && !/\ne2eTimeouts\(\d[\d_]*\);/.test(text);
      })
      .map((f) => relative(REPO, f));
    expect(missing).toEqual([]);
  });
});
