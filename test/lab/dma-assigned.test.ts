import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Lab, startLab } from "../../src/lab/index.ts";
import { e2eTimeouts, waitFor } from "../helpers/wait.ts";
import { appliances, writeFleet } from "./lab-helpers.ts";

e2eTimeouts(60_000);

// A fleet file written mid-upgrade: its territories' design, and where two of them are assigned
// now (docs/planning.md, src/model/fleet.ts Territory.assigned).
const FLEET = `apiVersion: rollgate/v1
fleet: lab-dma-assigned
defaults:
  capacityFloor: 0
clusters:
  - name: nyc
    pack: polycom-dma
    version: 10.0.1
    servers:
      - { name: nyc-1, address: 10.93.1.1 }
  - name: bos
    pack: polycom-dma
    version: 10.0.1
    servers:
      - { name: bos-1, address: 10.93.2.1 }
  - name: phl
    pack: polycom-dma
    version: 10.0.1
    servers:
      - { name: phl-1, address: 10.93.3.1 }
superclusters:
  - name: sc-east
    pack: polycom-dma
    clusters: [nyc, bos, phl]
    territories:
      - { name: us-east, primary: nyc, backup: bos, assigned: { primary: bos } }
      - { name: us-mid, primary: phl, backup: nyc, assigned: { primary: phl, backup: bos } }
      - { name: us-north, primary: bos, backup: phl }
`;
const DESIGN = [
  { name: "us-east", primary: "nyc", backup: "bos" },
  { name: "us-mid", primary: "phl", backup: "nyc" },
  { name: "us-north", primary: "bos", backup: "phl" },
];
const ASSIGNED = [
  { name: "us-east", primary: "bos" },
  { name: "us-mid", primary: "phl", backup: "bos" },
  { name: "us-north", primary: "bos", backup: "phl" },
];

let lab: Lab;
let api: ReturnType<typeof appliances>;
beforeEach(async () => {
  lab = await startLab(writeFleet(FLEET), { speed: 12000 });
  api = appliances(lab);
});
afterEach(async () => {
  await lab.stop();
});

describe("a lab started from a fleet file whose territories are assigned elsewhere for now", () => {
  it("starts each territory where `assigned` says (else the design) and reports only name, primary and backup", async () => {
    for (const s of ["nyc-1", "bos-1", "phl-1"])
      expect((await api.status(s)).territories).toStrictEqual(ASSIGNED);
    const raw = await (await fetch(`${api.url("nyc-1")}/v1/status`)).text();
    expect(raw).not.toContain("assigned");
    expect(lab.status().superclusters[0]!.territories).toStrictEqual(ASSIGNED);
  });

  it("judges a maintenance window's restore against the design (D5), not against `assigned`", async () => {
    const servers = ["nyc-1", "bos-1", "phl-1"];
    for (const s of servers) expect((await api.act(s, "busy-out")).status).toBe(200);
    const names = DESIGN.map((t) => t.name);
    expect((await api.act("nyc-1", "reassign-territories", { unassigned: names })).status).toBe(200);
    for (const s of servers) expect((await api.act(s, "leave-supercluster")).status).toBe(200);
    for (const s of servers) expect((await api.act(s, "install", { release: "10.1.0" })).status).toBe(202);
    await waitFor(async () => {
      const all = await Promise.all(servers.map((s) => api.status(s)));
      return all.every((st) => st.release === "10.1.0" && st.login === true);
    });
    expect((await api.act("nyc-1", "verify", { supercluster: "sc-east@10.1.0" })).status).toBe(200);
    for (const s of ["bos-1", "phl-1"])
      expect(
        (await api.act(s, "join-supercluster", { joins: "nyc", supercluster: "sc-east@10.1.0" })).status,
      ).toBe(200);
    // restored as `assigned` had them: us-east and us-mid are not on their design
    expect((await api.act("nyc-1", "restore-territories", { territories: ASSIGNED })).status).toBe(200);
    for (const s of servers) expect((await api.act(s, "return-to-service")).status).toBe(200);
    const v = lab.status().violations;
    expect(v.map((x) => x.rule)).toEqual(["D5", "D5"]);
    expect(v[0]!.detail).toMatch(
      /territory us-east is on us-east=bos in sc-east@10\.1\.0, not restored to its recorded us-east=nyc\/bos/,
    );
    expect(v[1]!.detail).toMatch(/territory us-mid is on us-mid=phl\/bos .*recorded us-mid=phl\/nyc/);
  });
});
