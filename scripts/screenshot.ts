/**
 * Regenerates docs/dashboard.png: the dashboard mid-upgrade, during `rollgate demo` (a DMA
 * supercluster upgraded incrementally beside a matrix), in Debian's Chromium.
 *
 *   node --import tsx scripts/screenshot.ts [--out docs/dashboard.png] [--speed 300]
 */
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { CHROMIUM, launchChromium } from "../test/helpers/chromium.ts";
import { compareStrategies, planUpgrade } from "../src/plan/planner.ts";
import { runDemo } from "../src/run/demo.ts";
import { createToken } from "../src/server/auth.ts";
import { createServer, type RunningServer } from "../src/server/index.ts";

const { values } = parseArgs({
  options: {
    out: { type: "string", default: fileURLToPath(new URL("../docs/dashboard.png", import.meta.url)) },
    speed: { type: "string", default: "300" },
    chromium: { type: "string", default: CHROMIUM },
  },
});

let server: RunningServer | undefined;
let token = "";
let runId = "";
let ready: () => void = () => {};
const started = new Promise<void>((r) => (ready = r));
const demo = runDemo({
  speed: Number(values.speed),
  planner: (fleet, to, strategy) => planUpgrade(fleet, { to, strategy }),
  compare: (fleet, to) =>
    compareStrategies(fleet, { to }).map((c) =>
      c.seconds === undefined ? undefined : { strategy: c.strategy, seconds: c.seconds },
    ),
  onStore: async (store, run) => {
    server = await createServer({ statePath: store.location, port: 0 });
    token = (await createToken(store, "operator")).token;
    runId = run.id;
    ready();
  },
});
demo.catch(() => ready());
await started;
if (!server) throw new Error("the demo did not start");

const browser = await launchChromium(values.chromium);
try {
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 }, deviceScaleFactor: 1 });
  await page.goto(`${server.url}/#token=${token}`);
  // mid-upgrade: the new supercluster founded and a cluster between the two
  await page.waitForFunction(
    () => {
      const fresh = document.querySelector(".sc.new .cluster");
      const between = document.querySelector(".sc.transit .cluster .srv.st-installing");
      const old = document.querySelector(".sc.old .cluster");
      return Boolean(fresh && between && old);
    },
    undefined,
    { timeout: 120_000, polling: 100 },
  );
  await page.waitForTimeout(1500); // a little further in: the install's bar grows past the now-line
  await page.screenshot({ path: values.out, fullPage: true });
  process.stderr.write(`wrote ${values.out}\n`);
} finally {
  await browser.close();
  await fetch(`${server.url}/api/runs/${runId}/abort`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: "{}",
  }).catch(() => {});
  await demo.catch(() => {});
  await server.close();
}
