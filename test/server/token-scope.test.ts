import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadFleetFile } from "../../src/io/fleet-loader.ts";
import { planUpgrade } from "../../src/plan/planner.ts";
import { fleetIdentity } from "../../src/run/identity.ts";
import { createToken } from "../../src/server/auth.ts";
import { type Dashboard, startDashboard } from "../../src/server/dashboard.ts";
import type { RunRecord } from "../../src/store/types.ts";
import { REPO, runCli } from "../helpers/cli.ts";
import { e2eTimeouts } from "../helpers/wait.ts";
import { errorOf, fixture } from "./helpers.ts";

e2eTimeouts(60_000);

/**
 * Issue 14: the token an `apply --dashboard` mints is scoped to the run that command drives. In a
 * state file shared by several fleets' runs, it confirmed (G4) and paused another fleet's run, a
 * run no dashboard was ever opened for. Real server on loopback, real state file.
 */
let f: Awaited<ReturnType<typeof fixture>> | undefined;
let dash: Dashboard | undefined;
afterEach(async () => {
  await dash?.close();
  dash = undefined;
  await f?.close();
  f = undefined;
});

const DMA = join(REPO, "examples", "dma-supercluster.yaml");

/** The fixture's matrix run, plus a DMA run in the same state file halted at a point of no return. */
async function twoFleets() {
  f = await fixture();
  const fleet = loadFleetFile(DMA);
  const plan = planUpgrade(fleet, { to: ["10.1.0"], strategy: "auto" });
  const other = await f.store.createRun({
    fleet: fleet.name,
    fleetFile: DMA,
    target: plan.target,
    plan,
    fleetId: fleetIdentity(fleet),
  });
  const pnr = plan.steps.find((s) => s.pointOfNoReturn)!;
  expect(pnr).toBeDefined();
  await f.store.append(other.id, { type: "confirmation.needed", step: pnr.id, rule: "G4", reason: "test" });
  await f.store.setState(other.id, "awaiting-confirmation", "test");
  await f.store.setState(f.run.id, "running", "test");
  return { f, other, pnr: pnr.id };
}

const tokenOf = (link: string) => /#token=(\S+)$/.exec(link)![1]!;

describe("a dashboard's token steers and reads its own run only", () => {
  it("the token of one apply --dashboard cannot confirm, pause or read another fleet's run (403 ROLLGATE_E_API_OUT_OF_SCOPE)", async () => {
    const { f, other, pnr } = await twoFleets();
    dash = await startDashboard(f.store, { port: 0, runId: f.run.id });
    const token = tokenOf(dash.link);
    const api = (path: string, init: RequestInit = {}) =>
      fetch(`${dash!.server.url}${path}`, {
        ...init,
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      });
    // steering the other run: refused, and nothing written to it
    for (const action of ["confirm", "pause", "abort", "resume"]) {
      const res = await api(`/api/runs/${other.id}/${action}`, {
        method: "POST",
        body: JSON.stringify(action === "confirm" ? { step: pnr } : {}),
      });
      expect(res.status, action).toBe(403);
      const e = await errorOf(res);
      expect(e.code).toBe("ROLLGATE_E_API_OUT_OF_SCOPE");
      expect(e.message).toContain(f.run.id);
      expect(e.message).toContain(other.id);
    }
    const after = (await f.store.getRun(other.id)) as RunRecord;
    expect(after.confirmed).toEqual([]); // G4 not bypassed
    expect(after.state).toBe("awaiting-confirmation");
    expect((await f.store.events(other.id)).some((e) => e.type === "confirmation.given")).toBe(false);
    // reading the other run: refused too
    for (const path of [
      `/api/runs/${other.id}`,
      `/api/runs/${other.id}/plan`,
      `/api/runs/${other.id}/events`,
      `/api/fleet?run=${other.id}`,
    ]) {
      const res = await api(path);
      expect(res.status, path).toBe(403);
      expect((await errorOf(res)).code).toBe("ROLLGATE_E_API_OUT_OF_SCOPE");
    }
    // the list shows only its run, and opens on it
    const list = (await (await api("/api/runs")).json()) as { defaultRun: string; runs: { id: string }[] };
    expect(list.runs.map((r) => r.id)).toEqual([f.run.id]);
    expect(list.defaultRun).toBe(f.run.id);
    const fleet = (await (await api("/api/fleet")).json()) as { run: string };
    expect(fleet.run).toBe(f.run.id);
    const metrics = await (await api("/metrics")).text();
    expect(metrics).toContain(f.run.id);
    expect(metrics).not.toContain(other.id);
    // its own run: read and steered as before
    expect((await api(`/api/runs/${f.run.id}`)).status).toBe(200);
    const paused = await api(`/api/runs/${f.run.id}/pause`, { method: "POST", body: "{}" });
    expect(paused.status).toBe(200);
    expect((await f.store.getRun(f.run.id))?.state).toBe("paused");
    // an unscoped operator token still reaches every run of the state file
    const res = await fetch(`${dash.server.url}/api/runs/${other.id}/confirm`, {
      method: "POST",
      headers: { authorization: `Bearer ${f.operator}`, "content-type": "application/json" },
      body: JSON.stringify({ step: pnr }),
    });
    expect(res.status).toBe(200);
    expect((await f.store.getRun(other.id))?.confirmed).toEqual([pnr]);
  });

  it("an event stream of a scoped token is refused for another run", async () => {
    const { f, other } = await twoFleets();
    const t = await createToken(f.store, "viewer", { run: f.run.id });
    const res = await f.api(`/api/runs/${other.id}/events`, {
      token: t.token,
      headers: { accept: "text/event-stream" },
    });
    expect(res.status).toBe(403);
    expect((await errorOf(res)).code).toBe("ROLLGATE_E_API_OUT_OF_SCOPE");
    const own = await f.api(`/api/runs/${f.run.id}/events`, { token: t.token });
    expect(own.status).toBe(200);
  });

  it("token create --run scopes a token to one run (listed with it); an unknown run is refused, exit 2", async () => {
    const { f, other } = await twoFleets();
    const created = await runCli(
      ["token", "create", "--role", "operator", "--run", f.run.id, "--state", f.statePath, "--json"],
      { timeoutMs: 30_000 },
    );
    expect(created.code, created.stderr).toBe(0);
    const t = JSON.parse(created.stdout) as { id: string; token: string; run: string };
    expect(t.run).toBe(f.run.id);
    const who = await f.api("/api/whoami", { token: t.token });
    expect(await who.json()).toEqual({ token: { id: t.id, role: "operator", run: f.run.id } });
    const refused = await f.api(`/api/runs/${other.id}/pause`, { method: "POST", token: t.token });
    expect(refused.status).toBe(403);
    expect((await f.store.getRun(other.id))?.state).toBe("awaiting-confirmation");
    const listed = await runCli(["token", "list", "--state", f.statePath, "--json"], { timeoutMs: 30_000 });
    expect(JSON.parse(listed.stdout).tokens.find((x: { id: string }) => x.id === t.id)).toMatchObject({
      run: f.run.id,
    });
    const bad = await runCli(
      ["token", "create", "--role", "viewer", "--run", "nope", "--state", f.statePath],
      {
        timeoutMs: 30_000,
      },
    );
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("ROLLGATE_E_RUN_NOT_FOUND");
  }, 90_000);
});
