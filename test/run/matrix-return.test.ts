import { describe, expect, it } from "vitest";
import type { ServerObservation } from "../../src/drivers/driver.ts";
import type { Cluster } from "../../src/model/fleet.ts";
import {
  matrixEnableStep,
  matrixServerReturn,
  matrixStartStep,
  matrixVerifyStep,
} from "../../src/run/return-to-service.ts";

/**
 * Issue 14: which Matrix server an abort with return to service may start again, judged on what
 * every server of its matrix said (src/run/return-to-service.ts: G5, M9, M4, M3, M5).
 */
const matrix = {
  name: "mx",
  pack: "polyserve-matrix",
  version: "3.5.0",
  capacity: 1,
  estimates: {},
  filesystems: [{ name: "psfs1", mountedOn: ["srv1", "srv2", "srv3"] }],
  servers: [
    { name: "srv1", address: "10.10.1.1", version: "3.5.0", interfaces: [], capacity: 1 },
    { name: "srv2", address: "10.10.1.2", version: "3.5.0", interfaces: [], capacity: 1 },
    { name: "srv3", address: "10.10.1.10", version: "3.5.0", interfaces: [], capacity: 1 },
  ],
} as unknown as Cluster;
const srv = (name: string) => matrix.servers.find((s) => s.name === name)!;

const o = (
  server: string,
  state: ServerObservation["state"],
  release: string,
  extra = {},
): ServerObservation => ({
  server,
  cluster: "mx",
  state,
  release,
  mounts: state === "running" ? ["psfs1"] : [],
  ...extra,
});

describe("a Matrix server's return to service after an abort", () => {
  it("starts an old-release server while the matrix still runs that release (M4, M3)", () => {
    const v = matrixServerReturn(matrix, srv("srv3"), [
      o("srv1", "running", "3.5.0"),
      o("srv2", "running", "3.5.0"),
      o("srv3", "stopped", "3.5.0"),
    ]);
    expect(v).toMatchObject({ ok: true, returned: { server: "srv3", rules: ["M4", "M3", "M5"] } });
  });

  it("starts a new-release server at the top of the address order (M3)", () => {
    const v = matrixServerReturn(matrix, srv("srv3"), [
      o("srv1", "running", "3.5.0"),
      o("srv2", "running", "3.5.0"),
      o("srv3", "stopped", "3.5.1"),
    ]);
    expect(v).toMatchObject({ ok: true, returned: { server: "srv3", rules: ["M3", "M5"] } });
  });

  it("keeps a new-release server stopped below a running old-release one (M3)", () => {
    const v = matrixServerReturn(matrix, srv("srv2"), [
      o("srv1", "running", "3.5.0"),
      o("srv2", "stopped", "3.5.1"),
      o("srv3", "running", "3.5.0"),
    ]);
    expect(v).toMatchObject({ ok: false, left: { server: "srv2", rule: "M3" } });
    if (v && !v.ok) expect(v.left.reason).toContain("rollgate apply");
  });

  it("keeps an old-release server stopped above a running new-release one (M3)", () => {
    const v = matrixServerReturn(matrix, srv("srv3"), [
      o("srv1", "running", "3.5.0"),
      o("srv2", "running", "3.5.1"),
      o("srv3", "stopped", "3.5.0"),
    ]);
    expect(v).toMatchObject({ ok: false, left: { server: "srv3", rule: "M3" } });
  });

  it("keeps an old-release server stopped once no active server runs its release (M4)", () => {
    const v = matrixServerReturn(matrix, srv("srv1"), [
      o("srv1", "stopped", "3.5.0"),
      o("srv2", "running", "3.5.1"),
      o("srv3", "running", "3.5.1"),
    ]);
    expect(v).toMatchObject({ ok: false, left: { server: "srv1", rule: "M4" } });
  });

  it("keeps a server in the middle of its install stopped, saying what to do (M9)", () => {
    const v = matrixServerReturn(matrix, srv("srv3"), [
      o("srv1", "running", "3.5.0"),
      o("srv2", "running", "3.5.0"),
      o("srv3", "installing", "3.5.0", { lastInstall: { release: "3.5.1", result: "running" } }),
    ]);
    expect(v).toMatchObject({ ok: false, left: { server: "srv3", rule: "M9" } });
    if (v && !v.ok)
      expect(v.left.reason).toMatch(
        /install of 3\.5\.1.*rollgate fleet sync FLEET --write` then `rollgate apply FLEET --to VERSION`/,
      );
  });

  it("keeps an old-release server stopped whose filesystem is mounted only on newer servers (M5)", () => {
    const v = matrixServerReturn(matrix, srv("srv1"), [
      o("srv1", "stopped", "3.5.0"),
      o("srv2", "running", "3.5.0", { mounts: [] }),
      o("srv3", "running", "3.5.1"),
    ]);
    expect(v).toMatchObject({ ok: false, left: { server: "srv1", rule: "M5" } });
  });

  it("starts nothing unseen (G5) and leaves a running server alone", () => {
    expect(
      matrixServerReturn(matrix, srv("srv3"), [
        o("srv1", "unreachable", "3.5.0"),
        o("srv2", "running", "3.5.0"),
        o("srv3", "stopped", "3.5.0"),
      ]),
    ).toMatchObject({ ok: false, left: { rule: "G5" } });
    expect(
      matrixServerReturn(matrix, srv("srv3"), [
        o("srv1", "running", "3.5.0"),
        o("srv2", "running", "3.5.0"),
        o("srv3", "running", "3.5.0"),
      ]),
    ).toBeUndefined();
  });
});

describe("the steps an abort adds", () => {
  it("last as the fleet file's estimates say, else the pack's (the engine times them out against it)", () => {
    expect(matrixEnableStep(matrix, "srv1", "3.5.0")).toMatchObject({
      id: "mx/srv1/enable-on-abort",
      action: "enable",
      end: 60,
      rules: ["M9", "M7"],
    });
    const slow = { ...matrix, estimates: { enable: 600, start: 900 } } as Cluster;
    expect(matrixEnableStep(slow, "srv1", "3.5.0").end).toBe(600);
    expect(matrixStartStep(slow, "srv3", "3.5.0")).toMatchObject({ id: "mx/srv3/start-on-abort", end: 900 });
    expect(matrixVerifyStep(slow, "srv3", "3.5.0")).toMatchObject({ id: "mx/srv3/verify-on-abort", end: 60 });
  });
});
