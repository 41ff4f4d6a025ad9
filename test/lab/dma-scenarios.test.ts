import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Lab, startLab } from "../../src/lab/index.ts";
import { waitFor } from "../helpers/wait.ts";
import { appliances, writeFleet } from "./lab-helpers.ts";

// The Polycom DMA Operations Guide's supercluster scenarios, driven over real HTTP.
const FLEET = `apiVersion: rollgate/v1
fleet: lab-dma-scenarios
# scenarios of other rules driven by hand: no capacity floor (G3 is tested in capacity-floor.test.ts)
defaults:
  capacityFloor: 0
clusters:
  - name: nyc
    pack: polycom-dma
    version: 10.0.1
    servers:
      - { name: nyc-1, address: 10.62.1.1 }
      - { name: nyc-2, address: 10.62.1.2 }
  - name: bos
    pack: polycom-dma
    version: 10.0.1
    servers:
      - { name: bos-1, address: 10.62.2.1 }
      - { name: bos-2, address: 10.62.2.2 }
  - name: phl
    pack: polycom-dma
    version: 10.0.1
    servers:
      - { name: phl-1, address: "fd00:62::3:1" }
superclusters:
  - name: sc-east
    pack: polycom-dma
    clusters: [nyc, bos, phl]
    territories:
      - { name: us-east, primary: nyc, backup: bos }
      - { name: us-mid, primary: phl, backup: nyc }
      - { name: us-north, primary: bos, backup: phl }
`;

let lab: Lab;
let api: ReturnType<typeof appliances>;

beforeEach(async () => {
  lab = await startLab(writeFleet(FLEET), { speed: 12000 });
  api = appliances(lab);
});
afterEach(async () => {
  await lab.stop();
});

const labStatus = async () => (await api.control("GET", "/lab/status")).body;
const rules = async () => (await labStatus()).violations.map((v: { rule: string }) => v.rule);

/** Takes a cluster out of the supercluster the way D4 requires. */
async function leave(server: string, territories: Array<{ name: string; primary: string; backup?: string }>) {
  if (territories.length)
    expect((await api.act(server, "reassign-territories", { territories })).status).toBe(200);
  expect((await api.act(server, "busy-out")).status).toBe(200);
  expect((await api.act(server, "leave-supercluster")).status).toBe(200);
}

async function install(server: string, release: string) {
  const r = await api.act(server, "install", { release });
  expect(r).toMatchObject({ status: 202, body: { ok: true } });
  await waitFor(async () => {
    const st = await api.status(server);
    return st.release === release && st.login === true;
  });
}

describe("a DMA supercluster, over HTTP", () => {
  it("starts as the fleet file says: members, territories, login, dashboard, packages", async () => {
    const st = await api.status("nyc-2");
    expect(st).toMatchObject({
      cluster: "nyc",
      state: "running",
      release: "10.0.1",
      login: true,
      dashboard: ["nyc-1", "nyc-2"],
      packages: { "nyc-1": "10.0.1", "nyc-2": "10.0.1" },
      clustered: true,
      supercluster: "sc-east",
      superclusterMembers: ["nyc", "bos", "phl"],
      inService: true,
      busiedOut: false,
    });
    expect(st.territories).toHaveLength(3);
    expect(lab.servers.find((s) => s.name === "phl-1")).toMatchObject({ remapped: "IPv6 address" });
    expect((await api.status("phl-1")).state).toBe("running");
  });

  it("refuses an incompatible install while the cluster is a member of a supercluster (D4)", async () => {
    const r = await api.act("bos-2", "install", { release: "10.1.0" });
    expect(r).toMatchObject({ status: 409, body: { ok: false, rule: "D4", code: "member-incompatible" } });
    expect((await labStatus()).installs).toMatchObject({ "bos-1": 0, "bos-2": 0 });
    expect(await rules()).toEqual(["D4"]);
  });

  it("installs a patch on both servers while a member (D3, D7): login comes back after install and settle", async () => {
    const r = await api.act("nyc-1", "install", { release: "10.0.2" });
    expect(r.status).toBe(202);
    expect((await api.status("nyc-2")).state).toBe("installing");
    expect((await api.act("nyc-2", "busy-out")).status).toBe(503); // busy installing
    await waitFor(async () => (await api.status("nyc-2")).release === "10.0.2");
    await waitFor(async () => (await api.status("nyc-2")).login === true);
    const st = await api.status("nyc-2");
    expect(st).toMatchObject({
      dashboard: ["nyc-1", "nyc-2"],
      packages: { "nyc-1": "10.0.2", "nyc-2": "10.0.2" },
      supercluster: "sc-east",
      backups: 1,
    });
    expect((await api.act("nyc-1", "verify")).status).toBe(200);
    const s = await labStatus();
    expect(s.installs).toMatchObject({ "nyc-1": 1, "nyc-2": 1, "bos-1": 0 });
    expect(s.violations).toEqual([]);
  });

  it("leaving needs territories reassigned, busy-out and every server online (D4)", async () => {
    const first = await api.act("nyc-1", "leave-supercluster");
    expect(first).toMatchObject({ status: 409, body: { rule: "D4", code: "leave-refused" } });
    expect(first.body.message).toMatch(/us-east, us-mid/);
    expect(first.body.message).toMatch(/busied out/);
    const territories = [
      { name: "us-east", primary: "bos", backup: "phl" },
      { name: "us-mid", primary: "phl", backup: "bos" },
    ];
    expect((await api.act("nyc-1", "reassign-territories", { territories })).status).toBe(200);
    expect((await api.status("bos-1")).territories).toEqual(expect.arrayContaining(territories)); // replicated
    expect((await api.act("nyc-1", "busy-out")).status).toBe(200);
    expect((await api.act("nyc-2", "stop")).status).toBe(200);
    const offline = await api.act("nyc-1", "leave-supercluster");
    expect(offline).toMatchObject({ status: 409, body: { rule: "D4" } });
    expect(offline.body.message).toMatch(/online \(nyc-2\)/);
    expect((await api.act("nyc-2", "start")).status).toBe(200);
    expect((await api.act("nyc-1", "leave-supercluster")).status).toBe(200);
    expect(await api.status("nyc-2")).toMatchObject({ supercluster: null, superclusterMembers: [] });
    expect((await api.status("bos-1")).superclusterMembers).toEqual(["bos", "phl"]);
    expect(await rules()).toEqual(["D4", "D4"]);
  });

  it("a join in the wrong direction replaces the founder's data store (D10); the right direction keeps it", async () => {
    await leave("nyc-1", [
      { name: "us-east", primary: "bos", backup: "phl" },
      { name: "us-mid", primary: "phl", backup: "bos" },
    ]);
    await install("nyc-1", "10.1.0"); // the first upgraded cluster: the founder of the new supercluster
    await leave("bos-1", [
      { name: "us-east", primary: "phl" },
      { name: "us-mid", primary: "phl" },
      { name: "us-north", primary: "phl" },
    ]);
    await install("bos-2", "10.1.0");
    // Incompatible clusters cannot share a supercluster (D2).
    expect(await api.act("bos-1", "join-supercluster", { joins: "phl" })).toMatchObject({
      status: 409,
      body: { rule: "D2" },
    });
    // Wrong direction: the founder joins the later cluster.
    const wrong = await api.act("nyc-2", "join-supercluster", { joins: "bos", supercluster: "sc-new" });
    expect(wrong.status).toBe(200);
    const nyc = await api.status("nyc-1");
    expect(nyc.supercluster).toBe("sc-new");
    expect(nyc.dataStore.origin).toBe("bos");
    expect(nyc.dataStore.lineage).toEqual([
      "created on nyc",
      expect.stringMatching(/replaced by a copy of bos's/),
    ]);
    expect((await api.status("bos-1")).dataStore).toEqual({ origin: "bos", lineage: ["created on bos"] });
    const v = (await labStatus()).violations.filter((x: { rule: string }) => x.rule === "D10");
    expect(v).toHaveLength(1);
    expect(v[0].detail).toMatch(/nyc was upgraded before bos/);
  });

  it("a join in the right direction: upgraded clusters join the founder", async () => {
    await leave("nyc-1", [
      { name: "us-east", primary: "bos", backup: "phl" },
      { name: "us-mid", primary: "phl", backup: "bos" },
    ]);
    await install("nyc-1", "10.1.0");
    await leave("bos-1", [
      { name: "us-east", primary: "phl" },
      { name: "us-mid", primary: "phl" },
      { name: "us-north", primary: "phl" },
    ]);
    await install("bos-1", "10.1.0");
    expect(
      (await api.act("bos-1", "join-supercluster", { joins: "nyc", supercluster: "sc-new" })).status,
    ).toBe(200);
    expect((await api.status("bos-2")).dataStore.origin).toBe("nyc");
    expect((await api.status("nyc-2")).dataStore).toEqual({ origin: "nyc", lineage: ["created on nyc"] });
    expect((await api.status("nyc-1")).superclusterMembers).toEqual(["nyc", "bos"]);
    expect(
      (
        await api.act("nyc-1", "restore-territories", {
          territories: [{ name: "us-east", primary: "nyc", backup: "bos" }],
        })
      ).status,
    ).toBe(200);
    expect((await api.act("bos-1", "return-to-service")).status).toBe(200);
    expect(await api.status("bos-2")).toMatchObject({ inService: true, busiedOut: false });
    expect(await rules()).toEqual([]);
  });
  it("the first upgraded cluster founds the new supercluster at its verify; outside every supercluster no cluster returns to service (D6)", async () => {
    await leave("nyc-1", [
      { name: "us-east", primary: "bos", backup: "phl" },
      { name: "us-mid", primary: "phl", backup: "bos" },
    ]);
    await install("nyc-1", "10.1.0");
    // out of sc-east and in no other: it serves again only as a member of one (D6)
    const early = await api.act("nyc-2", "return-to-service");
    expect(early).toMatchObject({ status: 409, body: { rule: "D6", code: "outside-supercluster" } });
    // its verify, naming the new supercluster, founds it with nyc as its only member
    expect((await api.act("nyc-1", "verify", { supercluster: "sc-east@10.1.0" })).status).toBe(200);
    expect(await api.status("nyc-2")).toMatchObject({
      supercluster: "sc-east@10.1.0",
      superclusterMembers: ["nyc"],
    });
    // the founder takes territories in its supercluster (D6) and serves
    expect(
      (
        await api.act("nyc-1", "reassign-territories", {
          territories: [{ name: "us-east", primary: "nyc" }],
        })
      ).status,
    ).toBe(200);
    expect((await api.act("nyc-1", "return-to-service")).status).toBe(200);
    expect(await rules()).toEqual(["D6"]);
  });
  it("joins of two clusters side by side to a cluster in no supercluster both land in one supercluster", async () => {
    await leave("nyc-1", [
      { name: "us-east", primary: "bos", backup: "phl" },
      { name: "us-mid", primary: "phl", backup: "bos" },
    ]);
    await install("nyc-1", "10.1.0");
    await leave("bos-1", [
      { name: "us-north", primary: "phl" },
      { name: "us-mid", primary: "phl" },
      { name: "us-east", primary: "phl" },
    ]);
    await install("bos-1", "10.1.0");
    await leave("phl-1", []); // the last member: sc-east dissolves
    await install("phl-1", "10.1.0");
    const both = await Promise.all([
      api.act("bos-1", "join-supercluster", { joins: "nyc", supercluster: "sc-new" }),
      api.act("phl-1", "join-supercluster", { joins: "nyc", supercluster: "sc-new" }),
    ]);
    expect(both.map((r) => r.status)).toEqual([200, 200]);
    await waitFor(async () => (await api.status("nyc-1")).superclusterMembers?.length === 3);
    expect((await api.status("nyc-1")).superclusterMembers).toEqual(["nyc", "bos", "phl"]);
    expect((await api.status("phl-1")).supercluster).toBe("sc-new");
    expect((await labStatus()).superclusters.map((x: { name: string }) => x.name)).toEqual(["sc-new"]);
  });
});
