import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

/**
 * `rollgate demo` at its default speed (issue 5: under a minute), run as a user runs it: the real
 * CLI in a child process, its lab, engine and state file. Reports the wall time and the report's
 * own figures.
 */
const BIN = fileURLToPath(new URL("../bin/rollgate.js", import.meta.url));

export const cases = [
  {
    name: "demo at the default speed",
    run: () =>
      new Promise<Record<string, number | string>>((resolve, reject) => {
        const t0 = performance.now();
        const child = spawn(process.execPath, [BIN, "demo", "--json"], {
          stdio: ["ignore", "pipe", "inherit"],
        });
        let out = "";
        child.stdout.on("data", (d) => (out += d));
        child.on("error", reject);
        child.on("close", (code) => {
          const wallS = (performance.now() - t0) / 1000;
          try {
            const report = JSON.parse(out.trim().split("\n").at(-1)!) as Record<string, unknown>;
            resolve({
              exit: code ?? -1,
              ok: String(report.ok),
              wallSeconds: Number(wallS.toFixed(1)),
              labViolations: Number(report.labViolations),
              serversOnTarget: `${report.serversOnTarget}/${report.servers}`,
            });
          } catch (e) {
            reject(new Error(`demo exited ${code} without a report: ${(e as Error).message}`));
          }
        });
      }),
  },
];
