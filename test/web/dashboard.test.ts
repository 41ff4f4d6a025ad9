import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compareStrategies, planUpgrade } from "../../src/plan/planner.ts";
import { runDemo } from "../../src/run/demo.ts";
import { createToken } from "../../src/server/auth.ts";
import { createServer, type RunningServer } from "../../src/server/index.ts";
import { WEB_DIST } from "../../src/server/static.ts";
import type { Store } from "../../src/store/types.ts";
import { CHROMIUM, launchChromium } from "../helpers/chromium.ts";
import { REPO, tempDir } from "../helpers/cli.ts";
import { e2eTimeouts } from "../helpers/wait.ts";

e2eTimeouts(60_000);

/**
 * The dashboard in Debian's Chromium (playwright-core), against a running `rollgate demo`
 * (a lab on loopback, the real engine, the server on the engine's state file).
 * Screenshots are kept in test-artifacts/.
 */
const ARTIFACTS = join(REPO, "test-artifacts");

let browser: Browser;
let server: RunningServer;
let store: Store;
let runId = "";
let viewer = "";
let operator = "";
let demo: Promise<unknown>;

beforeAll(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `no Chromium at ${CHROMIUM}: apt-get install chromium (what .ci/run does), or set CHROMIUM`,
    );
  if (!existsSync(join(WEB_DIST, "index.html"))) {
    const { build } = await import("vite");
    await build({ configFile: join(REPO, "src/web/vite.config.ts"), logLevel: "warn" });
  }
  mkdirSync(ARTIFACTS, { recursive: true });
  let ready: () => void = () => {};
  const started = new Promise<void>((r) => (ready = r));
  demo = runDemo({
    dir: tempDir("rollgate-web-demo-"),
    speed: 300,
    planner: (fleet, to, strategy) => planUpgrade(fleet, { to, strategy }),
    compare: (fleet, to) =>
      compareStrategies(fleet, { to }).map((c) =>
        c.seconds === undefined ? undefined : { strategy: c.strategy, seconds: c.seconds },
      ),
    onStore: async (s, run) => {
      store = s;
      server = await createServer({ statePath: s.location, port: 0, pollMs: 100 });
      viewer = (await createToken(s, "viewer")).token;
      operator = (await createToken(s, "operator")).token;
      runId = run.id;
      ready();
    },
  });
  demo.catch(() => ready());
  await started;
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  if (server && runId) {
    // end the demo's run: the engine finishes its running steps and stops
    await fetch(`${server.url}/api/runs/${runId}/abort`, {
      method: "POST",
      headers: { authorization: `Bearer ${operator}`, "content-type": "application/json" },
      body: "{}",
    }).catch(() => {});
  }
  await demo?.catch(() => {});
  await server?.close();
});

async function open(token: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(`${server.url}/#token=${token}`);
  await page.waitForSelector("#fleet .srv[data-release]", { timeout: 15_000 });
  expect(errors).toEqual([]);
  return page;
}

describe("the dashboard in Chromium, against a running demo", () => {
  it("loads, keeps the token out of the address bar, and shows servers changing release live", async () => {
    const page = await open(viewer);
    expect(page.url()).not.toContain("token");
    expect(await page.textContent("#who")).toContain("viewer");
    const before = await page.$$eval("#fleet .srv", (els) =>
      Object.fromEntries(
        els.map((e) => [(e as HTMLElement).dataset.server, (e as HTMLElement).dataset.release]),
      ),
    );
    expect(Object.keys(before)).toHaveLength(9);
    // some server's cell changes release while we watch (the event stream, no reload)
    const changed = await page.waitForFunction(
      (b: Record<string, string>) =>
        Array.from(document.querySelectorAll<HTMLElement>("#fleet .srv")).find(
          (e) => e.dataset.release !== b[e.dataset.server!],
        )?.dataset.server,
      before,
      { timeout: 30_000, polling: 100 },
    );
    const name = (await changed.jsonValue()) as string;
    expect(["srv1", "srv2", "srv3", "nyc-1", "nyc-2", "bos-1", "bos-2", "phl-1", "phl-2"]).toContain(name);
    await page.waitForSelector("#log li", { timeout: 5000 });
    expect(await page.$$eval("canvas#timeline", (c) => (c[0] as HTMLCanvasElement).height)).toBeGreaterThan(
      0,
    );
    await page.screenshot({ path: join(ARTIFACTS, "dashboard-live.png"), fullPage: true });
    await page.close();
  });

  it("a viewer cannot pause (controls disabled, the API answers 403); an operator can", async () => {
    const page = await open(viewer);
    await page.waitForSelector("#run-state.state-running", { timeout: 10_000 });
    expect(await page.isDisabled("#btn-pause")).toBe(true);
    const status = await page.evaluate(
      async ([id, token]) =>
        (
          await fetch(`/api/runs/${id}/pause`, {
            method: "POST",
            headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
            body: "{}",
          })
        ).status,
      [runId, viewer],
    );
    expect(status).toBe(403);
    expect((await store.getRun(runId))!.state).toBe("running");
    await page.screenshot({ path: join(ARTIFACTS, "dashboard-viewer.png") });
    await page.close();

    const op = await open(operator);
    await op.waitForSelector("#btn-pause:not([disabled])", { timeout: 10_000 });
    await op.click("#btn-pause");
    await op.waitForSelector("#run-state.state-paused", { timeout: 10_000 });
    expect((await store.getRun(runId))!.state).toBe("paused");
    expect(await op.isEnabled("#btn-resume")).toBe(true);
    await op.screenshot({ path: join(ARTIFACTS, "dashboard-operator-paused.png"), fullPage: true });
    await op.close();
  });

  it("asks for a token when none is given, and refuses a wrong one", async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}/`);
    await page.waitForSelector("#signin:not([hidden])");
    await page.fill("#token-input", "rg_wrong_token");
    await page.click("#signin-form button");
    await page.waitForFunction(() =>
      document.getElementById("signin-error")?.textContent?.includes("UNAUTHORIZED"),
    );
    await page.close();
  });
});
