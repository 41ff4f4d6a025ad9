/**
 * `npm run bench`: discovers bench/*.bench.ts, runs every case in its own child process (so that
 * peak memory is the case's own), prints a table, then one JSON document on the last line.
 *
 * A bench module exports
 *   cases: Array<{ name: string; run: () => Promise<Record<string, number | string>> | Record<string, number | string> }>
 * Usage: npm run bench [-- FILTER]   (FILTER selects cases whose "file/name" contains it)
 */
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";

const DIR = fileURLToPath(new URL(".", import.meta.url));
const filter = process.argv[2] ?? "";

interface Row {
  file: string;
  case: string;
  ok: boolean;
  wallMs: number;
  peakRssMiB: number;
  metrics: Record<string, number | string>;
  error?: string;
}

async function main(): Promise<void> {
  const files = readdirSync(DIR)
    .filter((f) => f.endsWith(".bench.ts"))
    .sort();
  const rows: Row[] = [];
  for (const f of files) {
    const mod = (await import(join(DIR, f))) as { cases?: Array<{ name: string }> };
    for (const c of mod.cases ?? []) {
      const label = `${basename(f, ".bench.ts")}/${c.name}`;
      if (filter && !label.includes(filter)) continue;
      const r = spawnSync(
        process.execPath,
        ["--expose-gc", "--import", "tsx", join(DIR, "case.ts"), f, c.name],
        {
          encoding: "utf8",
          maxBuffer: 64 * 1024 * 1024,
        },
      );
      const last = r.stdout.trim().split("\n").at(-1) ?? "";
      try {
        const out = JSON.parse(last) as Omit<Row, "file" | "case" | "ok">;
        rows.push({ file: f, case: c.name, ok: r.status === 0, ...out });
      } catch {
        rows.push({
          file: f,
          case: c.name,
          ok: false,
          wallMs: 0,
          peakRssMiB: 0,
          metrics: {},
          error: (r.stderr || r.stdout).trim().split("\n").slice(-3).join(" "),
        });
      }
      process.stderr.write(`  ${label}: ${rows.at(-1)!.ok ? "done" : "FAILED"}\n`);
    }
  }
  printTable(rows);
  console.log(
    JSON.stringify({ node: process.version, platform: `${process.platform}-${process.arch}`, cases: rows }),
  );
  if (rows.some((r) => !r.ok)) process.exitCode = 1;
}

function printTable(rows: Row[]): void {
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r.metrics)))];
  const head = ["case", "wall ms", "peak RSS MiB", ...keys];
  const cells = rows.map((r) => [
    `${basename(r.file, ".bench.ts")}/${r.case}${r.ok ? "" : " (FAILED)"}`,
    r.wallMs.toFixed(0),
    r.peakRssMiB.toFixed(0),
    ...keys.map((k) => {
      const v = r.metrics[k];
      return v === undefined ? "" : typeof v === "number" ? String(Math.round(v * 100) / 100) : v;
    }),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) =>
    c.map((x, i) => (i === 0 ? x.padEnd(widths[i]!) : x.padStart(widths[i]!))).join("  ");
  console.log(line(head));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const c of cells) console.log(line(c));
  for (const r of rows) if (r.error) console.log(`${r.case}: ${r.error}`);
}

await main();
