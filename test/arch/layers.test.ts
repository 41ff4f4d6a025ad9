import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

const SRC = new URL("../../src/", import.meta.url).pathname;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith(".ts") ? [p] : [];
  });
}

function imports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [...text.matchAll(/^\s*(?:import|export)[^'"]*?from\s+["']([^"']+)["']/gm)].map((m) => m[1]!);
}

const PURE = ["model", "rules", "plan"];
const SHELL = ["cli", "server", "web", "run", "drivers", "store", "lab", "events", "io", "import"];
const ALLOWED_PACKAGES = new Set(["yaml", "zod"]);

describe("functional core, imperative shell", () => {
  for (const layer of PURE) {
    it(`${layer}/ imports no node built-in, no shell layer, and reads no clock or randomness`, () => {
      for (const file of files(join(SRC, layer))) {
        const rel = relative(SRC, file);
        for (const spec of imports(file)) {
          expect(spec.startsWith("node:"), `${rel} imports ${spec}`).toBe(false);
          if (spec.startsWith(".")) {
            const target = relative(SRC, join(file, "..", spec)).split("/")[0]!;
            expect(SHELL.includes(target), `${rel} imports ${spec}`).toBe(false);
          } else {
            expect(ALLOWED_PACKAGES.has(spec.split("/")[0]!), `${rel} imports package ${spec}`).toBe(true);
          }
        }
        const text = readFileSync(file, "utf8");
        expect(
          /\bDate\.now\(|new Date\(|Math\.random\(|performance\.now\(|process\./.test(text),
          `${rel} reads a clock, randomness or process`,
        ).toBe(false);
      }
    });
  }
});
