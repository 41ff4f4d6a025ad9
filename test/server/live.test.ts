import { afterEach, describe, expect, it } from "vitest";
import type { Lab } from "../../src/lab/index.ts";
import { planUpgrade } from "../../src/plan/planner.ts";
import { apply } from "../../src/run/apply.ts";
import { createToken } from "../../src/server/auth.ts";
import { createServer, type RunningServer } from "../../src/server/index.ts";
import { labOf } from "../helpers/engine.ts";
import { waitFor, e2eTimeouts } from "../helpers/wait.ts";
import { readSse } from "./helpers.ts";

e2eTimeouts(60_000);

let lab: Lab | undefined;
let server: RunningServer | undefined;
afterEach(async () => {
  await server?.close();
  await lab?.stop();
  server = lab = undefined;
});

describe("the API beside a real engine (lab, in-process apply, as --dashboard does)", () => {
  it("streams the run live; an operator pauses, resumes and confirms the point of no return", async () => {
    const t = await labOf("matrix-seed", 1500);
    lab = t.lab;
    let operator = "";
    let runId = "";
    const ready = new Promise<void>((resolve) => {
      void apply({
        fleetFile: t.fleet,
        targets: ["3.5.1"],
        strategy: "auto",
        yes: true,
        confirmFinalize: false,
        waitForConfirmation: true,
        planner: (fleet, to, strategy) => planUpgrade(fleet, { to, strategy }),
        onStore: async (store, run) => {
          server = await createServer({ statePath: store.location, port: 0, pollMs: 50 });
          operator = (await createToken(store, "operator")).token;
          runId = run.id;
          resolve();
        },
      }).then((r) => (finished = r.state));
    });
    let finished: string | undefined;
    await ready;
    const api = (path: string, init: RequestInit = {}) =>
      fetch(`${server!.url}${path}`, {
        ...init,
        headers: { authorization: `Bearer ${operator}`, "content-type": "application/json", ...init.headers },
      });
    const stream = await api(`/api/runs/${runId}/events`, { headers: { accept: "text/event-stream" } });
    // servers change release live, and the engine then waits at the point of no return (G4, M4)
    const { events } = await readSse(
      stream,
      (evs) => evs.some((e) => e.data.type === "confirmation.needed"),
      30_000,
    );
    expect(events.some((e) => e.data.type === "observation" && e.data.release === "3.5.1")).toBe(true);
    const needed = events.find((e) => e.data.type === "confirmation.needed")!.data as { step: string };
    expect(needed.step).toBe("matrix-a/srv1/stop");

    expect((await api(`/api/runs/${runId}/pause`, { method: "POST", body: "{}" })).status).toBe(200);
    const paused = await (await api(`/api/runs/${runId}`)).json();
    expect(paused.run.state).toBe("paused");
    expect(paused.engine).toMatchObject({ pid: process.pid });
    const resumed = await api(`/api/runs/${runId}/resume`, { method: "POST", body: "{}" });
    expect(await resumed.json()).toMatchObject({ state: "running" });

    const confirmed = await api(`/api/runs/${runId}/confirm`, {
      method: "POST",
      body: JSON.stringify({ step: needed.step }),
    });
    expect(await confirmed.json()).toMatchObject({ ok: true, confirmed: [needed.step] });
    await waitFor(() => finished, { what: "the run to end", timeoutMs: 30_000 });
    expect(finished).toBe("completed");
    const fleet = await (await api("/api/fleet")).json();
    expect(fleet.clusters[0].servers.every((s: { release: string }) => s.release === "3.5.1")).toBe(true);
    expect(t.lab.status().violations).toEqual([]);
    expect(t.lab.status().installs).toEqual({ srv1: 1, srv2: 1, srv3: 1 });
    const metrics = await (await api("/metrics")).text();
    expect(metrics).toContain(`rollgate_steps_done_total{fleet="seed-matrix",run="${runId}"} 18`);
  });
});
