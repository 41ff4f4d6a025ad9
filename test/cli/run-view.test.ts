import { describe, expect, it } from "vitest";
import type { RunEvent } from "../../src/events/types.ts";
import type { Output } from "../../src/cli/output.ts";
import { createRunView } from "../../src/cli/views/run-view.ts";
import type { Plan } from "../../src/plan/types.ts";

/** The plain line view (no terminal, or CI): one line per event a person needs. */
describe("the line view of a run", () => {
  it("prints an escalated run's state once, though the engine records it again with what stays out of service", () => {
    const lines: string[] = [];
    const o: Output = {
      out: (l) => lines.push(l),
      err: (l) => lines.push(l),
      json: () => {},
      color: false,
      isTTY: false,
      errIsTTY: false,
    };
    const view = createRunView(o, { steps: [] } as unknown as Plan, { json: false });
    const at = "2026-12-02T04:41:07.000Z";
    const ev = (e: object) => ({ seq: 0, at, runId: "r", ...e }) as unknown as RunEvent;
    view.onEvent(ev({ type: "run.state", state: "running" }));
    view.onEvent(ev({ type: "run.state", state: "escalated" }));
    view.onEvent(ev({ type: "run.state", state: "escalated" }));
    expect(lines.filter((l) => l.includes("run escalated"))).toHaveLength(1);
    expect(lines.filter((l) => l.includes("run running"))).toHaveLength(1);
  });
});
