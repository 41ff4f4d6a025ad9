import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadFleetFile } from "../../src/io/fleet-loader.ts";
import { planUpgrade } from "../../src/plan/planner.ts";
import { createToken } from "../../src/server/auth.ts";
import { createServer, type RunningServer } from "../../src/server/index.ts";
import { WEB_DIST } from "../../src/server/static.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";
import { REPO, tempDir } from "../helpers/cli.ts";

/** 1,000 servers: the page builds the fleet and follows 1,000 observations without stalling. */
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
let browser: Browser;
let server: RunningServer;
let store: SqliteStore;

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

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium`);
  if (!existsSync(join(WEB_DIST, "index.html"))) {
    const { build } = await import("vite");
    await build({ configFile: join(REPO, "src/web/vite.config.ts"), logLevel: "warn" });
  }
  const dir = tempDir("rollgate-web-scale-");
  const fleetFile = join(dir, "big.yaml");
  writeFileSync(fleetFile, fleetYaml(250));
  const fleet = loadFleetFile(fleetFile);
  const plan = planUpgrade(fleet, { to: ["3.5.1"] });
  store = new SqliteStore(join(dir, "state.db"));
  store.createRun({ fleet: fleet.name, fleetFile, target: plan.target, plan });
  server = await createServer({ statePath: store.path, port: 0, pollMs: 100 });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless=new",
      "--no-sandbox",
      "--disable-gpu",
      "--no-first-run",
      "--disable-background-networking",
    ],
  });
});

afterAll(async () => {
  await browser?.close();
  await server?.close();
  store?.close();
});

describe("the dashboard with 1,000 servers", () => {
  it("renders them and applies 1,000 live observations without a long stall", async () => {
    const token = createToken(store, "viewer").token;
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
    const run = store.listRuns()[0]!;
    for (let n = 0; n < 1000; n++) {
      store.append(run.id, {
        type: "observation",
        cluster: `mx-${Math.floor(n / 4)}`,
        server: `s${n}`,
        state: "running",
        release: "3.5.1",
      });
    }
    const started = Date.now();
    await page.waitForFunction(
      () => document.querySelectorAll('#fleet .srv[data-release="3.5.1"]').length === 1000,
      undefined,
      { timeout: 20_000, polling: 50 },
    );
    const ms = Date.now() - started;
    const longest = await page.evaluate(() => (window as unknown as { longest: number }).longest);
    console.log(`1,000 observations painted in ${ms} ms; longest task ${Math.round(longest)} ms`);
    expect(longest).toBeLessThan(1000);
    await page.screenshot({ path: join(REPO, "test-artifacts", "dashboard-1000.png"), fullPage: false });
    await page.close();
  });
});
