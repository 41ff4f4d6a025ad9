import { describe, expect, it } from "vitest";
import { CLI_MS, fourServerMatrix, type JourneyLab, jsonLines, journeyLab } from "./engine-helpers.ts";
import { e2eTimeouts } from "../helpers/wait.ts";

e2eTimeouts(240_000);

/**
 * The manual's M3 accident in a four-server matrix: srv2, in the middle of the address order, is
 * upgraded by hand before srv4 and srv3. With --correct-out-of-order the engine applies the
 * manual's correction: "stop Matrix Server on the node that was upgraded out of order. Continue
 * upgrading the other nodes before starting Matrix Server on that node." srv2 is started last,
 * after srv1, as the lab's journal shows.
 */
const FLEET = fourServerMatrix("matrix-c", 0.5, 31);

let lab: JourneyLab | undefined;

describe("journey: an M3 accident corrected", () => {
  it(
    "an operator upgrades srv2 out of order by hand, then applies with --correct-out-of-order: srv2 is stopped, srv4, srv3 and srv1 are upgraded in order, and srv2 starts last",
    async () => {
      lab = await journeyLab(FLEET, "four-matrix", 1200);
      await lab.act("srv2", "stop");
      await lab.act("srv2", "install", "3.5.1");
      await lab.act("srv2", "start");
      const accident = lab.journal().length;
      expect((await lab.status()).violations.map((v: { rule: string }) => v.rule)).toEqual(["M3"]);

      const r = await lab.cli([
        "apply",
        lab.derived,
        "--to",
        "3.5.1",
        "--yes",
        "--confirm-finalize",
        "--correct-out-of-order",
        "--json",
      ]);
      expect(r.code, r.stderr).toBe(0);
      expect(
        jsonLines(r.stdout).some(
          (e) => e.type === "log" && String(e.message).startsWith("M3 correction on matrix-c: srv2"),
        ),
      ).toBe(true);

      // what the lab saw, after the accident: the servers that started, in order
      const journal = lab.journal().slice(accident);
      const started = journal
        .filter(
          (e) => e.kind === "state" && e.data?.state === "running" && String(e.detail).includes("started"),
        )
        .map((e) => e.server);
      expect(started).toEqual(["srv4", "srv3", "srv1", "srv2"]);
      const installs = journal
        .filter((e) => e.kind === "action" && e.action === "install")
        .map((e) => e.server);
      expect(installs).toEqual(["srv4", "srv3", "srv1"]);
      const status = await lab.status();
      expect(
        status.servers.every(
          (s: { release: string; state: string }) => s.release === "3.5.1" && s.state === "running",
        ),
      ).toBe(true);
      // the accident is the only rule broken; the floor of 50% holds with srv2 out and one upgrading
      expect(status.violations.map((v: { rule: string }) => v.rule)).toEqual(["M3"]);
    },
    CLI_MS * 2,
  );
});
