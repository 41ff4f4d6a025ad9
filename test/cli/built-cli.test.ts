import { spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";
import { build, isFresh } from "../../scripts/build.js";
import { BIN, REPO, runCli, tempDir } from "../helpers/cli.ts";
import { budget, e2eTimeouts, waitFor } from "../helpers/wait.ts";

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
    filter: (from) => !/^web($|\/)/.test(relative(join(REPO, "src"), from)),
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
  const main = join(dir, "dist", "cli", "main.js");
  writeFileSync(main, `process.stdout.write("built:");\n${readFileSync(main, "utf8")}`);
}
const BUILT = `built:${VERSION}`;

describe("bin/rollgate.js runs the build when it is fresh, else the sources (issue 11)", () => {
  it("runs dist/ once built, and src/ through tsx when the build is missing, stale or refused", async () => {
    const dir = checkout();
    // never built: the sources
    expect(isFresh(dir)).toBe(false);
    expect(version(dir)).toBe(VERSION);

    await build(dir);
    expect(isFresh(dir)).toBe(true);
    markBuild(dir);
    expect(version(dir)).toBe(BUILT);
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
    expect(version(dir)).toBe(BUILT);
    const extra = join(dir, "src", "model", "extra.ts");
    writeFileSync(extra, "export const EXTRA = 1;\n");
    expect(isFresh(dir)).toBe(false);
    await build(dir);
    expect(isFresh(dir)).toBe(true);
    rmSync(extra);
    expect(isFresh(dir)).toBe(false);

    // the build script changed: the sources
    const script = join(dir, "scripts", "build.js");
    writeFileSync(script, readFileSync(script, "utf8"));
    expect(isFresh(dir)).toBe(false);

    // the build removed: the sources
    await build(dir);
    expect(isFresh(dir)).toBe(true);
    rmSync(join(dir, "dist"), { recursive: true });
    expect(isFresh(dir)).toBe(false);
    expect(version(dir)).toBe(VERSION);
  });

  it("a dist/ copied from another checkout (built after these sources were last changed) is not run: the sources are", async () => {
    const a = checkout();
    const b = checkout();
    const versionTs = join(b, "src", "cli", "version.ts");
    writeFileSync(
      versionTs,
      readFileSync(versionTs, "utf8").replace(").version;", ').version + "-FROM-CKB";'),
    );
    await build(b);
    expect(version(b)).toBe(`${VERSION}-FROM-CKB`);
    // b's build is stamped later than any of a's sources, with as many files: still not a's build
    cpSync(join(b, "dist"), join(a, "dist"), { recursive: true });
    expect(isFresh(a)).toBe(false);
    expect(version(a)).toBe(VERSION);
    // built in a, it is a's
    await build(a);
    expect(isFresh(a)).toBe(true);
    expect(version(a)).toBe(VERSION);
    // and the check stays cheap: a few milliseconds for the ~100 sources
    const t0 = performance.now();
    for (let i = 0; i < 10; i++) isFresh(a);
    expect((performance.now() - t0) / 10).toBeLessThan(budget(50));
  });

  it("refuses to build a source whose new URL(…, import.meta.url) would name another file from dist/cli/", async () => {
    const dir = checkout();
    writeFileSync(
      join(dir, "src", "cli", "views", "deep.ts"),
      'export const README = new URL("../../README.md", import.meta.url);\n',
    );
    await expect(build(dir)).rejects.toThrow(
      /deep\.ts: new URL\("\.\.\/\.\.\/README\.md", import\.meta\.url\)/,
    );
    expect(existsSync(join(dir, "dist"))).toBe(false);
  });

  it("the build (test/global-setup.ts made it) is fresh and finds the package's files: package.json, the page", async () => {
    expect(isFresh(REPO)).toBe(true);
    expect(existsSync(join(REPO, "dist", "cli", "main.js"))).toBe(true);
    // the version comes from package.json (src/cli/version.ts: ../../package.json)
    expect((await runCli(["--version"])).stdout.trim()).toBe(VERSION);
    // the page from src/web/dist (src/server/static.ts), when vite has built it
    if (!existsSync(join(REPO, "src", "web", "dist", "index.html"))) return;
    const dir = tempDir();
    const child = spawn(
      process.execPath,
      [BIN, "serve", "--port", "0", "--json", "--state", join(dir, "state.db")],
      {
        cwd: REPO,
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    try {
      let out = "";
      child.stdout.on("data", (d) => (out += d));
      const { url } = await waitFor(
        () => (out.includes("\n") ? (JSON.parse(out) as { url: string }) : undefined),
        {
          what: "rollgate serve's url",
        },
      );
      const page = await fetch(url);
      expect(page.status).toBe(200);
      expect(await page.text()).toMatch(/<html/i);
    } finally {
      child.kill("SIGINT");
      await new Promise((r) => child.once("close", r));
    }
  });
});
