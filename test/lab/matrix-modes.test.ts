import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Lab, startLab } from "../../src/lab/index.ts";
import { e2eTimeouts, waitFor } from "../helpers/wait.ts";
import { appliances, writeFleet } from "./lab-helpers.ts";

e2eTimeouts(60_000);

/**
 * M11 as the lab behaves it, by hand over real HTTP: a matrix with modes. A mode change is a pass
 * of its own: set with the software stopped (M9), refused while the matrix runs two releases, and
 * a release change refused while it runs two modes; on one release a newer mode is judged as a
 * newer release is (M3 isolation, M4's join gate, M5's mounts).
 */
const FLEET = `apiVersion: rollgate/v1
fleet: lab-matrix-modes
defaults:
  capacityFloor: 0
clusters:
  - name: mx
    pack: polyserve-matrix
    version: 3.5.0
    mode: classic
    servers:
      - { name: m1, address: 10.62.1.1 }
      - { name: m2, address: 10.62.1.2 }
      - { name: m3, address: 10.62.1.3 }
    filesystems:
      - { name: psfs1, mountedOn: [m1, m2, m3] }
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

const labStatus = async () => (await api.control("GET", "/lab/status")).body;

/** Stops a server, sets its mode (202, then polls until it is there), starts it. */
async function setMode(server: string, mode = "extended", start = true) {
  expect((await api.act(server, "stop")).status).toBe(200);
  const r = await api.act(server, "set-mode", { mode });
  expect([200, 202], JSON.stringify(r.body)).toContain(r.status);
  await waitFor(async () => {
    const st = await api.status(server);
    return st.mode === mode && st.state === "stopped";
  });
  if (start) expect((await api.act(server, "start")).body).toMatchObject({ ok: true });
}

async function install(server: string, release: string) {
  expect((await api.act(server, "stop")).status).toBe(200);
  const r = await api.act(server, "install", { release });
  return r;
}

describe("a matrix with modes (M11), over HTTP", () => {
  it("reports each server's mode; a mode pass in the address order breaks no rule", async () => {
    expect(await api.status("m1")).toMatchObject({ mode: "classic", release: "3.5.0" });
    for (const s of ["m3", "m2", "m1"]) await setMode(s);
    for (const s of ["m1", "m2", "m3"])
      expect(await api.status(s)).toMatchObject({ mode: "extended", state: "running" });
    expect((await labStatus()).violations).toEqual([]);
  });

  it("a mode set on a running server is refused (M9); a mode name that is not one is a bad request", async () => {
    const running = await api.act("m3", "set-mode", { mode: "extended" });
    expect(running.status).toBe(409);
    expect(running.body).toMatchObject({ code: "running", rule: "M9" });
    expect((await api.act("m3", "stop")).status).toBe(200);
    const bad = await api.act("m3", "set-mode", { mode: "Not A Mode" });
    expect(bad.status).toBe(400);
  });

  it("a mode change while the matrix runs two releases is refused (M11), and a release change while it runs two modes", async () => {
    // m3 on 3.5.1, the others on 3.5.0: a release pass under way
    const r = await install("m3", "3.5.1");
    expect([200, 202]).toContain(r.status);
    await waitFor(async () => (await api.status("m3")).release === "3.5.1");
    const refused = await api.act("m3", "set-mode", { mode: "extended" });
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ code: "pass-unfinished", rule: "M11" });
    expect(refused.body.message).toContain("3.5.0 and 3.5.1");
    expect([200, 202]).toContain((await api.act("m3", "install", { release: "3.5.0" })).status); // back (before M4)
    await waitFor(async () => (await api.status("m3")).release === "3.5.0");
    expect((await api.act("m3", "start")).body).toMatchObject({ ok: true });

    // m3 in mode extended, the others classic: a mode pass under way
    await setMode("m3");
    const noInstall = await install("m2", "3.5.1");
    expect(noInstall.status).toBe(409);
    expect(noInstall.body).toMatchObject({ code: "pass-unfinished", rule: "M11" });
    // each attempt the lab refused is on its record of rules broken
    expect((await labStatus()).violations.map((v: { rule: string }) => v.rule)).toEqual(["M11", "M11"]);
  });

  it("a new-mode server below an old-mode one isolates the old-mode servers (M3)", async () => {
    await setMode("m1"); // the lowest address first: out of order
    for (const s of ["m2", "m3"]) expect((await api.status(s)).state).toBe("isolated");
    const violations = (await labStatus()).violations;
    expect(violations).toEqual([expect.objectContaining({ rule: "M3" })]);
    expect(violations[0].detail).toContain("mode");
  });

  it("once the last old-mode server has left, an old-mode server may not rejoin (M4)", async () => {
    await setMode("m3");
    await setMode("m2");
    expect((await api.act("m1", "stop")).status).toBe(200); // the last classic server leaves
    const back = await api.act("m1", "start");
    expect(back.status).toBe(409);
    expect(back.body).toMatchObject({ code: "join-refused", rule: "M4" });
    expect(back.body.message).toContain("mode extended");
  });
});
