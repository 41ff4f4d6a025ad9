import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Lab, startLab } from "../../src/lab/index.ts";
import { waitFor, e2eTimeouts } from "../helpers/wait.ts";
import { appliances, writeFleet } from "./lab-helpers.ts";

e2eTimeouts(60_000);

// The PolyServe Matrix Server 3.5.1 Upgrade Guide's scenarios, driven over real HTTP.
const FLEET = `apiVersion: rollgate/v1
fleet: lab-matrix-scenarios
# scenarios of other rules driven by hand: no capacity floor (G3 is tested in capacity-floor.test.ts)
defaults:
  capacityFloor: 0
clusters:
  - name: mx
    pack: polyserve-matrix
    version: 3.5.0
    servers:
      - { name: m1, address: 10.61.1.1, interfaces: [10.61.1.1, 10.61.2.3] }
      - { name: m2, address: 10.61.1.2, interfaces: [10.61.1.2, 10.61.2.2] }
      - { name: m3, address: 10.61.1.3, interfaces: [10.61.1.3, 10.61.2.1] }
      - { name: m4, address: 10.61.1.10 }
    filesystems:
      - { name: psfs1, mountedOn: [m1, m2, m3, m4] }
`;

let lab: Lab;
let api: ReturnType<typeof appliances>;

beforeEach(async () => {
  lab = await startLab(writeFleet(FLEET), { speed: 9000 });
  api = appliances(lab);
});
afterEach(async () => {
  await lab.stop();
});

/** Stops a server, installs a release (async: 202, then polls until it is there), starts it. */
async function upgrade(server: string, release = "3.5.1", start = true) {
  expect((await api.act(server, "stop")).status).toBe(200);
  const inst = await api.act(server, "install", { release });
  expect(inst.status).toBe(202);
  expect((await api.status(server)).state).toBe("installing");
  await waitFor(async () => {
    const st = await api.status(server);
    return st.release === release && st.state === "stopped";
  });
  if (start) {
    const r = await api.act(server, "start");
    expect(r.body).toMatchObject({ ok: true });
  }
}

const labStatus = async () => (await api.control("GET", "/lab/status")).body;

describe("the matrix, over HTTP", () => {
  it("upgraded in order (M2: highest address first), breaks no rule and installs each server once", async () => {
    for (const s of ["m4", "m3", "m2", "m1"]) {
      expect((await api.act(s, "disable")).status).toBe(200);
      expect((await api.act(s, "backup")).status).toBe(200);
      await upgrade(s);
      expect(await api.status(s)).toMatchObject({ state: "running", release: "3.5.1", disabled: false });
    }
    const st = await labStatus();
    expect(st.violations).toEqual([]);
    expect(st.installs).toEqual({ m1: 1, m2: 1, m3: 1, m4: 1 });
    expect((await api.status("m1")).members).toEqual(["m1", "m2", "m3", "m4"]);
    expect((await api.status("m1")).mounts).toEqual(["psfs1"]);
  });

  it("the out-of-order accident isolates the old-release servers (M3); the manual's correction restores the matrix", async () => {
    await upgrade("m1"); // the lowest address first: out of order
    for (const s of ["m2", "m3", "m4"]) {
      const st = await api.status(s);
      expect(st.state).toBe("isolated");
      expect(st.members).toEqual([s]);
      expect(st.isolatedReason).toMatch(/M3/);
    }
    expect((await labStatus()).violations).toEqual([
      expect.objectContaining({ rule: "M3", at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) }),
    ]);

    // Correction: stop the server upgraded out of order, upgrade the others in order, start it last.
    expect((await api.act("m1", "stop")).status).toBe(200);
    await upgrade("m4");
    await upgrade("m3");
    await upgrade("m2");
    expect((await api.act("m1", "start")).status).toBe(200);
    const st = await labStatus();
    expect(st.servers.map((s: { state: string; release: string }) => `${s.state} ${s.release}`)).toEqual(
      Array(4).fill("running 3.5.1"),
    );
    expect(st.violations.map((v: { rule: string }) => v.rule)).toEqual(["M3"]);
    expect((await api.status("m2")).members).toEqual(["m1", "m2", "m3", "m4"]);
  });

  it("once the last old-release server has left, an old-release server cannot join (M4)", async () => {
    await upgrade("m4");
    await upgrade("m3");
    // While an old-release server is active, another may rejoin after a reboot.
    expect((await api.act("m1", "stop")).status).toBe(200);
    expect((await api.act("m1", "start")).status).toBe(200);
    await upgrade("m2");
    expect((await api.act("m1", "stop")).status).toBe(200); // the point of no return
    const r = await api.act("m1", "start");
    expect(r).toMatchObject({ status: 409, body: { ok: false, code: "join-refused", rule: "M4" } });
    expect((await api.status("m1")).state).toBe("stopped");
    expect((await labStatus()).violations.map((v: { rule: string }) => v.rule)).toEqual(["M4"]);
    await upgrade("m1"); // upgraded, it joins
    expect((await api.status("m1")).state).toBe("running");
  });

  it("a filesystem unmounted on the last old-release server cannot be mounted by one until the new ones unmount it (M5), managed through an old-release server (M7)", async () => {
    await upgrade("m4");
    await upgrade("m3");
    await upgrade("m2");
    // m1 (3.5.0) unmounts psfs1: it is then mounted only on 3.5.1 servers.
    expect((await api.act("m1", "unmount", { filesystem: "psfs1" })).status).toBe(200);
    const refused = await api.act("m1", "mount", { filesystem: "psfs1" });
    expect(refused).toMatchObject({ status: 409, body: { code: "mount-refused", rule: "M5" } });
    expect(refused.body.message).toMatch(/psfs1.*m2, m3, m4/);

    // M7: while mixed, a new-release server refuses management operations…
    const m7 = await api.act("m2", "unmount", { filesystem: "psfs1" });
    expect(m7).toMatchObject({ status: 409, body: { rule: "M7", code: "manage-through-old" } });
    // …which go to the old-release server, aimed at the others.
    for (const s of ["m2", "m3", "m4"])
      expect((await api.act("m1", "unmount", { filesystem: "psfs1", server: s })).status).toBe(200);
    expect((await api.status("m3")).mounts).toEqual([]);
    expect((await api.act("m1", "mount", { filesystem: "psfs1" })).status).toBe(200);
    expect((await api.status("m1")).mounts).toEqual(["psfs1"]);
    expect((await labStatus()).violations.map((v: { rule: string }) => v.rule)).toEqual(["M5", "M7"]);
  });

  it("a server out of the matrix when the upgrade began is upgraded before it returns (M10)", async () => {
    expect((await api.act("m1", "stop")).status).toBe(200); // out of the matrix before the upgrade
    await upgrade("m4");
    const r = await api.act("m1", "start");
    expect(r).toMatchObject({ status: 409, body: { rule: "M10" } });
    await upgrade("m1", "3.5.1", false);
    // Upgraded, it returns in its turn (M2: last, being the lowest address).
    await upgrade("m3");
    await upgrade("m2");
    expect((await api.act("m1", "start")).status).toBe(200);
    expect((await labStatus()).violations.map((v: { rule: string }) => v.rule)).toEqual(["M10"]);
  });

  it("answers with the rule it applies: install while running (M9), unknown actions, bad bodies", async () => {
    expect(await api.act("m2", "install", { release: "3.5.1" })).toMatchObject({
      status: 409,
      body: { code: "running", rule: "M9" },
    });
    expect((await api.act("m2", "fly")).status).toBe(400);
    const res = await fetch(`${api.url("m2")}/v1/actions/stop`, { method: "POST", body: "{nope" });
    expect(res.status).toBe(400);
    expect((await fetch(`${api.url("m2")}/nowhere`)).status).toBe(404);
  });

  it("repeating an action whose effect is there does nothing (G5): a second install request is not a second install", async () => {
    expect((await api.act("m4", "stop")).status).toBe(200);
    expect((await api.act("m4", "stop")).body).toMatchObject({ ok: true, already: true });
    expect((await api.act("m4", "install", { release: "3.5.1" })).status).toBe(202);
    const again = await api.act("m4", "install", { release: "3.5.1" });
    expect(again).toMatchObject({ status: 202, body: { already: true } });
    await waitFor(async () => (await api.status("m4")).release === "3.5.1");
    expect((await api.act("m4", "install", { release: "3.5.1" })).body).toMatchObject({ already: true });
    expect((await labStatus()).installs.m4).toBe(1);
  });
});

describe("the supported rolling paths (M8), as the appliance keeps them", () => {
  it("refuses a rolling install off the supported paths (and records it), takes a supported hop, and takes any release with the whole matrix down (a full stop)", async () => {
    const chain = await startLab(writeFleet(FLEET.replace("version: 3.5.0", "version: 3.4.2")), {
      speed: 9000,
    });
    try {
      const a = appliances(chain);
      expect((await a.act("m4", "stop")).status).toBe(200);
      const off = await a.act("m4", "install", { release: "4.1.0" });
      expect(off.status).toBe(409);
      expect(off.body).toMatchObject({ ok: false, code: "unsupported-path", rule: "M8" });
      expect(off.body.message).toContain("3.6.0 from 3.4.x");
      expect((await a.status("m4")).release).toBe("3.4.2");
      expect(chain.status().violations.map((v) => v.rule)).toEqual(["M8"]);
      // the supported hop
      const hop = await a.act("m4", "install", { release: "3.6.0" });
      expect(hop.status).toBe(202);
      await waitFor(async () => (await a.status("m4")).release === "3.6.0");
      // a full stop: every server stopped, then 4.1.0 from 3.4.2 is the operator's choice
      for (const s of ["m1", "m2", "m3"]) expect((await a.act(s, "stop")).status).toBe(200);
      expect((await a.act("m1", "install", { release: "4.1.0" })).status).toBe(202);
      await waitFor(async () => (await a.status("m1")).release === "4.1.0");
      expect(chain.status().violations.map((v) => v.rule)).toEqual(["M8"]);
    } finally {
      await chain.stop();
    }
  });
});

describe("going back to the old release before the point of no return (M4, M8)", () => {
  it("an upgraded server may return to the release the others still run; with none of them running it is refused", async () => {
    await upgrade("m4");
    expect((await api.act("m4", "stop")).status).toBe(200);
    const back = await api.act("m4", "install", { release: "3.5.0" });
    expect(back.status).toBe(202);
    await waitFor(async () => (await api.status("m4")).release === "3.5.0");
    expect((await api.act("m4", "start")).body).toMatchObject({ ok: true });
    expect((await labStatus()).violations).toEqual([]);
    // m4 and m3 upgraded, m1 and m2 stopped: no running server has 3.5.0 for m3 to return to
    await upgrade("m4");
    for (const s of ["m1", "m2"]) expect((await api.act(s, "stop")).status).toBe(200);
    await upgrade("m3");
    expect((await api.act("m3", "stop")).status).toBe(200);
    const late = await api.act("m3", "install", { release: "3.5.0" });
    expect(late.status).toBe(409);
    expect(late.body).toMatchObject({ code: "unsupported-path", rule: "M8" });
  });
});
