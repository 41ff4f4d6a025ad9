import { describe, expect, it } from "vitest";
import { CLI_MS, type JourneyLab, jsonLines, journeyLab, type LabJournalEntry } from "./engine-helpers.ts";
import { e2eTimeouts } from "../helpers/wait.ts";

e2eTimeouts(240_000);

/**
 * Run-time checks of a matrix upgrade, against the lab: the mixed-release window (M6) alerts past
 * the fleet's maxMixedWindow, and the PSFS mounts (M5) are compared with the fleet file at the end.
 */
const seed = (maxMixedWindow: string) => `apiVersion: rollgate/v1
fleet: seed-matrix
defaults:
  capacityFloor: 0.6
  maxMixedWindow: ${maxMixedWindow}
clusters:
  - name: matrix-a
    pack: polyserve-matrix
    version: 3.5.0
    estimates: { install: 15m }
    servers:
      - { name: srv1, address: 10.10.1.1 }
      - { name: srv2, address: 10.10.1.2 }
      - { name: srv3, address: 10.10.1.3 }
    filesystems:
      - name: psfs1
        mountedOn: [srv1, srv2, srv3]
`;
const SPEED = 1200;

/** Simulated seconds the lab saw the matrix on more than one release (its journal, its clock × speed). */
function labMixedSeconds(journal: LabJournalEntry[]): number {
  const release = new Map<string, string>([
    ["srv1", "3.5.0"],
    ["srv2", "3.5.0"],
    ["srv3", "3.5.0"],
  ]);
  let since: number | undefined;
  let total = 0;
  for (const e of journal) {
    if (e.kind !== "state" || !e.server || !e.data?.release) continue;
    release.set(e.server, String(e.data.release));
    const mixed = new Set(release.values()).size > 1;
    const t = Date.parse(e.at);
    if (mixed && since === undefined) since = t;
    if (!mixed && since !== undefined) {
      total += t - since;
      since = undefined;
    }
  }
  return (total / 1000) * SPEED;
}

let lab: JourneyLab | undefined;

describe("journey: run-time checks of a matrix upgrade", () => {
  it(
    "an operator upgrades a matrix whose fleet allows a 20m mixed window: the upgrade runs mixed longer (as the lab's journal shows), and the engine alerts M6 in its journal and in status",
    async () => {
      lab = await journeyLab(seed("20m"), "seed-matrix", SPEED);
      const r = await lab.cli([
        "apply",
        lab.derived,
        "--to",
        "3.5.1",
        "--yes",
        "--confirm-finalize",
        "--json",
      ]);
      expect(r.code, r.stderr).toBe(0);
      expect(labMixedSeconds(lab.journal())).toBeGreaterThan(20 * 60);
      const alerts = jsonLines(r.stdout).filter((e) => e.type === "alert");
      expect(alerts).toEqual([expect.objectContaining({ rule: "M6", cluster: "matrix-a" })]);
      expect(alerts[0].message).toContain("maxMixedWindow");
      const st = await lab.cli(["status", lab.derived, "--json"]);
      expect(JSON.parse(st.stdout).alerts).toEqual([
        expect.objectContaining({ rule: "M6", cluster: "matrix-a" }),
      ]);
      const text = await lab.cli(["status", lab.derived]);
      expect(text.stdout).toContain("ALERT [M6]");
    },
    CLI_MS * 2,
  );

  it(
    "an operator upgrades a matrix well within its 4h mixed window: no alert",
    async () => {
      lab = await journeyLab(seed("4h"), "seed-matrix", SPEED);
      const r = await lab.cli([
        "apply",
        lab.derived,
        "--to",
        "3.5.1",
        "--yes",
        "--confirm-finalize",
        "--json",
      ]);
      expect(r.code, r.stderr).toBe(0);
      expect(labMixedSeconds(lab.journal())).toBeLessThan(4 * 3600);
      expect(jsonLines(r.stdout).filter((e) => e.type === "alert")).toEqual([]);
    },
    CLI_MS * 2,
  );

  it(
    "an operator unmounts psfs1 on srv1 by hand before the upgrade: every step is done, yet the end-state check finds srv1's mounts differ from the fleet file and escalates M5",
    async () => {
      lab = await journeyLab(seed("4h"), "seed-matrix", SPEED);
      await lab.act("srv1", "unmount", "psfs1");
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
      expect(last.escalation.rule).toBe("M5");
      expect(last.escalation.detail).toContain("srv1");
      expect(last.escalation.detail).toContain("missing psfs1");
      // the lab: every server upgraded, psfs1 never mounted on srv1 again
      const status = await lab.status();
      expect(status.servers.every((s: { release: string }) => s.release === "3.5.1")).toBe(true);
      const journal = lab.journal();
      expect(
        journal.filter((e) => e.kind === "action" && e.action === "mount" && e.server === "srv1"),
      ).toEqual([]);
    },
    CLI_MS * 2,
  );
});
