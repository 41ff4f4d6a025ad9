/**
 * The dashboard with 1,000 servers, shared by the browser test (does the page build the fleet and
 * follow 1,000 live observations?) and the benchmark (how long does it take, and how long is the
 * longest main-thread task?). Real parts: a SQLite state file, the fastify server, Debian's
 * Chromium driven by playwright-core.
 */
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { launchChromium } from "../test/helpers/chromium.ts";
import { loadFleetFile } from "../src/io/fleet-loader.ts";
import { planUpgrade } from "../src/plan/planner.ts";
import { createToken } from "../src/server/auth.ts";
import { createServer } from "../src/server/index.ts";
import { WEB_DIST } from "../src/server/static.ts";
import { SqliteStore } from "../src/store/sqlite.ts";

const REPO = fileURLToPath(new URL("..", import.meta.url));

function fleetYaml(clusters: number): string {
  const lines = ["apiVersion: rollgate/v1", "fleet: big", "defaults:", "  capacityFloor: 0.6", "clusters:"];
  for (let c = 0; c < clusters; c++) {
    lines.push(`  - name: mx-${c}`, "    pack: polyserve-matrix", "    version: 3.5.0", "    servers:");
    for (let s = 0; s < 4; s++) {
      const n = c * 4 + s;
      lines.push(
        `      - { name: s${n}, address: 10.${70 + Math.floor(n / 62500)}.${Math.floor(n / 250) % 250}.${(n % 250) + 1} }`,
      );
    }
  }
  return `${lines.join("\n")}\n`;
}

export interface ScaleResult {
  servers: number;
  /** From the moment 1,000 observations are in the journal until the page shows them all. */
  paintMs: number;
  /** The longest main-thread task the page ran meanwhile (PerformanceObserver "longtask"). */
  longestTaskMs: number;
}

export async function dashboardAtScale(
  dir: string,
  options: { screenshot?: string } = {},
): Promise<ScaleResult> {
  if (!existsSync(join(WEB_DIST, "index.html"))) {
    const { build } = await import("vite");
    await build({ configFile: join(REPO, "src/web/vite.config.ts"), logLevel: "warn" });
  }
  const fleetFile = join(dir, "big.yaml");
  writeFileSync(fleetFile, fleetYaml(250));
  const fleet = loadFleetFile(fleetFile);
  const plan = planUpgrade(fleet, { to: ["3.5.1"] });
  const store = new SqliteStore(join(dir, "state.db"));
  const run = await store.createRun({ fleet: fleet.name, fleetFile, target: plan.target, plan });
  const server = await createServer({ statePath: store.path, port: 0, pollMs: 100 });
  const browser = await launchChromium();
  try {
    const token = (await createToken(store, "viewer")).token;
    const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    await page.goto(`${server.url}/#token=${token}`);
    await page.waitForFunction(() => document.querySelectorAll("#fleet .srv").length === 1000, undefined, {
      timeout: 20_000,
    });
    await page.evaluate(() => {
      const w = window as unknown as { longest: number };
      w.longest = 0;
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) w.longest = Math.max(w.longest, e.duration);
      }).observe({ type: "longtask", buffered: false });
    });
    for (let n = 0; n < 1000; n++) {
      await store.append(run.id, {
        type: "observation",
        cluster: `mx-${Math.floor(n / 4)}`,
        server: `s${n}`,
        state: "running",
        release: "3.5.1",
      });
    }
    const started = performance.now();
    await page.waitForFunction(
      () => document.querySelectorAll('#fleet .srv[data-release="3.5.1"]').length === 1000,
      undefined,
      { timeout: 20_000, polling: 50 },
    );
    const paintMs = performance.now() - started;
    const longestTaskMs = await page.evaluate(() => (window as unknown as { longest: number }).longest);
    if (options.screenshot) await page.screenshot({ path: options.screenshot, fullPage: false });
    await page.close();
    return { servers: 1000, paintMs: Math.round(paintMs), longestTaskMs: Math.round(longestTaskMs) };
  } finally {
    await browser.close();
    await server.close();
    await store.close();
  }
}
