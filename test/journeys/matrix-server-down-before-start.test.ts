import { describe, expect, it } from "vitest";
import { CLI_MS, fourServerMatrix, type JourneyLab, jsonLines, journeyLab } from "./engine-helpers.ts";
import { e2eTimeouts } from "../helpers/wait.ts";

e2eTimeouts(240_000);

/**
 * A server already down before `apply` counts against the capacity floor (G3, G5): the engine
 * reads every server before its first step, so it never takes the matrix below its floor; it
 * escalates with the rule that holds the next server back instead. Asserted on the lab's journal.
 */
const FLEET = fourServerMatrix("matrix-b", 0.7, 30);

let lab: JourneyLab | undefined;

describe("journey: a server down before the start", () => {
  it.each([
    {
      by: "stop",
      how: "stops srv1 by hand",
      down: ["srv1"],
    },
    {
      by: "disable",
      how: "disables srv1 by hand (its virtual services moved away, the software still running)",
      down: [],
    },
  ])(
    "an operator $how, then applies the upgrade at floor 0.7: the engine counts srv1 out and escalates (M1/G3) instead of taking the matrix to 50%; the lab never sees capacity below the floor",
    async ({ by, down }) => {
      lab = await journeyLab(FLEET, "four-matrix", 1200);
      await lab.act("srv1", by);
      const seen = lab.journal().length;
      const r = await lab.cli([
        "apply",
        lab.derived,
        "--to",
        "3.5.1",
        "--yes",
        "--confirm-finalize",
        "--json",
      ]);
      expect(r.code, r.stderr).toBe(1);
      const last = jsonLines(r.stdout).at(-1);
      expect(["M1", "G3"]).toContain(last.escalation.rule);
      expect(last.escalation.detail).toContain("srv1");
      // both capacity rules are named: one server at a time (M1) and the floor (G3)
      expect(last.escalation.detail).toContain("below the floor 70%");
      expect(last.escalation.outOfService).toEqual([
        expect.objectContaining({ cluster: "matrix-b", reason: expect.stringContaining("srv1") }),
      ]);
      // the lab: nothing was taken out of service after the operator's hand, no rule broken
      const after = lab.journal().slice(seen);
      expect(after.filter((e) => e.kind === "action").map((e) => `${e.server}:${e.action}`)).toEqual([]);
      const status = await lab.status();
      expect(status.violations).toEqual([]);
      expect(
        status.servers
          .filter((s: { state: string }) => s.state !== "running")
          .map((s: { name: string }) => s.name),
      ).toEqual(down);
    },
    CLI_MS * 2,
  );
});
