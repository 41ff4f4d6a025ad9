import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

/**
 * The allowed edges between the folders of src/ (docs/architecture.md draws them), over every
 * import: static, `export … from`, and dynamic `import()`. A folder reaches another only along an
 * edge of this matrix, and only through that folder's entry modules: its `index.ts`, or the
 * modules it declares below (the commands load those lazily, so that `rollgate --version` does
 * not pay for the engine). model/ is the bottom: its modules are the contracts, each its own entry.
 */
const ALLOWED: Record<string, readonly string[]> = {
  model: [],
  rules: ["model"],
  plan: ["model", "rules"],
  events: ["model", "plan"],
  io: ["model"],
  drivers: ["model"],
  store: ["model", "events", "plan"],
  lab: ["model", "io"],
  import: ["model", "io"],
  run: ["model", "rules", "plan", "events", "io", "drivers", "store", "lab"],
  server: ["model", "rules", "plan", "events", "io", "store", "run"],
  web: ["events", "plan"],
  notify: ["model", "rules", "events"],
  cli: [
    "model",
    "rules",
    "plan",
    "events",
    "io",
    "drivers",
    "store",
    "lab",
    "import",
    "run",
    "server",
    "notify",
  ],
};

/** Entry modules besides index.ts, per folder: what other folders may import from it. */
const ENTRIES: Record<string, readonly string[] | "every module"> = {
  model: "every module",
  rules: ["index.ts", "packs.ts", "registry.ts", "state.ts", "context.ts", "checks.ts", "supported-paths.ts"],
  plan: ["types.ts", "planner.ts", "driver-commands.ts"],
  events: ["types.ts", "fold.ts"],
  io: ["fleet-loader.ts", "read-bounded.ts"],
  drivers: ["index.ts", "driver.ts", "http.ts"],
  store: ["open.ts", "location.ts", "types.ts", "state-file-error.ts", "host-lock.ts"],
  lab: [
    "index.ts",
    "lab.ts",
    "process.ts",
    "control-client.ts",
    "record.ts",
    "faults.ts",
    "types.ts",
    "derived-fleet.ts",
    "speed-bounds.ts",
  ],
  import: ["index.ts"],
  run: [
    "apply.ts",
    "control.ts",
    "demo.ts",
    "demo-speed.ts",
    "fleet-sync.ts",
    "rollback-targets.ts",
    "locate.ts",
    "state-path.ts",
    "summary.ts",
    "options.ts",
  ],
  server: ["index.ts", "dashboard.ts", "defaults.ts", "auth.ts"],
  web: [],
  notify: ["index.ts"],
  cli: [],
};

const SRC = resolve(new URL("../../src/", import.meta.url).pathname);

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === "dist" || name === "node_modules" ? [] : sources(path);
    return /\.(ts|tsx)$/.test(name) ? [path] : [];
  });
}

/** Every relative specifier a file imports: `import … from`, `export … from`, `import "…"`, `import("…")`. */
function specifiers(text: string): string[] {
  const found = [
    ...text.matchAll(/\b(?:import|export)\b[^"'`;]*?\bfrom\s*["']([^"']+)["']/g),
    ...text.matchAll(/\bimport\s*\(\s*["']([^"']+)["']\s*\)/g),
    ...text.matchAll(/^\s*import\s+["']([^"']+)["']/gm),
  ].map((m) => m[1]!);
  return found.filter((s) => s.startsWith("."));
}

interface Edge {
  file: string;
  from: string;
  to: string;
  module: string;
}

function edgesOf(root: string): Edge[] {
  return sources(root).flatMap((file) => {
    const rel = relative(root, file);
    const from = rel.split("/")[0]!;
    return specifiers(readFileSync(file, "utf8")).flatMap((spec) => {
      const target = relative(root, resolve(dirname(file), spec));
      const [to, ...rest] = target.split("/");
      return to === from || to === undefined ? [] : [{ file: rel, from, to, module: rest.join("/") }];
    });
  });
}

function offences(edges: readonly Edge[]): string[] {
  return edges.flatMap((e) => {
    const allowed = ALLOWED[e.from];
    if (allowed === undefined) return [`${e.file}: folder ${e.from}/ is not in the matrix`];
    if (!allowed.includes(e.to))
      return [`${e.file} imports ${e.to}/${e.module}: ${e.from}/ → ${e.to}/ is no allowed edge`];
    const entries = ENTRIES[e.to];
    if (entries === "every module" || e.module === "index.ts" || entries?.includes(e.module)) return [];
    return [`${e.file} imports ${e.to}/${e.module}: not an entry module of ${e.to}/`];
  });
}

describe("the allowed edges between the folders of src/", () => {
  it("every folder of src/ is in the matrix", () => {
    const folders = readdirSync(SRC).filter((f) => statSync(join(SRC, f)).isDirectory());
    expect(folders.filter((f) => ALLOWED[f] === undefined)).toEqual([]);
  });

  it("the pure core imports downwards only: rules/ nothing of plan/, model/ nothing at all", () => {
    expect(ALLOWED.rules).not.toContain("plan");
    expect(ALLOWED.model).toEqual([]);
    expect(ALLOWED.lab).not.toContain("rules");
    expect(ALLOWED.lab).not.toContain("plan");
  });

  it("every import of src/ (static, re-export, dynamic) follows an allowed edge to an entry module", () => {
    const edges = edgesOf(SRC);
    expect(edges.length).toBeGreaterThan(100);
    expect(offences(edges)).toEqual([]);
  });

  it("catches an import against the matrix, a dynamic one, and one into a folder's inner module", () => {
    const against = specifiers(
      `import type { Step } from "../plan/types.ts";\nconst x = await import("../run/engine.ts");`,
    );
    expect(against).toEqual(["../plan/types.ts", "../run/engine.ts"]);
    expect(
      offences([
        { file: "rules/checks.ts", from: "rules", to: "plan", module: "types.ts" },
        { file: "lab/world.ts", from: "lab", to: "rules", module: "index.ts" },
        { file: "cli/commands/x.ts", from: "cli", to: "run", module: "engine.ts" },
      ]),
    ).toEqual([
      "rules/checks.ts imports plan/types.ts: rules/ → plan/ is no allowed edge",
      "lab/world.ts imports rules/index.ts: lab/ → rules/ is no allowed edge",
      "cli/commands/x.ts imports run/engine.ts: not an entry module of run/",
    ]);
  });
});
