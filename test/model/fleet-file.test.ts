import { readdirSync, readFileSync } from "node:fs";
import fc from "fast-check";
import { stringify } from "yaml";
import { describe, expect, it } from "vitest";
import { ERROR_CATALOG } from "../../src/model/errors.ts";
import { parseFleetText } from "../../src/model/fleet-file.ts";

const examples = new URL("../../examples/", import.meta.url);
const read = (name: string) => readFileSync(new URL(name, examples), "utf8");

function errorsOf(text: string) {
  const r = parseFleetText(text, "f.yaml");
  if (r.ok) throw new Error("expected errors");
  return r.diagnostics;
}

const base = {
  apiVersion: "rollgate/v1",
  fleet: "t",
  clusters: [
    {
      name: "m",
      pack: "polyserve-matrix",
      version: "3.5.0",
      servers: [
        { name: "s1", address: "10.0.0.1" },
        { name: "s2", address: "10.0.0.2" },
      ],
    },
  ],
};

describe("fleet file", () => {
  it("accepts every example", () => {
    for (const f of readdirSync(examples).filter((f) => f.endsWith(".yaml"))) {
      const r = parseFleetText(read(f), f);
      expect(r.ok ? [] : r.diagnostics, f).toEqual([]);
    }
  });

  it("normalizes the seed matrix: defaults, interfaces, durations in seconds", () => {
    const r = parseFleetText(read("matrix-seed.yaml"));
    if (!r.ok) throw new Error("invalid");
    const c = r.fleet.clusters[0]!;
    expect(c.estimates).toEqual({ install: 900 });
    expect(c.servers.map((s) => [s.name, s.address, s.version, s.capacity])).toEqual([
      ["srv1", "10.10.1.1", "3.5.0", 1],
      ["srv2", "10.10.1.2", "3.5.0", 1],
      ["srv3", "10.10.1.3", "3.5.0", 1],
    ]);
    expect(c.servers[2]!.interfaces).toEqual(["10.10.1.3", "10.10.2.1"]);
    expect(r.fleet.defaults).toMatchObject({ capacityFloor: 0.6, maxMixedWindow: 14400 });
  });

  it("links clusters to their supercluster and keeps territories", () => {
    const r = parseFleetText(read("dma-supercluster.yaml"));
    if (!r.ok) throw new Error("invalid");
    expect(r.fleet.clusters.map((c) => c.supercluster)).toEqual(["sc-east", "sc-east", "sc-east"]);
    expect(r.fleet.superclusters[0]!.territories[0]).toEqual({
      name: "us-east",
      primary: "dma-nyc",
      backup: "dma-bos",
    });
  });

  it("names every mistake of a file at once, with line, column and path", () => {
    const ds = errorsOf(`apiVersion: rollgate/v1
fleet: broken
clusters:
  - name: dma-a
    pack: polycom-dma
    version: 10.0.1
    servers:
      - { name: a-1, address: 10.60.0.1 }
      - { name: a-1, address: 10.60.0.300 }
  - name: dma-b
    pack: polycom-dma
    version: 10.0.1
    servers:
      - { name: b-1, address: 10.60.1.1 }
superclusters:
  - name: sc
    pack: polycom-dma
    clusters: [dma-a, dma-b, dma-zzz]
    territories:
      - { name: t1, primary: dma-a, backup: dma-nope }
`);
    const brief = ds.map((d) => [d.code, d.line, d.column, d.path]);
    expect(brief).toEqual([
      ["ROLLGATE_E_FLEET_DUPLICATE_NAME", 9, 17, "clusters[0].servers[1].name"],
      ["ROLLGATE_E_FLEET_ADDRESS", 9, 31, "clusters[0].servers[1].address"],
      ["ROLLGATE_E_FLEET_UNKNOWN_CLUSTER", 18, 30, "superclusters[0].clusters[2]"],
      ["ROLLGATE_E_FLEET_UNKNOWN_CLUSTER", 20, 45, "superclusters[0].territories[0].backup"],
    ]);
    expect(ds.every((d) => d.file === "f.yaml" && d.expected)).toBe(true);
  });

  it("reports bad indentation as a YAML error at its line", () => {
    const ds = errorsOf(
      "apiVersion: rollgate/v1\nfleet: x\nclusters:\n  - name: a\n    pack: generic\n   version: 1.0\n",
    );
    expect(ds[0]).toMatchObject({ code: "ROLLGATE_E_FLEET_YAML", line: 6 });
  });

  it("reports shape errors: missing fields, unknown fields, wrong types, bad enum", () => {
    const ds = errorsOf(`apiVersion: rollgate/v2
fleet: x
clusters:
  - name: a
    pack: nosuch
    capcity: 3
    servers:
      - { name: s, address: 10.0.0.1, capacity: lots }
`);
    const byPath = Object.fromEntries(ds.map((d) => [d.path, d]));
    expect(byPath.apiVersion?.code).toBe("ROLLGATE_E_FLEET_API_VERSION");
    expect(byPath["clusters[0].pack"]?.expected).toContain("polyserve-matrix");
    expect(byPath["clusters[0].capcity"]).toMatchObject({
      line: 6,
      column: 5,
      message: 'unknown field "capcity": did you mean capacity?',
    });
    expect(byPath["clusters[0].version"]?.message).toBe("required field is missing");
    expect(byPath["clusters[0].version"]?.line).toBe(4);
    expect(byPath["clusters[0].servers[0].capacity"]?.line).toBe(8);
  });

  it("a wrong-typed value says what was expected and what was found, never 'required field is missing' (issue 14)", () => {
    const ds = errorsOf(`apiVersion: rollgate/v1
fleet: x
defaults:
  capacityFloor: 60%
clusters:
  - name: a
    pack: polyserve-matrix
    version: 3.5.0
    servers:
      - name: s1
        address: [10.0.0.1, 10.0.0.2]
      - name: 12
        address: 10.0.0.3
      - name: s3
        address: 10.0.0.4
        capacity: "2"
      - name: s4
`);
    const byPath = Object.fromEntries(ds.map((d) => [d.path, d]));
    expect(byPath["defaults.capacityFloor"]).toMatchObject({
      line: 4,
      column: 18,
      message: 'expected a number between 0 and 1 (e.g. 0.6), found the string "60%"',
    });
    expect(byPath["clusters[0].servers[0].address"]).toMatchObject({
      line: 11,
      message: "expected an IPv4 or IPv6 address, found a list of 2 items",
    });
    expect(byPath["clusters[0].servers[1].name"]?.message).toBe(
      "expected a name (letters, digits, '.', '_' and '-'), found the number 12",
    );
    expect(byPath["clusters[0].servers[2].capacity"]?.message).toBe(
      'expected a positive number of at most 1000000, found the string "2"',
    );
    // a field really missing still says so
    expect(byPath["clusters[0].servers[3].address"]?.message).toBe("required field is missing");
    expect(ds.filter((d) => d.message === "required field is missing")).toHaveLength(1);
    // an empty map is called so, not "a map (with )"
    const empty = errorsOf("apiVersion: rollgate/v1\nfleet: x\nclusters: {}\n");
    expect(empty.find((d) => d.path === "clusters")?.message).toMatch(/, found an empty map \(\{\}\)$/);
  });

  it("a misspelt field, value or form gets a 'did you mean' from what is allowed at that place (issue 14)", () => {
    const ds = errorsOf(`apiVersion: rollgate/v1
fleet: x
defaults:
  maxMixedWindw: 2h
  compatibility: same-majr
clusters:
  - name: a
    pack: polyserve-matix
    version: 3.5.0
    order: { lst: [s1] }
    servers:
      - { nme: s1, address: 10.0.0.1 }
    driver:
      htp: { url: "http://{address}" }
    `);
    const message = (path: string) => ds.find((d) => d.path === path)?.message;
    expect(message("defaults.maxMixedWindw")).toBe(
      'unknown field "maxMixedWindw": did you mean maxMixedWindow?',
    );
    expect(message("defaults.compatibility")).toMatch(
      /found the string "same-majr" \(did you mean same-major\?\)$/,
    );
    expect(message("clusters[0].pack")).toMatch(
      /found the string "polyserve-matix" \(did you mean polyserve-matrix\?\)$/,
    );
    expect(message("clusters[0].order")).toContain("(did you mean list instead of lst?)");
    expect(message("clusters[0].servers[0].nme")).toBe('unknown field "nme": did you mean name?');
    expect(message("clusters[0].driver.htp")).toBe('unknown field "htp": did you mean http?');
    // where nothing is near, no guess
    const far = errorsOf("apiVersion: rollgate/v1\nfleet: x\nzzzzzz: 1\nclusters: []\n");
    expect(far.find((d) => d.path === "zzzzzz")?.message).toBe('unknown field "zzzzzz"');
    expect(far.find((d) => d.path === "zzzzzz")?.expected).toContain("clusters");
  });

  it("reports shape and meaning mistakes together, located in the file even where entries were set aside", () => {
    const ds = errorsOf(`apiVersion: rollgate/v1
fleet: x
defaults:
  capacityFloor: 1.5
  maxMixedWindow: 4 hours
clusters:
  - name: a
    pack: polyserve-matrix
    version: 3.5.0
    servers:
      - { name: s0, address: 10.0.0.1, colour: red }
      - { name: s1 }
      - { name: s2, address: 10.0.0.300 }
      - { name: s3, address: 10.0.0.1 }
    filesystems:
      - { name: fs, mountedOn: [s0, s1, ghost] }
  - name: b
    pack: polycom-dma
    version: 10.x
    servers: [{ name: b1, address: 10.1.0.1 }]
superclusters:
  - { name: sc, pack: polycom-dma, clusters: [b, nowhere] }
`);
    const at = (path: string) => ds.find((d) => d.path === path);
    // shape
    expect(at("defaults.capacityFloor")).toMatchObject({ code: "ROLLGATE_E_FLEET_SCHEMA", line: 4 });
    expect(at("clusters[0].servers[0].colour")).toMatchObject({ code: "ROLLGATE_E_FLEET_SCHEMA", line: 11 });
    expect(at("clusters[0].servers[1].address")).toMatchObject({
      message: "required field is missing",
      line: 12,
    });
    // meaning, in the same report: entries after the one set aside keep their own index and line
    expect(at("defaults.maxMixedWindow")).toMatchObject({ code: "ROLLGATE_E_FLEET_DURATION", line: 5 });
    expect(at("clusters[0].servers[2].address")).toMatchObject({
      code: "ROLLGATE_E_FLEET_ADDRESS",
      line: 13,
    });
    expect(at("clusters[0].servers[3].address")).toMatchObject({
      code: "ROLLGATE_E_FLEET_DUPLICATE_ADDRESS",
      line: 14,
    });
    expect(at("clusters[0].filesystems[0].mountedOn[2]")).toMatchObject({
      code: "ROLLGATE_E_FLEET_UNKNOWN_SERVER",
      line: 16,
    });
    expect(at("clusters[1].version")).toMatchObject({ code: "ROLLGATE_E_FLEET_VERSION", line: 19 });
    expect(at("superclusters[0].clusters[1]")).toMatchObject({
      code: "ROLLGATE_E_FLEET_UNKNOWN_CLUSTER",
      line: 22,
    });
    // s1 was set aside (no address): what the rest says about it is not a second, false mistake
    expect(ds.filter((d) => d.message.includes('"s1"'))).toEqual([]);
    expect(ds).toHaveLength(9);
  });

  it("sets aside only what is misshapen: an unrelated mistake naming the same word is kept, and one server's shape hides nothing", () => {
    const ds = errorsOf(`apiVersion: rollgate/v1
fleet: x
clusters:
  - name: a
    pack: nosuch
    version: 1.0.0
    servers: [{ name: a1, address: 10.0.0.1 }]
  - name: b
    pack: polycom-dma
    version: 10.0.1
    servers: [{ name: b1, address: 10.0.1.1 }]
    driver: { exec: { timeout: 5 minutes, commands: { status: [x] } } }
  - name: c
    pack: polycom-dma
    version: 10.0.1
    servers: [{ name: c1 }]
  - name: d
    pack: polycom-dma
    version: 10.0.1
    servers: [{ name: d1, address: 10.0.2.1 }]
superclusters:
  - name: a
    pack: polycom-dma
    clusters: [b, a]
    territories:
      - { name: t, primary: d }
`);
    const at = (path: string) => ds.find((d) => d.path === path);
    expect(at("clusters[0].pack")?.code).toBe("ROLLGATE_E_FLEET_SCHEMA");
    expect(at("clusters[2].servers[0].address")?.message).toBe("required field is missing");
    expect(at("clusters[1].driver.exec.timeout")).toMatchObject({
      code: "ROLLGATE_E_FLEET_DURATION",
      line: 12,
    });
    // cluster c, without its only server, is set aside whole: the rest is still checked (below)
    // the supercluster is also named "a": a mistake in it is not taken for one about cluster a
    expect(at("superclusters[0].territories[0].primary")).toMatchObject({
      code: "ROLLGATE_E_FLEET_NOT_MEMBER",
      message: 'cluster "d" is not a member of supercluster a',
    });
    // but naming cluster a, which was set aside, is not a second mistake
    expect(at("superclusters[0].clusters[1]")).toBeUndefined();
  });

  it("checks meaning: D1 sizes and packs, shared clusters, interfaces, mounts, durations, versions", () => {
    const fleet = {
      apiVersion: "rollgate/v1",
      fleet: "x",
      defaults: { maxMixedWindow: "4 hours" },
      clusters: [
        {
          name: "m",
          pack: "polyserve-matrix",
          version: "3.5.x",
          estimates: { install: "soon" },
          servers: [
            { name: "s1", address: "10.0.0.1", interfaces: ["10.0.1.1"] },
            { name: "s2", address: "10.0.0.1" },
          ],
          filesystems: [{ name: "fs", mountedOn: ["s1", "s9"] }],
        },
        ...["d1", "d2", "d3", "d4", "d5", "d6"].map((n, i) => ({
          name: n,
          pack: "polycom-dma",
          version: "10.0",
          servers: [
            { name: `${n}-1`, address: `10.1.${i}.1` },
            ...(i === 0
              ? [
                  { name: "x2", address: "10.9.0.2" },
                  { name: "x3", address: "10.9.0.3" },
                ]
              : []),
          ],
        })),
      ],
      superclusters: [
        { name: "sc1", pack: "polycom-dma", clusters: ["d1", "d2", "d3", "d4", "d5", "d6"] },
        {
          name: "sc2",
          pack: "polycom-dma",
          clusters: ["d1", "m"],
          territories: [{ name: "t", primary: "d2", backup: "d1" }],
        },
      ],
    };
    const codes = errorsOf(stringify(fleet)).map((d) => `${d.code} ${d.path}`);
    expect(codes).toEqual(
      expect.arrayContaining([
        "ROLLGATE_E_FLEET_DURATION defaults.maxMixedWindow",
        "ROLLGATE_E_FLEET_VERSION clusters[0].version",
        "ROLLGATE_E_FLEET_DURATION clusters[0].estimates.install",
        "ROLLGATE_E_FLEET_ADDRESS_NOT_INTERFACE clusters[0].servers[0].address",
        "ROLLGATE_E_FLEET_DUPLICATE_ADDRESS clusters[0].servers[1].address",
        "ROLLGATE_E_FLEET_UNKNOWN_SERVER clusters[0].filesystems[0].mountedOn[1]",
        "ROLLGATE_E_FLEET_CLUSTER_SIZE clusters[1].servers",
        "ROLLGATE_E_FLEET_SUPERCLUSTER_SIZE superclusters[0].clusters",
        "ROLLGATE_E_FLEET_CLUSTER_SHARED superclusters[1].clusters[0]",
        "ROLLGATE_E_FLEET_SUPERCLUSTER_PACK superclusters[1].clusters[1]",
        "ROLLGATE_E_FLEET_NOT_MEMBER superclusters[1].territories[0].primary",
      ]),
    );
  });

  it("keeps versions as written even when YAML reads them as numbers", () => {
    const r = parseFleetText(
      "apiVersion: rollgate/v1\nfleet: x\nclusters:\n  - name: a\n    pack: generic\n    version: 3.50\n    servers: [{ name: s, address: 10.0.0.1, version: 4 }]\n",
    );
    if (!r.ok) throw new Error(JSON.stringify(r.diagnostics));
    expect(r.fleet.clusters[0]!.version).toBe("3.50");
    expect(r.fleet.clusters[0]!.servers[0]!.version).toBe("4");
  });

  it("property: random and mutated YAML never throws; it is accepted or gets coded, located errors", () => {
    const seed = stringify(base);
    const valid = [seed, read("matrix-seed.yaml"), read("dma-supercluster.yaml"), read("mixed-fleet.yaml")];
    const mutate = fc
      .tuple(
        fc.constantFrom(...valid),
        fc.array(fc.tuple(fc.nat(), fc.nat({ max: 6 }), fc.string({ maxLength: 8 })), { maxLength: 6 }),
      )
      .map(([text, edits]) => {
        let t = text;
        for (const [pos, del, ins] of edits) {
          const at = pos % (t.length + 1);
          t = t.slice(0, at) + ins + t.slice(at + del);
        }
        return t;
      });
    const anything = fc.oneof(
      fc.string(),
      fc.jsonValue().map((v) => stringify(v) ?? ""),
      mutate,
      fc.anything().map((v) => {
        try {
          return stringify(v) ?? "";
        } catch {
          return "";
        }
      }),
    );
    fc.assert(
      fc.property(anything, (text) => {
        const r = parseFleetText(text, "fuzz.yaml");
        if (!r.ok) {
          expect(r.diagnostics.length).toBeGreaterThan(0);
          for (const d of r.diagnostics) {
            expect(d.code in ERROR_CATALOG).toBe(true);
            expect(d.line).toBeGreaterThanOrEqual(1);
            expect(d.message.length).toBeGreaterThan(0);
          }
        }
      }),
      { numRuns: 1500 },
    );
  });
});

describe("leftSupercluster and a territory's assigned, written by hand", () => {
  const base = readFileSync(new URL("dma-supercluster.yaml", examples), "utf8");
  const codes = (text: string) => {
    const r = parseFleetText(text);
    return r.ok ? [] : r.diagnostics.map((d) => `${d.code} ${d.path}`);
  };
  it("a leftSupercluster of no lineage of the file is refused where it is written (ROLLGATE_E_FLEET_UNKNOWN_SUPERCLUSTER)", () => {
    const bad = base.replace(
      "    estimates: { install: 40m }\n",
      "    estimates: { install: 40m }\n    leftSupercluster: sc-west\n",
    );
    expect(bad).toContain("leftSupercluster: sc-west");
    expect(codes(bad)).toEqual(["ROLLGATE_E_FLEET_UNKNOWN_SUPERCLUSTER clusters[0].leftSupercluster"]);
    // one of the file's lineage is fine (the new supercluster of an upgrade)
    expect(codes(bad.replace("sc-west", "sc-east@10.1.0"))).toEqual([]);
  });
  it("an assigned cluster that does not exist is an unknown cluster, not a non-member", () => {
    const bad = base.replace(
      "{ name: us-east, primary: dma-nyc, backup: dma-bos }",
      "{ name: us-east, primary: dma-nyc, backup: dma-bos, assigned: { primary: dma-xyz } }",
    );
    expect(codes(bad)).toEqual([
      "ROLLGATE_E_FLEET_UNKNOWN_CLUSTER superclusters[0].territories[0].assigned.primary",
    ]);
  });
});
