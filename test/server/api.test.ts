import { readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { hashToken } from "../../src/server/auth.ts";
import { waitFor, e2eTimeouts } from "../helpers/wait.ts";
import { errorOf, fixture, readSse } from "./helpers.ts";

e2eTimeouts(60_000);

let f: Awaited<ReturnType<typeof fixture>> | undefined;

describe("the API (fastify on loopback, a real state file)", () => {
  it("answers 401 without a token or with a wrong one, as JSON with a code", async () => {
    f = await fixture();
    for (const token of [null, "rg_nope_nope", f.viewer.slice(0, -1)]) {
      const res = await f.api("/api/runs", { token });
      expect(res.status).toBe(401);
      expect(await errorOf(res)).toMatchObject({ code: "ROLLGATE_E_API_UNAUTHORIZED" });
    }
    const basic = await f.api("/api/runs", { token: null, headers: { authorization: `Basic ${f.viewer}` } });
    expect(basic.status).toBe(401);
    expect((await f.api("/metrics", { token: null })).status).toBe(401);
    // the health check is open; the page itself carries no data
    expect((await f.api("/api/health", { token: null })).status).toBe(200);
  });

  it("lists runs and serves a run, its plan, its events and the fleet to a viewer", async () => {
    f = await fixture();
    const runs = await (await f.api("/api/runs")).json();
    expect(runs).toMatchObject({ runs: [{ id: f.run.id, fleet: "seed-matrix", state: "pending" }] });
    const run = await (await f.api(`/api/runs/${f.run.id}`)).json();
    expect(run).toMatchObject({
      run: { id: f.run.id },
      progress: { done: 0, total: 18 },
      capacity: { floor: expect.any(Number), now: 1 },
    });
    expect(run.capacity.planned.length).toBeGreaterThan(1);
    const plan = await (await f.api(`/api/runs/${f.run.id}/plan`)).json();
    expect(plan.plan.steps).toHaveLength(18);
    const events = await (await f.api(`/api/runs/${f.run.id}/events`)).json();
    expect(events.events[0]).toMatchObject({ type: "run.created", seq: expect.any(Number) });
    const fleet = await (await f.api("/api/fleet")).json();
    expect(fleet).toMatchObject({ fleet: "seed-matrix", run: f.run.id });
    expect(fleet.clusters[0].servers.map((s: { name: string }) => s.name).sort()).toEqual([
      "srv1",
      "srv2",
      "srv3",
    ]);
    expect((await (await f.api("/api/whoami")).json()).token.role).toBe("viewer");
  });

  it("answers 404 for an unknown run or endpoint and 400 for bad input, with codes", async () => {
    f = await fixture();
    for (const path of [
      "/api/runs/run-nope",
      "/api/runs/run-nope/plan",
      "/api/runs/run-nope/events",
      "/api/nope",
    ]) {
      const res = await f.api(path);
      expect(res.status, path).toBe(404);
      expect((await errorOf(res)).code).toBe("ROLLGATE_E_API_NOT_FOUND");
    }
    const op = { token: f.operator, method: "POST" };
    expect((await f.api("/api/runs/run-nope/pause", op)).status).toBe(404);
    const bad = [
      await f.api(`/api/runs/${f.run.id}/events?after=abc`),
      await f.api(`/api/runs/${f.run.id}/events`, { headers: { "last-event-id": "-1" } }),
      await f.api(`/api/runs/${f.run.id}/confirm`, {
        ...op,
        headers: { "content-type": "application/json" },
        body: "{not json",
      }),
      await f.api(`/api/runs/${f.run.id}/confirm`, {
        ...op,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ step: "matrix-a/srv3/install" }),
      }),
      await f.api(`/api/runs/${f.run.id}/confirm`, {
        ...op,
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ step: 42 }),
      }),
    ];
    for (const res of bad) {
      expect(res.status).toBe(400);
      expect((await errorOf(res)).code).toBe("ROLLGATE_E_API_BAD_REQUEST");
    }
  });

  it("a path that does not decode, or with a segment too long, is a 400 in the API's shape, on every route family", async () => {
    f = await fixture();
    const bad = "%E0%A4%A";
    const long = "r".repeat(200);
    const asked: Array<[string, string]> = [
      ["POST", `/api/runs/${bad}/abort`],
      ["POST", `/api/runs/${bad}/pause`],
      ["POST", `/api/runs/${bad}/confirm`],
      ["GET", `/api/runs/${bad}`],
      ["GET", `/api/runs/${bad}/plan`],
      ["GET", `/api/runs/${bad}/events`],
      ["GET", `/api/runs${bad}`],
      ["GET", `/api/fleet${bad}`],
      ["GET", `/api/health${bad}`],
      ["GET", `/metrics${bad}`],
      ["GET", `/${bad}`],
      ["GET", `/assets/${bad}.js`],
      ["POST", `/api/runs/${long}/abort`],
      ["POST", `/api/runs/${long}/confirm`],
    ];
    for (const [method, path] of asked) {
      for (const token of [f.operator, null]) {
        const res = await f.api(path, { method, token });
        expect(res.status, `${method} ${path}`).toBe(400);
        const body = (await res.json()) as { error: { code: string; message: string } };
        expect(body, `${method} ${path}`).toEqual({
          error: {
            code: "ROLLGATE_E_API_BAD_REQUEST",
            message: expect.stringMatching(/^the path is not valid/),
          },
        });
      }
    }
    // a GET with a segment too long falls through to the page's files: a 404 in the API's shape
    const longGet = await f.api(`/api/runs/${long}`);
    expect(longGet.status).toBe(404);
    expect(await errorOf(longGet)).toMatchObject({ code: "ROLLGATE_E_API_NOT_FOUND" });
    expect((await f.store.getRun(f.run.id))!.state).toBe("pending");
  });

  it("refuses a null body: confirm's body must be an object too", async () => {
    f = await fixture();
    const res = await f.api(`/api/runs/${f.run.id}/confirm`, {
      token: f.operator,
      method: "POST",
      headers: { "content-type": "application/json" },
      body: "null",
    });
    expect(res.status).toBe(400);
    expect((await errorOf(res)).code).toBe("ROLLGATE_E_API_BAD_REQUEST");
  });

  it("refuses a viewer's action (403); an operator pauses, resumes and aborts with the CLI's semantics", async () => {
    f = await fixture();
    const path = (a: string) => `/api/runs/${f!.run.id}/${a}`;
    for (const a of ["pause", "resume", "abort", "confirm"]) {
      const res = await f.api(path(a), { method: "POST" });
      expect(res.status, a).toBe(403);
      expect((await errorOf(res)).code).toBe("ROLLGATE_E_API_FORBIDDEN");
    }
    expect((await f.store.getRun(f.run.id))!.state).toBe("pending");
    const op = { token: f.operator, method: "POST" };
    await f.store.setState(f.run.id, "running");
    const paused = await f.api(path("pause"), op);
    expect(paused.status).toBe(200);
    expect(await paused.json()).toMatchObject({ ok: true, state: "paused", engine: null });
    expect((await f.store.getRun(f.run.id))!.state).toBe("paused");
    // no engine drives the run: the server does not run one, and says what to do
    const refused = await f.api(path("resume"), op);
    expect(refused.status).toBe(409);
    const err = await errorOf(refused);
    expect(err.code).toBe("ROLLGATE_E_API_NO_ENGINE");
    expect(err.message).toContain("rollgate resume");
    // with an engine alive (this process holds the lock), resume hands it the word
    await f.store.acquireEngineLock("seed-matrix", {
      pid: process.pid,
      host: (await import("node:os")).hostname(),
    });
    const resumed = await f.api(path("resume"), op);
    expect(await resumed.json()).toMatchObject({ ok: true, state: "running", engine: { pid: process.pid } });
    const aborting = await f.api(path("abort"), op);
    expect(await aborting.json()).toMatchObject({ state: "aborting" });
    await f.store.releaseEngineLock("seed-matrix", process.pid);
    await f.store.setState(f.run.id, "aborted");
    const late = await f.api(path("pause"), op);
    expect(late.status).toBe(409);
    expect((await errorOf(late)).code).toBe("ROLLGATE_E_API_CONFLICT");
    const events = (await f.store.events(f.run.id)).filter((e) => e.type === "run.state");
    expect(events.map((e) => (e.type === "run.state" ? e.reason : ""))).toContainEqual(
      expect.stringMatching(/paused by an operator \(dashboard, token [0-9a-f]{8}\)/),
    );
  });

  it("confirms a point of no return by id, or every pending one by default, naming the token", async () => {
    f = await fixture();
    const op = { token: f.operator, method: "POST", headers: { "content-type": "application/json" } };
    const points = (await f.store.getPlan(f.run.id)).steps.filter((s) => s.pointOfNoReturn).map((s) => s.id);
    expect(points.length).toBeGreaterThan(0);
    const one = await f.api(`/api/runs/${f.run.id}/confirm`, {
      ...op,
      body: JSON.stringify({ step: points[0] }),
    });
    expect(await one.json()).toMatchObject({ ok: true, confirmed: [points[0]] });
    const rest = await f.api(`/api/runs/${f.run.id}/confirm`, { ...op, body: "{}" });
    expect((await rest.json()).confirmed).toEqual(points.slice(1));
    expect((await f.store.getRun(f.run.id))!.confirmed.sort()).toEqual([...points].sort());
    const given = (await f.store.events(f.run.id)).find((e) => e.type === "confirmation.given");
    expect(given).toMatchObject({ by: expect.stringMatching(/^dashboard:[0-9a-f]{8}$/) });
  });

  it("streams events as SSE, resuming after Last-Event-ID, and pushes new ones as they are written", async () => {
    f = await fixture();
    for (let i = 0; i < 5; i++)
      await f.store.append(f.run.id, { type: "log", level: "info", message: `line ${i}` });
    const all = await f.store.events(f.run.id);
    const cut = all[2]!.seq;
    const res = await f.api(`/api/runs/${f.run.id}/events`, {
      headers: { accept: "text/event-stream", "last-event-id": String(cut) },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/event-stream/);
    let written = false;
    const { events, raw } = await readSse(res, (evs) => {
      if (evs.length === all.length - 3 && !written) {
        written = true;
        // the SQLite store writes within the call; the stream's next poll sends it
        void f!.store.append(f!.run.id, { type: "log", level: "warn", message: "late" });
      }
      return evs.some((e) => e.data.type === "log" && e.data.message === "late");
    });
    expect(events[0]!.id).toBe(String(cut + 1));
    expect(events.map((e) => Number(e.id))).toEqual(events.map((e) => e.data.seq));
    expect(events.map((e) => e.data.seq)).toEqual([...all.slice(3).map((e) => e.seq), all.at(-1)!.seq + 1]);
    expect(events.every((e) => e.event === e.data.type)).toBe(true);
    expect(raw).toMatch(/^retry: \d+\n\n/);
    // ?after= works for a sequence number too (never for a token)
    const viaQuery = await f.api(`/api/runs/${f.run.id}/events?after=${cut}`, {
      headers: { accept: "text/event-stream" },
    });
    const q = await readSse(viaQuery, (evs) => evs.length >= 1);
    expect(q.events[0]!.data.seq).toBe(cut + 1);
  });

  it("sends heartbeats on an idle stream", async () => {
    f = await fixture();
    const res = await f.api(`/api/runs/${f.run.id}/events`, {
      headers: { accept: "text/event-stream", "last-event-id": "999999" },
    });
    const reader = res.body!.getReader();
    const text = await waitFor(
      async () => {
        const c = await reader.read();
        const s = new TextDecoder().decode(c.value);
        return s.includes(": heartbeat") ? s : undefined;
      },
      { what: "a heartbeat", timeoutMs: 5000 },
    );
    expect(text).toContain(": heartbeat");
    await reader.cancel();
  });

  it("exposes Prometheus metrics to a token holder", async () => {
    f = await fixture();
    await f.store.setState(f.run.id, "running");
    await f.store.append(f.run.id, {
      type: "step.started",
      step: "matrix-a/srv3/disable",
      action: "disable",
      cluster: "matrix-a",
      server: "srv3",
    });
    await f.store.append(f.run.id, {
      type: "step.done",
      step: "matrix-a/srv3/disable",
      observed: false,
      seconds: 1,
    });
    await f.store.append(f.run.id, { type: "step.failed", step: "matrix-a/srv3/backup", message: "boom" });
    await f.store.append(f.run.id, {
      type: "observation",
      cluster: "matrix-a",
      server: "srv3",
      state: "running",
      release: "3.5.1",
    });
    const res = await f.api("/metrics");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const labels = `fleet="seed-matrix",run="${f.run.id}"`;
    expect(text).toContain(`rollgate_steps_done_total{${labels}} 1`);
    expect(text).toContain(`rollgate_steps_failed_total{${labels}} 1`);
    expect(text).toContain(`rollgate_run_state{${labels},state="running"} 1`);
    expect(text).toContain(`rollgate_run_state{${labels},state="paused"} 0`);
    expect(text).toMatch(new RegExp(`rollgate_capacity_fraction\\{${labels},domain="matrix-a"\\} 0\\.\\d+`));
    expect(text).toMatch(new RegExp(`rollgate_mixed_release_seconds\\{${labels},cluster="matrix-a"\\} \\d`));
    // every sample line belongs to a family declared with # TYPE, and parses as name{labels} value
    const declared = new Set([...text.matchAll(/^# TYPE (\S+) (counter|gauge)$/gm)].map((m) => m[1]));
    for (const line of text.split("\n").filter((l) => l && !l.startsWith("#"))) {
      const m = /^([a-z_]+)\{(?:[a-z_]+="(?:[^"\\]|\\.)*",?)*\} -?\d+(\.\d+)?(e-?\d+)?$/.exec(line);
      expect(m, line).not.toBeNull();
      expect(declared.has(m![1]), line).toBe(true);
    }
  });

  it("stores tokens hashed: no token appears in the state file", async () => {
    f = await fixture();
    await f.store.close();
    await f.server.close();
    const dir = dirname(f.statePath);
    const bytes = readdirSync(dir)
      .filter((n) => n.startsWith("state.db"))
      .map((n) => readFileSync(join(dir, n)).toString("latin1"))
      .join("");
    for (const t of [f.viewer, f.operator]) {
      expect(bytes).not.toContain(t);
      // the secret is everything after "rg_<id>_" (base64url: it may itself contain "_")
      expect(bytes).not.toContain(t.slice(t.indexOf("_", 3) + 1));
      expect(bytes).toContain(hashToken(t));
    }
  });
});

describe("serve FLEET over a state file that holds other fleets' runs", () => {
  it("opens on the named fleet's run, not the newest run of any fleet", async () => {
    const { createServer } = await import("../../src/server/index.ts");
    const { SqliteStore } = await import("../../src/store/sqlite.ts");
    const { createToken } = await import("../../src/server/auth.ts");
    const { loadFleetFile } = await import("../../src/io/fleet-loader.ts");
    const { planUpgrade } = await import("../../src/plan/planner.ts");
    const { fleetIdentity } = await import("../../src/run/identity.ts");
    const { REPO, tempDir } = await import("../helpers/cli.ts");
    const statePath = join(tempDir("rollgate-server-test-"), "state.db");
    const store = new SqliteStore(statePath);
    const start = async (file: string, to: string[]) => {
      const fleet = loadFleetFile(file);
      const plan = planUpgrade(fleet, { to });
      return await store.createRun({
        fleet: fleet.name,
        fleetFile: file,
        target: plan.target,
        plan,
        fleetId: fleetIdentity(fleet),
      });
    };
    const matrixFile = join(REPO, "examples", "matrix-seed.yaml");
    const matrix = await start(matrixFile, ["3.5.1"]);
    const dma = await start(join(REPO, "examples", "dma-supercluster.yaml"), ["10.1.0"]); // newer
    const token = (await createToken(store, "viewer")).token;
    const get = async (url: string) =>
      (await (await fetch(`${url}/api/runs`, { headers: { authorization: `Bearer ${token}` } })).json()) as {
        defaultRun: string | null;
      };
    const named = await createServer({ statePath, fleetFile: matrixFile, port: 0 });
    const any = await createServer({ statePath, port: 0 });
    try {
      expect((await get(named.url)).defaultRun).toBe(matrix.id);
      expect((await get(any.url)).defaultRun).toBe(dma.id);
    } finally {
      await named.close();
      await any.close();
      await store.close();
    }
  });
});
