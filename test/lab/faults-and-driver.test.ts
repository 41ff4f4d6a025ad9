import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HttpDriver, resolveServerUrl } from "../../src/drivers/http.ts";
import { loadFleetFile } from "../../src/io/fleet-loader.ts";
import { type Lab, startLab } from "../../src/lab/index.ts";
import type { Fleet } from "../../src/model/fleet.ts";
import { waitFor, e2eTimeouts } from "../helpers/wait.ts";
import { writeFleet } from "./lab-helpers.ts";

e2eTimeouts(60_000);

// Faults, observed through the HTTP driver and the derived fleet file (as the engine sees them).
const FLEET = `apiVersion: rollgate/v1
fleet: lab-faults
clusters:
  - name: fx
    pack: polyserve-matrix
    version: 3.5.0
    servers:
      - { name: f1, address: 10.63.1.1 }
      - { name: f2, address: 10.63.1.2 }
      - { name: f3, address: 10.63.1.3 }
      - { name: f4, address: 10.63.1.4 }
      - { name: f5, address: 10.63.1.5 }
      - { name: f6, address: 10.63.1.6 }
  - name: dx
    pack: polycom-dma
    version: 10.0.1
    servers:
      - { name: d1, address: 10.63.2.1 }
      - { name: d2, address: 10.63.2.2 }
  - name: dy
    pack: polycom-dma
    version: 10.0.1
    servers:
      - { name: e1, address: 10.63.3.1 }
      - { name: e2, address: 10.63.3.2 }
`;
const SPEED = 12000;

let lab: Lab;
let fleet: Fleet;
const driver = new HttpDriver();
const target = (name: string) => {
  const cluster = fleet.clusters.find((c) => c.servers.some((s) => s.name === name))!;
  return { cluster, server: cluster.servers.find((s) => s.name === name)! };
};
const observe = (name: string, timeoutMs?: number) =>
  driver.observe(target(name), timeoutMs ? { timeoutMs } : {});
const perform = (name: string, action: Parameters<HttpDriver["perform"]>[1], args = {}) =>
  driver.perform(target(name), action, args);

beforeAll(async () => {
  lab = await startLab(writeFleet(FLEET), { speed: SPEED });
  fleet = loadFleetFile(lab.derivedFleetPath);
});
afterAll(async () => {
  await lab.stop();
});

describe("the derived fleet file", () => {
  it("keeps names and the original addresses, points the driver at the lab, and scales the estimates", () => {
    const fx = fleet.clusters[0]!;
    expect(fx.servers.map((s) => s.address)).toEqual([1, 2, 3, 4, 5, 6].map((i) => `10.63.1.${i}`));
    expect(fx.driver?.http?.url).toBe(`${lab.controlUrl}/servers/{name}`);
    expect(lab.controlUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(fx.estimates.install).toBeCloseTo(900 / SPEED, 3);
    expect(fleet.clusters[1]!.estimates.settle).toBeCloseTo(300 / SPEED, 3);
    expect(resolveServerUrl(fx, fx.servers[0]!)).toBe(`${lab.controlUrl}/servers/f1`);
    for (const s of lab.servers) expect(s.url).toMatch(/^http:\/\/127\./);
  });
});

describe("the HTTP driver against the lab", () => {
  it("observes through the control address's redirect, and performs with the appliance's words", async () => {
    expect(await observe("f1")).toMatchObject({
      server: "f1",
      cluster: "fx",
      state: "running",
      release: "3.5.0",
    });
    expect(await perform("f1", "install", { release: "3.5.1" })).toMatchObject({
      ok: false,
      code: "running",
      rule: "M9",
    });
    expect(await perform("f1", "disable")).toEqual({ ok: true });
    expect((await observe("f1")).disabled).toBe(true);
  });

  it("resolves {address} and {name} in a URL template, bracketing IPv6", () => {
    const c = { name: "c", driver: { http: { url: "http://{address}:8080/x/{name}/" } } };
    expect(resolveServerUrl(c, { name: "a b", address: "fd00::1" })).toBe("http://[fd00::1]:8080/x/a%20b");
    expect(resolveServerUrl(c, { name: "s", address: "127.9.9.9" })).toBe("http://127.9.9.9:8080/x/s");
  });
});

describe("faults", () => {
  it("install-fails: the install runs its time, then the release stays", async () => {
    lab.fault("f2", "install-fails");
    expect(await perform("f2", "stop")).toEqual({ ok: true });
    expect(await perform("f2", "install", { release: "3.5.1" })).toEqual({ ok: true });
    await waitFor(async () => (await observe("f2")).state === "stopped");
    const o = await observe("f2");
    expect(o).toMatchObject({ release: "3.5.0", lastInstall: { release: "3.5.1", result: "failed" } });
    lab.fault("f2", "clear");
  });

  it("install-hangs: the install never ends; a crash interrupts it and the server comes back", async () => {
    lab.fault("f3", "install-hangs");
    await perform("f3", "stop");
    await perform("f3", "install", { release: "3.5.1" });
    const o = await observe("f3");
    expect(o.state).toBe("installing");
    expect((o as unknown as { activity: { endsAt: string | null } }).activity.endsAt).toBeNull();
    lab.fault("f3", "crash", { factor: 100 }); // reboots after 100 × its start time
    expect((await observe("f3")).state).toBe("unreachable");
    expect((await observe("f3")).error).toMatch(/connection refused at http:\/\/127\./);
    await waitFor(async () => (await observe("f3")).state === "stopped");
    expect(await observe("f3")).toMatchObject({ release: "3.5.0", lastInstall: { result: "interrupted" } });
    expect(lab.status().installs.f3).toBe(1);
  });

  it("slow-install: the install takes k × its estimate", async () => {
    lab.fault("f4", "slow-install", { factor: 4, once: true });
    await perform("f4", "stop");
    await perform("f4", "install", { release: "3.5.1" });
    const a = (await observe("f4")) as unknown as { activity: { startedAt: string; endsAt: string } };
    const took = Date.parse(a.activity.endsAt) - Date.parse(a.activity.startedAt);
    expect(took).toBeCloseTo((4 * 900 * 1000) / SPEED, 0);
    await waitFor(async () => (await observe("f4")).release === "3.5.1");
    expect(lab.status().faults.filter((f) => f.server === "f4")).toEqual([]); // used up
  });

  it("crash: a running server goes down, reboots and rejoins", async () => {
    lab.fault("f5", "crash", { factor: 100 });
    expect((await observe("f5")).state).toBe("unreachable");
    await expect(perform("f5", "stop")).rejects.toThrow(/not delivered/);
    await waitFor(async () => (await observe("f5")).state === "running");
  });

  it("unreachable-refuse and unreachable-drop: the server runs on, its address does not answer", async () => {
    lab.fault("f6", "unreachable-refuse");
    expect(await observe("f6")).toMatchObject({
      state: "unreachable",
      error: expect.stringMatching(/connection refused at http:\/\/127\./),
    });
    expect(lab.status().servers.find((s) => s.name === "f6")!.state).toBe("unreachable");
    lab.fault("f6", "unreachable-drop");
    expect(await observe("f6", 300)).toMatchObject({
      state: "unreachable",
      error: expect.stringMatching(/^no answer within 0\.3s/),
    });
    await expect(driver.perform(target("f6"), "stop", {}, { timeoutMs: 300 })).rejects.toThrow(/timed out/);
    lab.fault("f6", "clear");
    expect((await observe("f6")).state).toBe("running");
  });

  it("dashboard-missing (D8b): after the install the dashboard lacks a server of the pair", async () => {
    lab.fault("d2", "dashboard-missing");
    expect(await perform("d1", "install", { release: "10.0.2" })).toEqual({ ok: true });
    await waitFor(async () => (await observe("d1")).login === true);
    const o = await observe("d1");
    expect(o).toMatchObject({ release: "10.0.2", dashboard: ["d1"], clustered: false });
    expect(await perform("d1", "verify")).toMatchObject({ ok: false, rule: "D8b" });
  });

  it("package-mismatch (D8c): after the install the two servers' packages differ", async () => {
    lab.fault("e2", "package-mismatch");
    await perform("e1", "install", { release: "10.0.2" });
    await waitFor(async () => (await observe("e1")).login === true);
    expect((await observe("e2")).packages).toEqual({ e1: "10.0.2", e2: "10.0.1" });
    expect(await perform("e2", "verify")).toMatchObject({ ok: false, rule: "D8c" });
  });

  it("journals every action, state change and fault", async () => {
    const j = await (await fetch(`${lab.controlUrl}/lab/journal?since=0`)).json();
    const kinds = new Set(j.entries.map((e: { kind: string }) => e.kind));
    expect([...kinds]).toEqual(expect.arrayContaining(["lab", "action", "state", "fault", "refused"]));
    expect(j.entries.every((e: { at: string }) => !Number.isNaN(Date.parse(e.at)))).toBe(true);
  });
});
