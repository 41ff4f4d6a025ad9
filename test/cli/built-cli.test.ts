import { spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { build, isFresh } from "../../scripts/build.js";
import { REPO, tempDir } from "../helpers/cli.ts";
import { budget, e2eTimeouts } from "../helpers/wait.ts";

// Starts the CLI (built, and through tsx, which compiles at start: a few seconds on a busy machine).
e2eTimeouts(90_000);

const VERSION = (JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { version: string }).version;

/** A checkout of its own (bin, scripts, src but the page, examples; node_modules linked), unbuilt. */
function checkout(): string {
  const dir = tempDir("rollgate-built-");
  for (const p of ["bin", "scripts", "examples", "package.json"])
    cpSync(join(REPO, p), join(dir, p), { recursive: true });
  cpSync(join(REPO, "src"), join(dir, "src"), {
    recursive: true,
    filter: (from) => !relative(join(REPO, "src"), from).startsWith("web"),
  });
  symlinkSync(join(REPO, "node_modules"), join(dir, "node_modules"), "dir");
  return dir;
}

/** `rollgate --version` in that checkout. */
function version(dir: string, env: Record<string, string> = {}): string {
  const r = spawnSync(process.execPath, [join(dir, "bin", "rollgate.js"), "--version"], {
    cwd: dir,
    encoding: "utf8",
    env: { ...process.env, ...env },
    timeout: budget(60_000),
  });
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  return r.stdout.trim();
}

/** Marks the built code so that a run of it can be told from a run of the sources. */
function markBuild(dir: string): void {
  writeFileSync(join(dir, "dist", "cli", "version.js"), 'export const ROLLGATE_VERSION = "built";\n');
}

describe("bin/rollgate.js runs the build when it is fresh, else the sources (issue 11)", () => {
  it("runs dist/ once built, and src/ through tsx when the build is missing, stale or refused", async () => {
    const dir = checkout();
    // never built: the sources
    expect(isFresh(dir)).toBe(false);
    expect(version(dir)).toBe(VERSION);

    await build(dir);
    expect(isFresh(dir)).toBe(true);
    markBuild(dir);
    expect(version(dir)).toBe("built");
    // ROLLGATE_FROM_SOURCE=1 runs the sources even so
    expect(version(dir, { ROLLGATE_FROM_SOURCE: "1" })).toBe(VERSION);

    // a source edited after the build (even one whose modification time is set back): the sources
    const main = join(dir, "src", "cli", "main.ts");
    writeFileSync(main, readFileSync(main, "utf8"));
    utimesSync(main, new Date(2000, 0, 1), new Date(2000, 0, 1));
    expect(isFresh(dir)).toBe(false);
    expect(version(dir)).toBe(VERSION);

    // rebuilt: the build again; a new source file makes it stale, and so does its removal
    await build(dir);
    markBuild(dir);
    expect(version(dir)).toBe("built");
    const extra = join(dir, "src", "model", "extra.ts");
    writeFileSync(extra, "export const EXTRA = 1;\n");
    expect(isFresh(dir)).toBe(false);
    await build(dir);
    expect(isFresh(dir)).toBe(true);
    rmSync(extra);
    expect(isFresh(dir)).toBe(false);

    // the build removed: the sources
    await build(dir);
    expect(isFresh(dir)).toBe(true);
    rmSync(join(dir, "dist"), { recursive: true });
    expect(isFresh(dir)).toBe(false);
    expect(version(dir)).toBe(VERSION);
  });

  it("the build (test/global-setup.ts made it) is fresh, imports .js files only, and resolves the package's files", () => {
    expect(isFresh(REPO)).toBe(true);
    const files = (d: string): string[] =>
      readdirSync(d, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory() ? files(join(d, e.name)) : [join(d, e.name)],
      );
    const built = files(join(REPO, "dist")).filter((f) => f.endsWith(".js"));
    expect(built).toContain(join(REPO, "dist", "cli", "main.js"));
    for (const f of built)
      expect(readFileSync(f, "utf8"), f).not.toMatch(/from\s*"\.{1,2}\/[^"]*\.ts"|import\(\s*"[^"]*\.ts"\)/);
    // the paths modules resolve from import.meta.url point at the package's files from dist/ too
    const script = `
      const { WEB_DIST } = await import("./dist/server/static.js");
      const { ROLLGATE_VERSION } = await import("./dist/cli/version.js");
      const { DEMO_FLEET } = await import("./dist/run/demo.js");
      console.log(JSON.stringify({ WEB_DIST, ROLLGATE_VERSION, DEMO_FLEET }));`;
    const r = spawnSync(process.execPath, ["--input-type=module", "-e", script], {
      cwd: REPO,
      encoding: "utf8",
      timeout: budget(30_000),
    });
    expect(r.stderr).toBe("");
    const paths = JSON.parse(r.stdout) as { WEB_DIST: string; ROLLGATE_VERSION: string; DEMO_FLEET: string };
    expect(paths.WEB_DIST).toBe(join(REPO, "src", "web", "dist/"));
    expect(paths.ROLLGATE_VERSION).toBe(VERSION);
    expect(paths.DEMO_FLEET).toBe(join(REPO, "examples", "demo.yaml"));
    expect(existsSync(paths.DEMO_FLEET)).toBe(true);
    expect(readFileSync(join(REPO, "dist", "lab", "process.js"), "utf8")).toContain(
      '"../../bin/rollgate.js"',
    );
  });
});
