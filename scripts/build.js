// `npm run build` (run by `prepare`, so by `npm ci`): compiles the CLI's TypeScript in src/ to
// JavaScript in dist/cli/: esbuild bundles src/cli/main.ts and what it imports from src/ (the
// packages in node_modules stay imports), split at every import() into chunks that load when a
// command runs, so `rollgate --version` reads a few files instead of dozens. Every output file
// is two levels below the package root, like every source file that names a file from
// import.meta.url (new URL("../../package.json", import.meta.url)), so those names point at the
// same files from the build; `checkModuleUrls` refuses a build where one would not. The dashboard
// page (src/web) is not part of it: vite builds that into src/web/dist.
//
// bin/rollgate.js runs dist/ only while `isFresh` says it was built from the sources as they are
// now; otherwise it runs src/ through tsx. Plain JavaScript, so that it runs with node alone.
import { createHash } from "node:crypto";
import {
  readdirSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
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
 * What these sources look like now, cheaply: where they are (the real path of the checkout), how
 * many there are, the newest change time among them (ctime, which every edit, touch, copy,
 * checkout or rename moves forward; mtime can be set back), and a hash of every file's path, size,
 * mtime and ctime, with scripts/build.js among them. A dist/ built in another checkout (copied
 * here, or a checkout copied whole) names other sources: its stamp never matches. A few
 * milliseconds for ~100 files.
 */
export function sourceStamp(root = ROOT) {
  const real = realpathSync(root);
  // this file too: a change to how the build is made makes the build stale
  const files = [...sourceFiles(real), join(real, "scripts", "build.js")];
  const hash = createHash("sha1");
  let newest = 0;
  for (const f of files) {
    const s = statSync(f);
    newest = Math.max(newest, s.ctimeMs);
    hash.update(`${relative(real, f)}\0${s.size}\0${s.mtimeMs}\0${s.ctimeMs}\n`);
  }
  return { root: real, files: files.length, newest, hash: hash.digest("hex") };
}

/** Whether dist/ was built from these sources as they are now (false when it is missing). */
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
  return (
    now.root === built.root &&
    now.files === built.files &&
    now.newest === built.newest &&
    now.hash === built.hash
  );
}

/** esbuild as tsx (a dependency of rollgate) resolves it: installed wherever npm put it. */
function loadEsbuild() {
  const fromTsx = createRequire(createRequire(import.meta.url).resolve("tsx/package.json"));
  return fromTsx("esbuild");
}

// Every package is external (imported from node_modules at run time) but these.
const BUNDLED = ["yaml", "zod"];
function externals(root) {
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  return Object.keys({ ...pkg.dependencies, ...pkg.devDependencies })
    .filter((p) => !BUNDLED.includes(p))
    .flatMap((p) => [p, `${p}/*`]);
}
// yaml is CommonJS and requires Node's modules: give the ESM chunks a require.
const REQUIRE =
  'import { createRequire as __rollgateRequire } from "node:module"; const require = __rollgateRequire(import.meta.url);';

/**
 * zod's `z.locales` and `z.core.locales` (its error messages in ~50 languages, 360 KiB, half of what zod weighs) left
 * out of the bundle: rollgate never reads it (its messages are zod's English default, which zod
 * loads from locales/en.js, not from this index). ~30 ms less for `rollgate validate`.
 */
const withoutZodLocales = {
  name: "without-zod-locales",
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (a) =>
      /[\\/]zod[\\/]v4[\\/](classic[\\/]external|core[\\/]index)\.js$/.test(a.importer)
        ? { path: "zod-locales", namespace: "rollgate-empty" }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: "rollgate-empty" }, () => ({ contents: "export {};", loader: "js" }));
  },
};

const MODULE_URL = /new URL\(\s*"(\.[^"]*)"\s*,\s*import\.meta\.url\s*\)/g;

/**
 * Throws unless every `new URL("./relative", import.meta.url)` in the sources names the same file
 * from the build's folder (outDir) as from its source file.
 */
function checkModuleUrls(files, outDir) {
  const wrong = [];
  for (const f of files)
    for (const m of readFileSync(f, "utf8").matchAll(MODULE_URL)) {
      const fromSource = resolve(dirname(f), m[1]);
      const fromBuild = resolve(outDir, m[1]);
      if (fromSource !== fromBuild)
        wrong.push(
          `${f}: new URL("${m[1]}", import.meta.url) is ${fromSource} from the source but ${fromBuild} from the build`,
        );
    }
  if (wrong.length)
    throw new Error(
      `${wrong.join("\n")}\nname such files from the package root, two levels up (as src/server/static.ts does)`,
    );
}

/** Compiles src/ into dist/ (replaced whole, so removed sources leave nothing behind). */
export async function build(root = ROOT) {
  const t0 = performance.now();
  // Taken before reading the sources: an edit made while this runs leaves the build stale.
  const stamp = sourceStamp(root);
  const files = sourceFiles(root);
  const dist = join(root, "dist");
  checkModuleUrls(files, join(dist, "cli"));
  const tmp = `${dist}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  const esbuild = loadEsbuild();
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: [join(root, "src", "cli", "main.ts")],
    outdir: join(tmp, "cli"),
    entryNames: "[name]",
    chunkNames: "[name]-[hash]",
    bundle: true,
    splitting: true,
    // node_modules stay imports, but yaml and zod, which the fleet file's validation needs at
    // once: bundled, they load as one file each instead of ~70 and ~95
    external: externals(root),
    banner: { js: REQUIRE },
    format: "esm",
    platform: "node",
    target: "node20",
    // the rule registry names the functions that decide each rule (rules/functions.ts): keep them
    keepNames: true,
    logLevel: "warning",
    metafile: true,
    plugins: [withoutZodLocales],
  });
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
  const sources = Object.keys(result.metafile.inputs).filter((f) => f.startsWith("src/")).length;
  return { files: sources, outputs: Object.keys(result.metafile.outputs).length, ms: performance.now() - t0 };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const r = await build();
  console.log(
    `rollgate: compiled ${r.files} source files into ${r.outputs} files in dist/cli/ in ${Math.round(r.ms)} ms`,
  );
}
