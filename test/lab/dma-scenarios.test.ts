import { readFileSync } from "node:fs";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Lab, startLab } from "../../src/lab/index.ts";
import { waitFor, e2eTimeouts } from "../helpers/wait.ts";
import { appliances, writeFleet } from "./lab-helpers.ts";

e2eTimeouts(60_000);

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

// Five clusters (D1's most), as a maintenance window (D5) handles them, by hand over HTTP.
const FIVE = readFileSync(new URL("../fixtures/dma-five.yaml", import.meta.url), "utf8")
  .replaceAll("10.71.", "10.72.")
  .replace("fleet: dma-five", "fleet: lab-dma-five");
const FIVE_CLUSTERS = ["dma-nyc", "dma-bos", "dma-phl", "dma-dca", "dma-atl"];
const FIRST_SERVER: Record<string, string> = {
  "dma-nyc": "nyc-1",
  "dma-bos": "bos-1",
  "dma-phl": "phl-1",
  "dma-dca": "dca-1",
  "dma-atl": "atl-1",
};
const TERRITORIES = [
  { name: "us-east", primary: "dma-nyc", backup: "dma-bos" },
  { name: "us-mid", primary: "dma-phl", backup: "dma-nyc" },
  { name: "us-north", primary: "dma-bos", backup: "dma-phl" },
  { name: "us-capital", primary: "dma-dca", backup: "dma-atl" },
  { name: "us-south", primary: "dma-atl" },
];

describe("a five-cluster DMA supercluster in a maintenance window (D5), over HTTP", () => {
  let five: Lab;
  let api5: ReturnType<typeof appliances>;
  beforeEach(async () => {
    five = await startLab(writeFleet(FIVE), { speed: 12000 });
    api5 = appliances(five);
  });
  afterEach(async () => {
    await five.stop();
  });
  const each = (f: (c: string, server: string) => Promise<unknown>) =>
    Promise.all(FIVE_CLUSTERS.map((c) => f(c, FIRST_SERVER[c]!)));
  const status5 = () => five.status();

  const installed = async (s: string) => {
    expect((await api5.act(s, "install", { release: "10.1.0" })).status).toBe(202);
    await waitFor(async () => {
      const st = await api5.status(s);
      return st.release === "10.1.0" && st.login === true;
    });
  };

  /**
   * Busy-out all, record the territories, all leave, all install (the first one first), and the
   * first founds the new supercluster at its verify (unless `found` is false).
   */
  async function windowUpToJoins(found = true) {
    await each(async (_, s) => expect((await api5.act(s, "busy-out")).status).toBe(200));
    const names = TERRITORIES.map((t) => t.name);
    expect((await api5.act("nyc-2", "reassign-territories", { unassigned: names })).status).toBe(200);
    expect((await api5.status("atl-1")).territories).toEqual([]);
    await each(async (_, s) => expect((await api5.act(s, "leave-supercluster")).status).toBe(200));
    await installed("nyc-1");
    await Promise.all(FIVE_CLUSTERS.slice(1).map((c) => installed(FIRST_SERVER[c]!)));
    if (found)
      expect((await api5.act("nyc-1", "verify", { supercluster: "sc-east@10.1.0" })).status).toBe(200);
  }

  it("records the territories only once every cluster is out of service (D5); an empty request is refused", async () => {
    expect(await api5.act("nyc-1", "reassign-territories", { territories: [] })).toMatchObject({
      status: 400,
      body: { code: "bad-request" },
    });
    await Promise.all(
      ["dma-nyc", "dma-bos", "dma-phl", "dma-dca"].map((c) => api5.act(FIRST_SERVER[c]!, "busy-out")),
    );
    const early = await api5.act("nyc-1", "reassign-territories", { unassigned: ["us-east", "us-south"] });
    expect(early).toMatchObject({ status: 409, body: { rule: "D5", code: "members-in-service" } });
    expect(early.body.message).toMatch(/while dma-atl is in service/);
    expect((await api5.act("atl-1", "busy-out")).status).toBe(200);
    expect(
      (await api5.act("nyc-1", "reassign-territories", { unassigned: ["us-east", "us-south"] })).status,
    ).toBe(200);
    expect((await api5.status("bos-2")).territories.map((t: { name: string }) => t.name)).toEqual([
      "us-mid",
      "us-north",
      "us-capital",
    ]);
    expect(five.world.journal.entries(0, 1e9).map((e) => e.detail)).toContain(
      "sc-east territories recorded and unassigned until restored: us-east=dma-nyc/dma-bos, us-south=dma-atl",
    );
    expect(status5().violations.map((v) => v.rule)).toEqual(["D5"]);
  });

  it("four joins sent side by side to the founder all land: five members, territories restored, back in service, no rule broken", async () => {
    await windowUpToJoins();
    const joins = await Promise.all(
      FIVE_CLUSTERS.slice(1).map((c) =>
        api5.act(FIRST_SERVER[c]!, "join-supercluster", { joins: "dma-nyc", supercluster: "sc-east@10.1.0" }),
      ),
    );
    expect(joins.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    for (const s of ["nyc-1", "nyc-2", "phl-2", "atl-1"])
      expect(new Set((await api5.status(s)).superclusterMembers)).toEqual(new Set(FIVE_CLUSTERS));
    expect((await api5.act("nyc-1", "restore-territories", { territories: TERRITORIES })).status).toBe(200);
    await each(async (_, s) => expect((await api5.act(s, "return-to-service")).status).toBe(200));
    const st = status5();
    expect(st.superclusters).toEqual([
      expect.objectContaining({ name: "sc-east@10.1.0", founder: "dma-nyc", territories: TERRITORIES }),
    ]);
    expect(new Set(st.superclusters[0]!.members)).toEqual(new Set(FIVE_CLUSTERS));
    expect(st.violations).toEqual([]);
  });

  it("four joins sent side by side to a first cluster in no supercluster yet land in one supercluster of five", async () => {
    await windowUpToJoins(false);
    const joins = await Promise.all(
      FIVE_CLUSTERS.slice(1).map((c) =>
        api5.act(FIRST_SERVER[c]!, "join-supercluster", { joins: "dma-nyc", supercluster: "sc-east@10.1.0" }),
      ),
    );
    expect(joins.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    const st = status5();
    expect(st.superclusters.map((x) => x.name)).toEqual(["sc-east@10.1.0"]);
    expect(new Set(st.superclusters[0]!.members)).toEqual(new Set(FIVE_CLUSTERS));
    expect(st.violations).toEqual([]);
  });

  it("a join that is not replicated (fault join-lost) is recorded as a lost member (D10)", async () => {
    await windowUpToJoins();
    five.fault("phl-2", "join-lost");
    await Promise.all(
      FIVE_CLUSTERS.slice(1).map((c) =>
        api5.act(FIRST_SERVER[c]!, "join-supercluster", { joins: "dma-nyc", supercluster: "sc-east@10.1.0" }),
      ),
    );
    // its own view says it is in; the founder's member list does not have it
    expect(await api5.status("phl-1")).toMatchObject({ supercluster: "sc-east@10.1.0" });
    expect((await api5.status("phl-1")).superclusterMembers).toContain("dma-phl");
    expect((await api5.status("nyc-1")).superclusterMembers).not.toContain("dma-phl");
    const v = status5().violations;
    expect(v.map((x) => x.rule)).toEqual(["D10"]);
    expect(v[0]!.detail).toMatch(
      /lost member: dma-phl sees itself a member of sc-east@10\.1\.0, whose member list \(.*\) lacks it/,
    );
  });

  it("after the window, a cluster outside the new supercluster and a territory not restored are violations (D5)", async () => {
    await windowUpToJoins();
    for (const c of ["dma-bos", "dma-phl", "dma-dca"])
      expect(
        (
          await api5.act(FIRST_SERVER[c]!, "join-supercluster", {
            joins: "dma-nyc",
            supercluster: "sc-east@10.1.0",
          })
        ).status,
      ).toBe(200);
    // dma-atl founds a supercluster of its own instead of joining the first (D5, D10)
    expect((await api5.act("atl-1", "verify", { supercluster: "sc-south" })).status).toBe(200);
    // us-capital and us-south name dma-atl, which is not a member: only three are restored
    expect(
      (await api5.act("nyc-1", "restore-territories", { territories: TERRITORIES.slice(0, 3) })).status,
    ).toBe(200);
    await each(async (_, s) => expect((await api5.act(s, "return-to-service")).status).toBe(200));
    const v = status5().violations;
    expect(v.map((x) => x.rule)).toEqual(["D5", "D5", "D5"]);
    expect(v[0]!.detail).toMatch(/dma-atl is not a member of sc-east@10\.1\.0 .*sees itself in sc-south/);
    expect(v[1]!.detail).toMatch(
      /territory us-capital is unassigned in sc-east@10\.1\.0, not restored to its recorded us-capital=dma-dca\/dma-atl/,
    );
    expect(v[2]!.detail).toMatch(/territory us-south is unassigned/);
  });
});
