import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO } from "../helpers/cli.ts";
import { e2eTimeouts } from "../helpers/wait.ts";
import { type JourneyLab, journeyLab } from "./engine-helpers.ts";

e2eTimeouts(240_000);

// The fleet of the escalation journey: dma-bos escalates (D8b) while the others finish.
const FLEET = readFileSync(
  join(REPO, "test", "journeys", "dma-escalation-one-cluster.test.ts"),
  "utf8",
).match(/const FLEET = `([^`]*)`/)![1]!;

let lab: JourneyLab | undefined;

const count = (text: string, needle: string) => text.split(needle).length - 1;

describe("journey: an escalation is told once", () => {
  it("an operator's apply escalates on dma-bos: the escalation and its left-out-of-service line are each printed once", async () => {
    lab = await journeyLab(FLEET, "video-patch", 1200);
    await lab.fault("bos-2", "dashboard-missing");
    const r = await lab.cli(["apply", lab.derived, "--to", "10.0.2", "--yes"]);
    expect(r.code, r.stderr).toBe(1);
    // told once as it happens, once in full at the end (with what it leaves out of service)
    expect(count(r.stderr, "ESCALATION [D8b]"), r.stderr).toBe(1);
    expect(count(r.stderr, "ESCALATED [D8b]"), r.stderr).toBe(1);
    expect(count(r.stderr, "left out of service"), r.stderr).toBe(1);
    expect(count(r.stderr, "manual: "), r.stderr).toBe(2);
    expect(r.stderr).toMatch(/left out of service: dma-bos \[D8b\]/);
    // the lab: dma-bos was left busied out, as the line says
    expect(lab.journal().some((e) => e.cluster === "dma-bos" && /busied out/.test(e.detail))).toBe(true);
  }, 240_000);
});
