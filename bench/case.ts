/**
 * Runs one benchmark case in this process and prints { wallMs, peakRssMiB, metrics } as JSON on
 * the last line of stdout. Usage: node --import tsx bench/case.ts <file.bench.ts> <case name>
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const [file, name] = process.argv.slice(2);
const dir = fileURLToPath(new URL(".", import.meta.url));
const mod = (await import(join(dir, file!))) as {
  cases: Array<{
    name: string;
    run: () => Promise<Record<string, number | string>> | Record<string, number | string>;
  }>;
};
const c = mod.cases.find((x) => x.name === name);
if (!c) {
  console.error(`no case ${name} in ${file}`);
  process.exit(2);
}
const t0 = performance.now();
const metrics = await c.run();
const wallMs = performance.now() - t0;
// maxRSS is in KiB
const peakRssMiB = process.resourceUsage().maxRSS / 1024;
console.log(JSON.stringify({ wallMs, peakRssMiB, metrics }));
