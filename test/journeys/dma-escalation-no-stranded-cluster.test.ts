import { describe, expect, it } from "vitest";
import { e2eTimeouts } from "../helpers/wait.ts";
import { CLI_MS, type JourneyLab, jsonLines, journeyLab, type LabJournalEntry } from "./engine-helpers.ts";

e2eTimeouts(240_000);

/**
 * After an escalation, independent work may start a step only if the chain it begins can be
 * completed: a step whose successors (up to its cluster's return to service) include a point of no
 * return (G4) that is not started after an escalation must not start. Otherwise a healthy, serving
 * cluster is busied out (its territories moved away first) for a leave-supercluster that never
 * comes, and stays out of service. Asserted on the lab's journal.
 */

// The incremental upgrade 10.0 → 10.1 of examples/dma-supercluster.yaml (capacityFloor 0): dma-nyc
// (which founds the new supercluster) and dma-bos go first, dma-phl after them. dma-bos's install
// fails while dma-nyc's is still under way (the lab runs it 1.5 × its estimate: slow-install);
// dma-nyc then finishes alone, and dma-phl's chain (territories moved, busy-out, then
// leave-supercluster, a point of no return) must not begin.
const FLEET = `apiVersion: rollgate/v1
fleet: acme-video
defaults:
  capacityFloor: 0
  maxMixedWindow: 4h
clusters:
  - name: dma-nyc
    pack: polycom-dma
    version: 10.0.1
    capacity: 400
    estimates: { install: 40m }
    servers:
      - { name: nyc-1, address: 10.20.1.1 }
      - { name: nyc-2, address: 10.20.1.2 }
  - name: dma-bos
    pack: polycom-dma
    version: 10.0.1
    capacity: 300
    servers:
      - { name: bos-1, address: 10.20.2.1 }
      - { name: bos-2, address: 10.20.2.2 }
  - name: dma-phl
    pack: polycom-dma
    version: 10.0.1
    capacity: 300
    servers:
      - { name: phl-1, address: 10.20.3.1 }
      - { name: phl-2, address: 10.20.3.2 }
superclusters:
  - name: sc-east
    pack: polycom-dma
    clusters: [dma-nyc, dma-bos, dma-phl]
    territories:
      - { name: us-east, primary: dma-nyc, backup: dma-bos }
      - { name: us-mid, primary: dma-phl, backup: dma-nyc }
      - { name: us-north, primary: dma-bos, backup: dma-phl }
`;

/** Per cluster, whether the lab last saw it in service (after its last busy-out). */
function lastInService(journal: LabJournalEntry[]): Map<string, boolean> {
  const last = new Map<string, boolean>();
  for (const e of journal) {
    if (e.kind !== "state" || !e.cluster || e.server) continue;
    if (e.detail.endsWith("busied out and out of service")) last.set(e.cluster, false);
    if (e.detail.endsWith("back in service")) last.set(e.cluster, true);
  }
  return last;
}

let lab: JourneyLab | undefined;

describe("journey: an escalation during an incremental DMA upgrade", () => {
  it(
    "an operator's incremental upgrade escalates on dma-bos (its install fails); dma-nyc finishes and serves, and dma-phl is not busied out nor its territories moved for a leave-supercluster (G4) that will not start after the escalation",
    async () => {
      lab = await journeyLab(FLEET, "acme-video", 600);
      await lab.fault("bos-1", "install-fails");
      const slow = await lab.cli(["lab", "fault", lab.fleet, "nyc-1", "slow-install", "--factor", "1.5"]);
      expect(slow.code, slow.stderr).toBe(0);
      const r = await lab.cli([
        "apply",
        lab.derived,
        "--to",
        "10.1.0",
        "--strategy",
        "incremental",
        "--yes",
        "--confirm-finalize",
        "--json",
      ]);
      expect(r.code, r.stderr).toBe(1);
      const last = jsonLines(r.stdout).at(-1);
      expect(last.escalation).toMatchObject({ cluster: "dma-bos" });
      // only dma-bos is left out of service: dma-phl was never taken out
      expect(last.escalation.outOfService.map((o: { cluster: string }) => o.cluster)).toEqual(["dma-bos"]);

      // what the lab saw: after dma-bos's failed install, nothing was busied out or reassigned
      const journal = lab.journal();
      const failedAt = journal.findIndex(
        (e) => e.kind === "state" && e.server === "bos-1" && / install of 10\.1\.0 failed$/.test(e.detail),
      );
      expect(failedAt, JSON.stringify(journal.filter((e) => e.server === "bos-1"))).toBeGreaterThanOrEqual(0);
      const after = journal.slice(failedAt);
      const acted = after
        .filter(
          (e) => e.kind === "action" && (e.action === "busy-out" || e.action === "reassign-territories"),
        )
        .map((e) => `${e.cluster}/${e.action}`);
      expect(acted).toEqual([]);
      expect(
        journal.some((e) => e.kind === "action" && e.action === "busy-out" && e.cluster === "dma-phl"),
      ).toBe(false);
      // the healthy clusters serve at the end: dma-nyc came back, dma-phl never left
      const inService = lastInService(journal);
      expect(inService.get("dma-nyc")).toBe(true);
      expect(inService.get("dma-phl") ?? true).toBe(true);
      const status = await lab.status();
      const release = (n: string) => status.servers.find((s: { name: string }) => s.name === n).release;
      expect(["nyc-1", "nyc-2", "phl-1", "phl-2"].map(release)).toEqual([
        "10.1.0",
        "10.1.0",
        "10.0.1",
        "10.0.1",
      ]);
    },
    CLI_MS * 2,
  );
});
