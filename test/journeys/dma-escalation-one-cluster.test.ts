import { describe, expect, it } from "vitest";
import { CLI_MS, type JourneyLab, jsonLines, journeyLab, type LabJournalEntry } from "./engine-helpers.ts";
import { e2eTimeouts } from "../helpers/wait.ts";

e2eTimeouts(240_000);

/**
 * An escalation on one DMA cluster must not freeze the run: independent work that keeps the rules
 * finishes, and the escalation says which clusters it leaves out of service and why (rule ids).
 * Asserted on the lab's journal: which clusters it saw back in service.
 */

// dma-bos upgrades fast (its install is short), so it escalates while dma-nyc's and dma-phl's
// installs are still under way: without the fix they stayed busied out
const FLEET = `apiVersion: rollgate/v1
fleet: video-patch
defaults:
  capacityFloor: 0
clusters:
  - name: dma-nyc
    pack: polycom-dma
    version: 10.0.1
    capacity: 400
    estimates: { install: 60m, settle: 5m, verify: 2m }
    servers:
      - { name: nyc-1, address: 10.40.1.1 }
      - { name: nyc-2, address: 10.40.1.2 }
  - name: dma-bos
    pack: polycom-dma
    version: 10.0.1
    capacity: 300
    estimates: { install: 5m, settle: 1m, verify: 2m }
    servers:
      - { name: bos-1, address: 10.40.2.1 }
      - { name: bos-2, address: 10.40.2.2 }
  - name: dma-phl
    pack: polycom-dma
    version: 10.0.1
    capacity: 300
    estimates: { install: 60m, settle: 5m, verify: 2m }
    servers:
      - { name: phl-1, address: 10.40.3.1 }
      - { name: phl-2, address: 10.40.3.2 }
superclusters:
  - name: sc-east
    pack: polycom-dma
    clusters: [dma-nyc, dma-bos, dma-phl]
`;

/** The clusters the lab last saw back in service (after their last busy-out). */
function inServiceAtEnd(journal: LabJournalEntry[]): string[] {
  const last = new Map<string, boolean>();
  for (const e of journal) {
    if (e.kind !== "state" || !e.cluster || e.server) continue;
    if (e.detail.endsWith("busied out and out of service")) last.set(e.cluster, false);
    if (e.detail.endsWith("back in service")) last.set(e.cluster, true);
  }
  return [...last]
    .filter(([, v]) => v)
    .map(([k]) => k)
    .sort();
}

let lab: JourneyLab | undefined;

describe("journey: an escalation on one DMA cluster", () => {
  it(
    "an operator's patch upgrade escalates on dma-bos (D8b, a server missing from its dashboard); dma-nyc and dma-phl still finish and return to service, and the escalation names dma-bos as left out of service; cleared and resumed, dma-bos finishes",
    async () => {
      lab = await journeyLab(FLEET, "video-patch", 1200);
      await lab.fault("bos-2", "dashboard-missing");
      const r = await lab.cli(["apply", lab.derived, "--to", "10.0.2", "--yes", "--json"]);
      expect(r.code, r.stderr).toBe(1);
      const lines = jsonLines(r.stdout);
      const last = lines.at(-1);
      expect(last.escalation).toMatchObject({ rule: "D8b", cluster: "dma-bos" });
      // the escalation says which clusters it leaves out of service, and why
      expect(last.escalation.outOfService).toEqual([
        expect.objectContaining({ cluster: "dma-bos", rule: "D8b" }),
      ]);
      // what the lab saw: the healthy clusters upgraded and back in service, dma-bos not
      const journal = lab.journal();
      expect(inServiceAtEnd(journal)).toEqual(["dma-nyc", "dma-phl"]);
      const status = await lab.status();
      const release = (n: string) => status.servers.find((s: { name: string }) => s.name === n).release;
      expect(["nyc-1", "nyc-2", "phl-1", "phl-2"].map(release)).toEqual([
        "10.0.2",
        "10.0.2",
        "10.0.2",
        "10.0.2",
      ]);
      expect(status.violations).toEqual([]);
      // the run's status says the same
      const st = await lab.cli(["status", lab.derived, "--json"]);
      expect(
        JSON.parse(st.stdout).escalation.outOfService.map((o: { cluster: string }) => o.cluster),
      ).toEqual(["dma-bos"]);
      // the operator clears the cause and resumes: dma-bos finishes too
      await lab.fault("bos-2", "clear");
      const again = await lab.cli(["resume", lab.derived]);
      expect(again.code, again.stderr).toBe(0);
      expect(inServiceAtEnd(lab.journal())).toEqual(["dma-bos", "dma-nyc", "dma-phl"]);
      expect((await lab.status()).violations).toEqual([]);
    },
    CLI_MS * 2,
  );

  it(
    "an operator's patch upgrade meets a broken private link on dma-nyc: its verify escalates D8 (the cluster does not report itself clustered), and the other clusters finish",
    async () => {
      // dma-nyc upgrades fast and waits out its verify (k × the estimate, at least 3 s); the others'
      // installs (3 h, 9 s at this speed) are still under way when it escalates
      lab = await journeyLab(
        FLEET.replaceAll("install: 60m", "install: 3h").replace(
          "capacity: 400\n    estimates: { install: 3h, settle: 5m",
          "capacity: 400\n    estimates: { install: 5m, settle: 1m",
        ),
        "video-patch",
        1200,
      );
      await lab.fault("nyc-1", "private-link-down");
      const r = await lab.cli(["apply", lab.derived, "--to", "10.0.2", "--yes", "--json"]);
      expect(r.code, r.stderr).toBe(1);
      const last = jsonLines(r.stdout).at(-1);
      expect(last.escalation).toMatchObject({ rule: "D8", cluster: "dma-nyc" });
      expect(last.escalation.detail).toContain("clustered");
      const journal = lab.journal();
      // the lab never saw dma-nyc back in service; the others are
      expect(inServiceAtEnd(journal)).toEqual(["dma-bos", "dma-phl"]);
      expect(
        journal.some(
          (e) => e.kind === "action" && e.action === "return-to-service" && e.cluster === "dma-nyc",
        ),
      ).toBe(false);
    },
    CLI_MS * 2,
  );
});
