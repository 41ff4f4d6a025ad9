// `npm run build` (run by `prepare`, so by `npm ci`): compiles the CLI's TypeScript in src/ to
// JavaScript in dist/, one file per source file at the same depth (dist/cli/main.js for
// src/cli/main.ts), so paths a module resolves from import.meta.url (../../package.json,
// ../../bin/rollgate.js, ../../examples/…) point at the same files from either folder. The
// dashboard page (src/web) is not part of it: vite builds that into src/web/dist.
//
// bin/rollgate.js runs dist/ only while `isFresh` says it was built from the sources as they are
// now; otherwise it runs src/ through tsx. Plain JavaScript, so that it runs with node alone.
import { readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const STAMP = ".source-stamp.json";

/** The sources the build compiles: every .ts file under src/ but the dashboard page (src/web). */
function sourceFiles(root) {
  const src = join(root, "src");
  const out = [];
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, e.name);
      if (e.isDirectory()) {
        if (path !== join(src, "web")) walk(path);
      } else if (e.name.endsWith(".ts") && !e.name.endsWith(".d.ts")) out.push(path);
    }
  };
  walk(src);
  return out.sort();
}

/**
 * What the sources look like now, cheaply: how many there are and the newest change time among
 * them (ctime, which every edit, touch, copy, checkout or rename moves forward; mtime can be set
 * back). A few milliseconds for ~100 files.
 */
export function sourceStamp(root = ROOT) {
  const files = sourceFiles(root);
  let newest = 0;
  for (const f of files) newest = Math.max(newest, statSync(f).ctimeMs);
  return { files: files.length, newest };
}

/** Whether dist/ was built from the sources as they are now (false when it is missing). */
export function isFresh(root = ROOT) {
  let built;
  try {
    built = JSON.parse(readFileSync(join(root, "dist", STAMP), "utf8"));
  } catch {
    return false;
  }
  let now;
  try {
    now = sourceStamp(root);
  } catch {
    return true; // no src/ (an installed copy with dist/ only)
  }
  return now.files === built.files && now.newest <= built.newest;
}

/** esbuild as tsx (a dependency of rollgate) resolves it: installed wherever npm put it. */
function loadEsbuild() {
  const fromTsx = createRequire(createRequire(import.meta.url).resolve("tsx/package.json"));
  return fromTsx("esbuild");
}

// A relative import of a .ts file, in the forms esbuild prints: from "./x.ts", import("./x.ts"),
// import "./x.ts".
const TS_IMPORT = /((?:\bfrom|\bimport)\s*\(?\s*)"(\.\.?\/[^"\n]*)\.ts"/g;

/** Compiles src/ into dist/ (replaced whole, so removed sources leave nothing behind). */
export async function build(root = ROOT) {
  const t0 = performance.now();
  // Taken before reading the sources: an edit made while this runs leaves the build stale.
  const stamp = sourceStamp(root);
  const files = sourceFiles(root);
  const src = join(root, "src");
  const dist = join(root, "dist");
  const tmp = `${dist}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  const esbuild = loadEsbuild();
  const result = await esbuild.build({
    entryPoints: files,
    outbase: src,
    outdir: tmp,
    bundle: false,
    format: "esm",
    platform: "node",
    target: "node20",
    write: false,
    logLevel: "warning",
  });
  for (const f of result.outputFiles) {
    mkdirSync(dirname(f.path), { recursive: true });
    writeFileSync(f.path, f.text.replace(TS_IMPORT, '$1"$2.js"'));
  }
  writeFileSync(join(tmp, STAMP), `${JSON.stringify(stamp)}\n`);
  // Swap in the new build; between the two renames a concurrent `rollgate` finds no build and
  // runs the sources, never a half-written dist/.
  const old = `${dist}.old-${process.pid}`;
  let hadOld = true;
  try {
    renameSync(dist, old);
  } catch {
    hadOld = false;
  }
  renameSync(tmp, dist);
  if (hadOld) rmSync(old, { recursive: true, force: true });
  return { files: files.length, ms: performance.now() - t0 };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const r = await build();
  console.log(
    `rollgate: compiled ${r.files} files to ${relative(process.cwd(), join(ROOT, "dist")) || "dist"}/ in ${Math.round(r.ms)} ms`,
  );
}
