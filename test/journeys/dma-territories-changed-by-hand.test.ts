import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { e2eTimeouts, waitFor } from "../helpers/wait.ts";
import { CLI_MS, type JourneyLab, jsonLines, journeyLab } from "./engine-helpers.ts";

e2eTimeouts(240_000);

/**
 * Every step done is not yet success: the end-state check compares the supercluster's territories,
 * as its members report them, with where the plan leaves them (here: the fleet file's assignment,
 * which a patch upgrade does not change). A territory moved by hand during the run escalates (D4)
 * instead of "run completed". Asserted on what the lab reports.
 */

const FLEET = readFileSync(new URL("../../examples/dma-supercluster.yaml", import.meta.url), "utf8");

let lab: JourneyLab | undefined;

describe("journey: territories changed by hand during a DMA patch upgrade", () => {
  it(
    "an operator moves us-mid to dma-bos by hand while the patch upgrade runs: the run does not say completed, it escalates D4 naming the territory, and the lab still shows it moved",
    async () => {
      lab = await journeyLab(FLEET, "acme-video", 600);
      const running = lab.cli([
        "apply",
        lab.derived,
        "--to",
        "10.0.2",
        "--strategy",
        "patch",
        "--yes",
        "--json",
      ]);
      // once the first cluster is back in service (others still to go), move a territory through it
      const first = await waitFor(
        () =>
          lab!
            .journal()
            .find(
              (e) => e.kind === "state" && !e.server && e.cluster && e.detail.endsWith("back in service"),
            ),
        { timeoutMs: 120_000, what: "a cluster back in service" },
      );
      const via = first.cluster === "dma-nyc" ? "nyc-1" : first.cluster === "dma-bos" ? "bos-1" : "phl-1";
      await lab.act(via, "reassign", "us-mid=dma-bos");
      const r = await running;
      expect(r.code, r.stdout + r.stderr).toBe(1);
      const last = jsonLines(r.stdout).at(-1);
      expect(last.escalation).toMatchObject({ rule: "D4" });
      expect(last.escalation.detail).toContain("us-mid");
      // what the lab says: every server on the target, us-mid on dma-bos (nothing undid the change)
      const status = await lab.status();
      for (const s of status.servers) expect([s.name, s.release]).toEqual([s.name, "10.0.2"]);
      const sc = status.superclusters.find((x: { name: string }) => x.name === "sc-east");
      expect(sc.territories).toContainEqual(expect.objectContaining({ name: "us-mid", primary: "dma-bos" }));
    },
    CLI_MS * 2,
  );
});
