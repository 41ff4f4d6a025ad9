import { describe, expect, it } from "vitest";
import { finishCommands } from "../../src/run/return-to-service.ts";

/** What an abort's report tells an operator to run to finish what the run began. */
describe("the way on after an abort", () => {
  it("an upgrade: fleet sync, then apply to its targets", () => {
    expect(finishCommands("fleet.yaml", "polycom-dma=10.1.0,polyserve-matrix=3.5.1")).toBe(
      "`rollgate fleet sync fleet.yaml --write` then `rollgate apply fleet.yaml --to polycom-dma=10.1.0 --to polyserve-matrix=3.5.1`",
    );
  });

  it("a rollback: fleet sync, then the rollback again, not an apply to its target words", () => {
    expect(finishCommands("fleet.yaml", "rollback dma-nyc=10.0.1,matrix-a=3.5.0")).toBe(
      "`rollgate fleet sync fleet.yaml --write` then `rollgate rollback fleet.yaml --cluster dma-nyc --cluster matrix-a --yes`",
    );
  });
});
