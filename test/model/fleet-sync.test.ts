import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseFleetText } from "../../src/model/fleet-file.ts";
import { lineDiff, syncFleetText } from "../../src/model/fleet-sync.ts";
import { REPO } from "../helpers/cli.ts";
import { e2eTimeouts } from "../helpers/wait.ts";

e2eTimeouts(60_000);

const text = readFileSync(join(REPO, "examples", "dma-supercluster.yaml"), "utf8");
const fleet = () => {
  const r = parseFleetText(text);
  if (!r.ok) throw new Error("example invalid");
  return r.fleet;
};
const dma = (
  cluster: string,
  release: string,
  supercluster: string | null,
  members: string[],
  territories = [] as Array<{ name: string; primary: string; backup?: string }>,
) => ({
  cluster,
  releases: Object.fromEntries(
    fleet()
      .clusters.find((c) => c.name === cluster)!
      .servers.map((s) => [s.name, release]),
  ),
  supercluster,
  members,
  territories,
});

/** dma-nyc's territories handed to dma-bos and dma-phl before it left sc-east (D4). */
const MOVED = [
  { name: "us-east", primary: "dma-bos", backup: "dma-phl" },
  { name: "us-mid", primary: "dma-phl", backup: "dma-bos" },
  { name: "us-north", primary: "dma-bos", backup: "dma-phl" },
];

/** What the servers report after an abort once dma-nyc founded sc-east@10.1.0 (D6, part way). */
const partWay = () => [
  dma("dma-nyc", "10.1.0", "sc-east@10.1.0", ["dma-nyc"]),
  dma("dma-bos", "10.0.1", "sc-east", ["dma-bos", "dma-phl"], MOVED),
  dma("dma-phl", "10.0.1", "sc-east", ["dma-bos", "dma-phl"], MOVED),
];

describe("fleet sync: the fleet file brought up to what the servers report", () => {
  it("after an incremental upgrade: versions, the supercluster renamed in place (sc-east@10.1.0), comments and flow style kept, valid", () => {
    const terr = [
      { name: "us-north", primary: "dma-bos", backup: "dma-phl" },
      { name: "us-east", primary: "dma-nyc", backup: "dma-bos" },
      { name: "us-mid", primary: "dma-phl", backup: "dma-nyc" },
    ];
    const members = ["dma-nyc", "dma-bos", "dma-phl"];
    const r = syncFleetText(
      text,
      fleet(),
      members.map((c) => dma(c, "10.1.0", "sc-east@10.1.0", members, terr)),
    );
    expect(r.text).toContain("  - name: sc-east@10.1.0\n");
    expect(r.text).not.toContain("10.0.1\n");
    expect(r.text).toContain("clusters: [dma-nyc, dma-bos, dma-phl]");
    // the territories are as they were (order ignored): untouched, flow style and all
    expect(r.text).toContain("- { name: us-east, primary: dma-nyc, backup: dma-bos }");
    for (const line of text.split("\n").filter((l) => l.startsWith("#"))) expect(r.text).toContain(line);
    const parsed = parseFleetText(r.text);
    expect(parsed.ok).toBe(true);
    if (parsed.ok) expect(parsed.fleet.superclusters.map((s) => s.name)).toEqual(["sc-east@10.1.0"]);
    expect(r.changes.map((c) => c.path)).toEqual([
      "clusters[0].version",
      "clusters[1].version",
      "clusters[2].version",
      "superclusters[0].name",
    ]);
  });

  it("part way (an abort after the first cluster founded the new supercluster): the old one keeps the others, the new one is added with its founder", () => {
    const r = syncFleetText(text, fleet(), partWay());
    const parsed = parseFleetText(r.text);
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.fleet.superclusters.map((s) => [s.name, s.clusters])).toEqual([
      ["sc-east", ["dma-bos", "dma-phl"]],
      ["sc-east@10.1.0", ["dma-nyc"]],
    ]);
    // the design stays (dma-nyc, in sc-east@10.1.0 for now, still named), with where the servers
    // have each territory meanwhile where that differs (D4/D6: apply restores the design)
    expect(parsed.fleet.superclusters[0]!.territories).toEqual([
      {
        name: "us-east",
        primary: "dma-nyc",
        backup: "dma-bos",
        assigned: { primary: "dma-bos", backup: "dma-phl" },
      },
      {
        name: "us-mid",
        primary: "dma-phl",
        backup: "dma-nyc",
        assigned: { primary: "dma-phl", backup: "dma-bos" },
      },
      { name: "us-north", primary: "dma-bos", backup: "dma-phl" },
    ]);
    expect(parsed.fleet.clusters.map((c) => c.version)).toEqual(["10.1.0", "10.0.1", "10.0.1"]);
    // synced again, the servers unchanged: nothing to change
    const again = syncFleetText(r.text, parsed.fleet, partWay());
    expect(again.changes).toEqual([]);
    // and once the design is back on the servers, `assigned` goes
    const back = syncFleetText(r.text, parsed.fleet, [
      dma(
        "dma-nyc",
        "10.1.0",
        "sc-east@10.1.0",
        ["dma-nyc", "dma-bos", "dma-phl"],
        fleet().superclusters[0]!.territories,
      ),
      dma(
        "dma-bos",
        "10.1.0",
        "sc-east@10.1.0",
        ["dma-nyc", "dma-bos", "dma-phl"],
        fleet().superclusters[0]!.territories,
      ),
      dma(
        "dma-phl",
        "10.1.0",
        "sc-east@10.1.0",
        ["dma-nyc", "dma-bos", "dma-phl"],
        fleet().superclusters[0]!.territories,
      ),
    ]);
    expect(back.text).not.toContain("assigned");
  });

  it("an upgrade aborted part way, synced, then finished: the last sync removes the emptied old supercluster and its territories' design goes to the new one (D6), not lost", () => {
    const synced = syncFleetText(text, fleet(), partWay());
    const mid = parseFleetText(synced.text);
    if (!mid.ok) throw new Error(JSON.stringify(mid.diagnostics));
    const design = fleet().superclusters[0]!.territories;
    const all = ["dma-nyc", "dma-bos", "dma-phl"];
    const done = syncFleetText(
      synced.text,
      mid.fleet,
      all.map((c) => dma(c, "10.1.0", "sc-east@10.1.0", all, design)),
    );
    const parsed = parseFleetText(done.text);
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.diagnostics));
    expect(parsed.fleet.superclusters.map((s) => [s.name, s.clusters, s.territories])).toEqual([
      ["sc-east@10.1.0", all, design],
    ]);
    expect(done.text).not.toContain("assigned");
  });

  it("a cluster that left and is in no supercluster is taken out of the list; a file that already says it all is unchanged", () => {
    const r = syncFleetText(text, fleet(), [
      dma("dma-nyc", "10.1.0", null, []),
      dma("dma-bos", "10.0.1", "sc-east", ["dma-bos", "dma-phl"], [{ name: "us-east", primary: "dma-bos" }]),
      dma("dma-phl", "10.0.1", "sc-east", ["dma-bos", "dma-phl"], [{ name: "us-east", primary: "dma-bos" }]),
    ]);
    const parsed = parseFleetText(r.text);
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.diagnostics));
    expect(parsed.fleet.clusters[0]!.supercluster).toBeUndefined();
    // it keeps the name of the supercluster it left (its lineage, D6)
    expect(parsed.fleet.clusters[0]!.leftSupercluster).toBe("sc-east");
    const same = syncFleetText(r.text, parsed.fleet, [
      dma("dma-nyc", "10.1.0", null, []),
      dma("dma-bos", "10.0.1", "sc-east", ["dma-bos", "dma-phl"], [{ name: "us-east", primary: "dma-bos" }]),
      dma("dma-phl", "10.0.1", "sc-east", ["dma-bos", "dma-phl"], [{ name: "us-east", primary: "dma-bos" }]),
    ]);
    expect(same.text).toBe(r.text);
    expect(same.changes).toEqual([]);
  });

  it("a matrix server ahead: its own version is written, the cluster's stays", () => {
    const m = readFileSync(join(REPO, "examples", "matrix-seed.yaml"), "utf8");
    const p = parseFleetText(m);
    if (!p.ok) throw new Error("example invalid");
    const c = p.fleet.clusters[0]!;
    const releases = Object.fromEntries(c.servers.map((s, i) => [s.name, i === 0 ? "3.5.1" : s.version]));
    const r = syncFleetText(m, p.fleet, [{ cluster: c.name, releases }]);
    const q = parseFleetText(r.text);
    expect(q.ok).toBe(true);
    if (q.ok)
      expect(q.fleet.clusters[0]!.servers.map((s) => s.version)).toEqual(
        c.servers.map((s, i) => (i === 0 ? "3.5.1" : s.version)),
      );
  });

  it("a matrix two-thirds upgraded: the cluster's version follows the most, the server left behind gets its own, in words that say it stayed", () => {
    const m = readFileSync(join(REPO, "examples", "matrix-seed.yaml"), "utf8");
    const p = parseFleetText(m);
    if (!p.ok) throw new Error("example invalid");
    const c = p.fleet.clusters[0]!;
    const releases = { srv1: "3.5.0", srv2: "3.5.1", srv3: "3.5.1" };
    const r = syncFleetText(m, p.fleet, [{ cluster: c.name, releases }]);
    expect(r.changes.map((x) => x.detail)).toEqual([
      "matrix-a: version 3.5.0 → 3.5.1",
      "srv1: still runs 3.5.0, not its cluster's 3.5.1 (its own version written)",
    ]);
  });

  it("a territory designed on a cluster in no supercluster (between leave and join) says so, not 'in another supercluster'", () => {
    const r = syncFleetText(text, fleet(), [
      dma("dma-nyc", "10.1.0", null, []),
      dma("dma-bos", "10.0.1", "sc-east", ["dma-bos", "dma-phl"], MOVED),
      dma("dma-phl", "10.0.1", "sc-east", ["dma-bos", "dma-phl"], MOVED),
    ]);
    const words = JSON.stringify([...r.changes, ...r.notes].map((x) => x.detail));
    expect(words).toContain("dma-nyc is in no supercluster");
    expect(words).not.toContain("in another supercluster");
  });

  it("territories are the operator's design: a temporary reassignment the servers report (mid-upgrade, a window's record step unassigning all) leaves the design as it is, reported, with `assigned` where the servers have it (1)", () => {
    const members = ["dma-nyc", "dma-bos", "dma-phl"];
    const moved = [
      { name: "us-east", primary: "dma-bos", backup: "dma-phl" },
      { name: "us-mid", primary: "dma-phl", backup: "dma-bos" },
      { name: "us-north", primary: "dma-bos", backup: "dma-phl" },
    ];
    const design = fleet().superclusters[0]!.territories;
    for (const now of [moved, []]) {
      const r = syncFleetText(
        text,
        fleet(),
        members.map((c) => dma(c, "10.1.0", "sc-east@10.1.0", members, now)),
      );
      const parsed = parseFleetText(r.text);
      if (!parsed.ok) throw new Error(JSON.stringify(parsed.diagnostics));
      expect(parsed.fleet.superclusters[0]!.territories.map(({ assigned: _, ...t }) => t)).toEqual(design);
      expect(parsed.fleet.superclusters[0]!.territories.map((t) => t.assigned)).toEqual(
        now.length
          ? moved.map((m, i) =>
              m.primary === design[i]!.primary && m.backup === design[i]!.backup
                ? undefined
                : { primary: m.primary, backup: m.backup },
            )
          : [undefined, undefined, undefined],
      );
      expect(r.notes.map((n) => n.detail).join("\n")).toContain("us-east");
      expect(r.text).toContain("- { name: us-east, primary: dma-nyc, backup: dma-bos");
    }
  });

  it("an abort after every cluster left the supercluster (a maintenance window's installs, D5): the supercluster is kept with its members in the file's order and its territories, each cluster marked as having left it (2)", () => {
    const r = syncFleetText(text, fleet(), [
      dma("dma-nyc", "10.1.0", null, []),
      dma("dma-bos", "10.0.1", null, []),
      dma("dma-phl", "10.0.1", null, []),
    ]);
    const parsed = parseFleetText(r.text);
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.diagnostics));
    // listed in the file's order, each marked as having left it: a member of none now
    expect(parsed.fleet.superclusters.map((s) => [s.name, s.clusters, s.formerMembers])).toEqual([
      ["sc-east", [], ["dma-nyc", "dma-bos", "dma-phl"]],
    ]);
    expect(parsed.fleet.superclusters[0]!.territories).toEqual(fleet().superclusters[0]!.territories);
    expect(r.text).toMatch(/name: dma-nyc\n(.*\n)*?\s+leftSupercluster: sc-east/);
    expect(r.text.match(/leftSupercluster: sc-east/g)).toHaveLength(3);
    // a second sync of the synced file, the fleet unchanged: nothing to change
    const again = syncFleetText(r.text, parsed.fleet, [
      dma("dma-nyc", "10.1.0", null, []),
      dma("dma-bos", "10.0.1", null, []),
      dma("dma-phl", "10.0.1", null, []),
    ]);
    expect(again.changes).toEqual([]);
    expect(again.text).toBe(r.text);
    expect(r.notes.map((n) => n.detail).join("\n")).toContain(
      "`rollgate apply FLEET --to 10.1.0` carries on",
    );
    // aborted before any install: the note does not take the old release for the target
    const none = syncFleetText(text, fleet(), [
      dma("dma-nyc", "10.0.1", null, []),
      dma("dma-bos", "10.0.1", null, []),
      dma("dma-phl", "10.0.1", null, []),
    ]);
    const noteText = none.notes.map((n) => n.detail).join("\n");
    expect(noteText).toContain("none upgraded yet");
    expect(noteText).toContain("--to TARGET");
    expect(noteText).not.toContain("--to 10.0.1");
  });

  it("a fleet file with YAML anchors and aliases: an aliased value to change gets a plain value, the anchor stays, nothing else changes (3)", () => {
    const aliased = text
      .replace("    version: 10.0.1\n    capacity: 400", "    version: &v 10.0.1\n    capacity: 400")
      .replace(/(name: dma-bos\n {4}pack: polycom-dma\n {4})version: 10\.0\.1/, "$1version: *v")
      .replace(/(name: dma-phl\n {4}pack: polycom-dma\n {4})version: 10\.0\.1/, "$1version: *v")
      .replace("defaults:\n", "defaults: &d\n");
    expect(aliased.match(/\*v/g)).toHaveLength(2);
    const f = parseFleetText(aliased);
    if (!f.ok) throw new Error(JSON.stringify(f.diagnostics));
    // only dma-bos upgraded: its alias becomes a plain value; dma-phl keeps aliasing dma-nyc's
    const r = syncFleetText(aliased, f.fleet, [
      dma(
        "dma-nyc",
        "10.0.1",
        "sc-east",
        ["dma-nyc", "dma-bos", "dma-phl"],
        fleet().superclusters[0]!.territories,
      ),
      dma(
        "dma-bos",
        "10.1.0",
        "sc-east",
        ["dma-nyc", "dma-bos", "dma-phl"],
        fleet().superclusters[0]!.territories,
      ),
      dma(
        "dma-phl",
        "10.0.1",
        "sc-east",
        ["dma-nyc", "dma-bos", "dma-phl"],
        fleet().superclusters[0]!.territories,
      ),
    ]);
    const parsed = parseFleetText(r.text);
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.diagnostics));
    expect(parsed.fleet.clusters.map((c) => c.version)).toEqual(["10.0.1", "10.1.0", "10.0.1"]);
    expect(r.text).toContain("version: &v 10.0.1");
    expect(r.text.match(/\*v/g)).toHaveLength(1);
    // the anchored value itself changes: its aliases keep the old value
    const r2 = syncFleetText(aliased, f.fleet, [
      dma(
        "dma-nyc",
        "10.1.0",
        "sc-east",
        ["dma-nyc", "dma-bos", "dma-phl"],
        fleet().superclusters[0]!.territories,
      ),
      dma(
        "dma-bos",
        "10.0.1",
        "sc-east",
        ["dma-nyc", "dma-bos", "dma-phl"],
        fleet().superclusters[0]!.territories,
      ),
      dma(
        "dma-phl",
        "10.0.1",
        "sc-east",
        ["dma-nyc", "dma-bos", "dma-phl"],
        fleet().superclusters[0]!.territories,
      ),
    ]);
    const p2 = parseFleetText(r2.text);
    if (!p2.ok) throw new Error(JSON.stringify(p2.diagnostics));
    expect(p2.fleet.clusters.map((c) => c.version)).toEqual(["10.1.0", "10.0.1", "10.0.1"]);
    expect(r2.text).toContain("&v 10.1.0");
  });

  it("lineDiff shows the lines to change, old first, with their numbers", () => {
    expect(lineDiff("a\nb\nc", "a\nB\nc")).toEqual(["-    2 | b", "+    2 | B"]);
  });
});
