import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { REPO, tempDir } from "../helpers/cli.ts";
import { waitFor } from "../helpers/wait.ts";

/**
 * The fleet file's engine lock (src/store/fleet-lock.ts) across real processes: of engines that
 * start together exactly one gets it, and the lock of one killed with SIGKILL is free at once.
 */
const HOLDER = join(REPO, "test", "fixtures", "hold-fleet-lock.ts");
const children: ChildProcessWithoutNullStreams[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill("SIGKILL");
});

function holder(fleet: string): { child: ChildProcessWithoutNullStreams; out: () => string } {
  const child = spawn(process.execPath, ["--import", "tsx", HOLDER, fleet], { cwd: REPO });
  children.push(child);
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  return { child, out: () => out };
}

describe("the fleet lock", () => {
  it("goes to exactly one of several engines starting at once, and names the holder to the others", async () => {
    const fleet = join(tempDir("rollgate-lock-"), "fleet.yaml");
    writeFileSync(fleet, "apiVersion: rollgate/v1\n");
    const all = Array.from({ length: 6 }, () => holder(fleet));
    await waitFor(() => all.every((h) => h.out().includes("\n")), { what: "every holder to answer" });
    const got = all.filter((h) => h.out().startsWith("got"));
    expect(got).toHaveLength(1);
    for (const h of all.filter((x) => !x.out().startsWith("got")))
      expect(h.out()).toMatch(
        /^refused ROLLGATE_E_RUN_LOCKED: another rollgate engine \((pid \d+|starting up)/,
      );
  });

  it("is free again the moment its holder is killed (kill -9), and after a release", async () => {
    const fleet = join(tempDir("rollgate-lock-"), "fleet.yaml");
    writeFileSync(fleet, "apiVersion: rollgate/v1\n");
    const first = holder(fleet);
    await waitFor(() => first.out().startsWith("got"), { what: "the first holder" });
    const refused = holder(fleet);
    await waitFor(() => refused.out().startsWith("refused"), { what: "the second to be refused" });
    expect(refused.out()).toContain(`pid ${first.child.pid}`);
    first.child.kill("SIGKILL");
    await new Promise((r) => first.child.on("close", r));
    const next = holder(fleet);
    await waitFor(() => next.out().length > 0, { what: "the next holder" });
    expect(next.out()).toMatch(/^got/);
    next.child.stdin.end(); // releases
    await new Promise((r) => next.child.on("close", r));
    const last = holder(fleet);
    await waitFor(() => last.out().length > 0, { what: "the last holder" });
    expect(last.out()).toMatch(/^got/);
  });
});
