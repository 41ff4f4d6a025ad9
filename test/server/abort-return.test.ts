import { hostname } from "node:os";
import { describe, expect, it } from "vitest";
import { createToken } from "../../src/server/auth.ts";
import { e2eTimeouts } from "../helpers/wait.ts";
import { errorOf, fixture } from "./helpers.ts";

e2eTimeouts(60_000);

/**
 * Issue 14: the API's abort takes `{ "returnToService": true }`, as the CLI's
 * `abort --return-to-service` (run/control.ts abortRun): validated (400
 * ROLLGATE_E_API_BAD_REQUEST), for operators only, a run-scoped token only on its run (403
 * ROLLGATE_E_API_OUT_OF_SCOPE). Real server on loopback, real state file.
 */
let f: Awaited<ReturnType<typeof fixture>> | undefined;

const json = (body: string, token: string) => ({
  token,
  method: "POST",
  headers: { "content-type": "application/json" },
  body,
});

/** What the run's journal says the abort asked for. */
const asked = async () =>
  (await f!.store.events(f!.run.id))
    .filter((e) => e.type === "abort.requested")
    .map((e) => (e.type === "abort.requested" ? e.returnToService : undefined));

describe("the API's abort with return to service", () => {
  it("refuses a body that is not { returnToService: boolean } with 400 ROLLGATE_E_API_BAD_REQUEST, aborting nothing", async () => {
    f = await fixture();
    await f.store.setState(f.run.id, "running", "test");
    const path = `/api/runs/${f.run.id}/abort`;
    for (const body of [
      "null",
      "[true]",
      '"yes"',
      '{"returnToService":"yes"}',
      '{"returnToService":1}',
      '{"rts":true}',
      "{not json",
    ]) {
      const res = await f.api(path, json(body, f.operator));
      expect(res.status, body).toBe(400);
      expect((await errorOf(res)).code, body).toBe("ROLLGATE_E_API_BAD_REQUEST");
    }
    expect((await f.store.getRun(f.run.id))!.state).toBe("running");
    expect(await asked()).toEqual([]);
  });

  it("names what is wrong with a body: a field __proto__ is an unknown field, not JSON that does not parse", async () => {
    f = await fixture();
    await f.store.setState(f.run.id, "running", "test");
    const path = `/api/runs/${f.run.id}/abort`;
    for (const body of [
      '{"__proto__":{"returnToService":true}}',
      '{"returnToService":true,"__proto__":{}}',
    ]) {
      const res = await f.api(path, json(body, f.operator));
      expect(res.status, body).toBe(400);
      const err = await errorOf(res);
      expect(err.code, body).toBe("ROLLGATE_E_API_BAD_REQUEST");
      expect(err.message, body).toMatch(/unknown field __proto__/);
      expect(err.message, body).not.toMatch(/not valid JSON/i);
    }
    const nested = await f.api(path, json('{"a":{"constructor":{"prototype":{}}}}', f.operator));
    expect((await errorOf(nested)).message).toMatch(/unknown field a\.constructor\.prototype/);
    const broken = await f.api(path, json("{not json", f.operator));
    expect((await errorOf(broken)).message).toMatch(/not valid JSON/);
    const empty = await f.api(path, json("", f.operator));
    expect(empty.status).toBe(400);
    expect((await errorOf(empty)).message).toMatch(/body is empty/);
    expect((await f.store.getRun(f.run.id))!.state).toBe("running");
    expect(await asked()).toEqual([]);
  });

  it("a viewer is refused (403); a token scoped to another run is refused (403 ROLLGATE_E_API_OUT_OF_SCOPE)", async () => {
    f = await fixture();
    await f.store.setState(f.run.id, "running", "test");
    const path = `/api/runs/${f.run.id}/abort`;
    const viewer = await f.api(path, json('{"returnToService":true}', f.viewer));
    expect(viewer.status).toBe(403);
    expect((await errorOf(viewer)).code).toBe("ROLLGATE_E_API_FORBIDDEN");
    const scoped = (await createToken(f.store, "operator", { run: "run-another" })).token;
    const out = await f.api(path, json('{"returnToService":true}', scoped));
    expect(out.status).toBe(403);
    expect((await errorOf(out)).code).toBe("ROLLGATE_E_API_OUT_OF_SCOPE");
    expect((await f.store.getRun(f.run.id))!.state).toBe("running");
    expect(await asked()).toEqual([]);
  });

  it("an operator (or the run's own scoped token) aborts with return to service: journaled for the engine, the run aborting", async () => {
    f = await fixture();
    await f.store.setState(f.run.id, "escalated", "test");
    // no engine alive: the run stays aborting until one drives the return (the server runs none)
    const scoped = (await createToken(f.store, "operator", { run: f.run.id })).token;
    const res = await f.api(`/api/runs/${f.run.id}/abort`, json('{"returnToService":true}', scoped));
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toMatchObject({ ok: true, state: "aborting", returnToService: true, engine: null });
    // the commands that drive the return, on this run's fleet file and state file
    expect(body.message).toContain(
      `\`rollgate abort ${f.run.fleetFile} --return-to-service --state ${f.statePath} --run ${f.run.id}\` or \`rollgate resume ${f.run.fleetFile} --state ${f.statePath} --run ${f.run.id}\``,
    );
    expect(await asked()).toEqual([true]);
    expect((await f.store.getRun(f.run.id))!.state).toBe("aborting");
  });

  it("without a body (or with false) it is a plain abort, as before", async () => {
    f = await fixture();
    await f.store.setState(f.run.id, "running", "test");
    await f.store.acquireEngineLock("seed-matrix", { pid: process.pid, host: hostname() });
    const res = await f.api(`/api/runs/${f.run.id}/abort`, json('{"returnToService":false}', f.operator));
    expect(await res.json()).toMatchObject({ ok: true, state: "aborting", returnToService: false });
    expect(await asked()).toEqual([false]);
    await f.store.releaseEngineLock("seed-matrix", process.pid);
  });
});
