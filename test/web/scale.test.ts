import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { dashboardAtScale } from "../../bench/dashboard-scale.ts";
import { REPO, tempDir } from "../helpers/cli.ts";
import { e2eTimeouts } from "../helpers/wait.ts";

e2eTimeouts(60_000);

/**
 * 1,000 servers: the page builds the whole fleet and follows 1,000 live observations (each server
 * changes release). How fast is the benchmark's business (`npm run bench -- dashboard`); this test
 * checks that it happens, within the generous deadlines of its waits.
 */
describe("the dashboard with 1,000 servers", () => {
  it("renders them and applies 1,000 live observations", async () => {
    const shot = join(REPO, "test-artifacts", "dashboard-1000.png");
    const r = await dashboardAtScale(tempDir("rollgate-web-scale-"), { screenshot: shot });
    console.log(`1,000 observations painted in ${r.paintMs} ms; longest task ${r.longestTaskMs} ms`);
    expect(r.servers).toBe(1000);
    expect(existsSync(shot)).toBe(true);
  }, 120_000);
});
