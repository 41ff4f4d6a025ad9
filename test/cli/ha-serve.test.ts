import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Lab } from "../../src/lab/index.ts";
import { LISTEN_APPLICATION } from "../../src/store/pg-listen.ts";
import { BIN, REPO, runCli } from "../helpers/cli.ts";
import { type EngineProcess, labOf, startEngine } from "../helpers/engine.ts";
import { type PgServer, startPostgres } from "../helpers/postgres.ts";
import { budget, e2eTimeouts, waitFor } from "../helpers/wait.ts";

e2eTimeouts(240_000);

/**
 * `rollgate serve --state postgres://…` live on LISTEN/NOTIFY (docs/ha.md, docs/dashboard.md),
 * with the real CLI, the real lab and a real PostgreSQL: a leader (`apply`), a standby (`rollgate
 * engine`) and a serve process, three processes as three hosts would be. The server's safety-net
 * poll is set to an hour (ROLLGATE_SERVE_POLL_SECONDS), so every event a stream gets after it
 * opened was delivered by a NOTIFY (or by the catch-up after the LISTEN connection came back), not
 * by a poll. The stream shows the leader; the leader is killed (SIGKILL) and the stream shows the
 * standby that took over; the server's LISTEN connection is killed (pg_terminate_backend) and the
 * stream misses no event; pause and resume through the server's API act on the run the new leader
 * holds, which completes with every server installed once.
 */
const SPEED = 3000;
const LEASE_SECONDS = "2";

let server: PgServer | undefined;
let lab: Lab | undefined;
const children: ChildProcessWithoutNullStreams[] = [];
beforeAll(async () => {
  process.env.ROLLGATE_LEASE_SECONDS = LEASE_SECONDS;
  server = await startPostgres();
});
afterAll(() => {
  delete process.env.ROLLGATE_LEASE_SECONDS;
  server?.destroy();
});
afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.exitCode === null && c.signalCode === null) {
      c.kill("SIGKILL");
      await new Promise((r) => c.once("close", r));
    }
  }
  await lab?.stop();
  lab = undefined;
});

const engine = (args: string[]): EngineProcess => {
  const e = startEngine(args);
  children.push(e.child);
  return e;
};

interface Received {
  seq: number;
  type: string;
  at: string;
  /** When the frame reached the client (Date.now()). */
  got: number;
}
type Leader = { pid: number; host: string; since: string } | null;

/** An SSE client of /api/runs/:id/events, read with fetch (the page's way: token in a header). */
function follow(api: string, token: string, runId: string) {
  const events: Received[] = [];
  const leaders: Leader[] = [];
  const controller = new AbortController();
  const done = (async () => {
    const res = await fetch(new URL(`/api/runs/${runId}/events`, api), {
      headers: { authorization: `Bearer ${token}`, accept: "text/event-stream" },
      signal: controller.signal,
    });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let buf = "";
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      buf += decoder.decode(value, { stream: true });
      let i = buf.indexOf("\n\n");
      while (i >= 0) {
        const lines = buf.slice(0, i).split("\n");
        buf = buf.slice(i + 2);
        const kind = lines
          .find((l) => l.startsWith("event:"))
          ?.slice(6)
          .trim();
        const data = lines
          .find((l) => l.startsWith("data:"))
          ?.slice(5)
          .trim();
        if (data && kind === "leader") leaders.push((JSON.parse(data) as { engine: Leader }).engine);
        else if (data) {
          const e = JSON.parse(data) as { seq: number; type: string; at: string };
          events.push({ seq: e.seq, type: e.type, at: e.at, got: Date.now() });
        }
        i = buf.indexOf("\n\n");
      }
    }
  })().catch(() => undefined);
  return { events, leaders, stop: () => controller.abort(), done };
}

/** `rollgate serve` on the database, its safety-net poll an hour long, so that only NOTIFY can deliver. */
async function startServe(url: string) {
  const serve = spawn(process.execPath, [BIN, "serve", "--port", "0", "--json", "--state", url], {
    cwd: REPO,
    env: { ...process.env, NO_COLOR: "1", ROLLGATE_SERVE_POLL_SECONDS: "3600" },
  });
  children.push(serve);
  let out = "";
  let err = "";
  serve.stdout.on("data", (d) => (out += d));
  serve.stderr.on("data", (d) => (err += d));
  const { url: api } = await waitFor(
    () => (out.includes("\n") ? (JSON.parse(out.split("\n")[0]!) as { url: string }) : undefined),
    { what: `rollgate serve's url (${err})` },
  );
  await waitFor(
    async () =>
      (await sql(url, "SELECT pid FROM pg_stat_activity WHERE application_name = $1", [LISTEN_APPLICATION]))
        .length === 1,
    { what: "the server's LISTEN connection" },
  );
  return { serve, api };
}

async function sql<T extends pg.QueryResultRow>(url: string, text: string, params: unknown[] = []) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(text, params)).rows;
  } finally {
    await c.end();
  }
}

describe("rollgate serve on PostgreSQL: live by LISTEN/NOTIFY, the leader shown, controls from another process", () => {
  it("events arrive by NOTIFY; the takeover shows; a killed LISTEN connection loses nothing; pause/resume act on the new leader", async () => {
    const url = await server!.createDb("rg_serve_1");
    const t = await labOf("dma-supercluster", SPEED);
    lab = t.lab;
    const made = await runCli(["token", "create", "--role", "operator", "--state", url]);
    expect(made.code, made.stderr).toBe(0);
    const token = made.stdout.trim().split("\n").at(-1)!.trim();

    const leader = engine([
      ...["apply", t.fleet, "--to", "10.1.0", "--strategy", "incremental"],
      ...["--yes", "--confirm-finalize", "--json", "--state", url],
    ]);
    await leader.afterLine(1);
    const standby = engine(["engine", "--state", url, "--confirm-finalize", "--json"]);
    await waitFor(() => standby.stderr().includes("waiting as a standby"), {
      what: `the standby to wait (${standby.stderr()})`,
    });

    const { serve, api } = await startServe(url);
    const runId = (await sql<{ id: string }>(url, "SELECT id FROM runs"))[0]!.id;
    const stream = follow(api, token, runId);
    // the API names the leader
    const detail = (await (
      await fetch(new URL(`/api/runs/${runId}`, api), { headers: { authorization: `Bearer ${token}` } })
    ).json()) as { engine: Leader };
    expect(detail.engine?.pid).toBe(leader.child.pid);
    await waitFor(() => stream.events.length > 0, { what: "the backlog" });
    const openedAfter = stream.events.at(-1)!.seq;

    // the leader killed: the stream shows the standby once it took over (a lease change NOTIFYs)
    await leader.afterLine(20);
    leader.child.kill("SIGKILL");
    await leader.exited;
    await waitFor(() => stream.leaders.at(-1)?.pid === standby.child.pid, {
      what: `the standby (pid ${standby.child.pid}) as leader on the stream: ${JSON.stringify(stream.leaders)}`,
      timeoutMs: 30_000,
    });
    const leaderShown = stream.leaders.at(-1)!;
    const lease = await sql<{ acquired_at: Date; epoch: string }>(
      url,
      "SELECT acquired_at, epoch FROM leases WHERE run_id = $1",
      [runId],
    );
    expect(Number(lease[0]!.epoch)).toBe(2);
    expect(leaderShown.since).toBe(new Date(lease[0]!.acquired_at).toISOString());

    // the server's LISTEN connection killed by the database: it reconnects and catches up
    const seen = stream.events.length;
    const killed = await sql<{ ok: boolean }>(
      url,
      "SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1",
      [LISTEN_APPLICATION],
    );
    expect(killed.map((k) => k.ok)).toEqual([true]);
    await waitFor(
      async () =>
        (await sql(url, "SELECT pid FROM pg_stat_activity WHERE application_name = $1", [LISTEN_APPLICATION]))
          .length === 1,
      { what: "the server's LISTEN connection back" },
    );
    await waitFor(() => stream.events.length > seen, {
      what: "events after the LISTEN connection came back",
    });

    // pause and resume through this server's API: the standby, now the leader, obeys
    const act = async (what: string) => {
      const r = await fetch(new URL(`/api/runs/${runId}/${what}`, api), {
        method: "POST",
        headers: { authorization: `Bearer ${token}` },
      });
      const body = (await r.json()) as { engine: Leader; state: string };
      expect(r.status, JSON.stringify(body)).toBe(200);
      return body;
    };
    const paused = await act("pause");
    expect(paused.engine?.pid).toBe(standby.child.pid);
    await waitFor(() => stream.events.some((e) => e.type === "run.state" && e.seq > openedAfter), {
      what: "the pause on the stream",
    });
    const resumed = await act("resume");
    expect(resumed.state).toBe("running");
    expect(await standby.exited, standby.stderr()).toBe(0);

    // every server installed exactly once, no rule broken (the lab's own journal)
    const status = t.lab.status();
    expect(status.violations).toEqual([]);
    for (const s of status.servers) expect(status.installs[s.name], s.name).toBe(1);

    // the stream has every journal row of the run, in order, once: nothing missed across the kill
    const rows = await sql<{ seq: string }>(url, "SELECT seq FROM events WHERE run_id = $1 ORDER BY seq", [
      runId,
    ]);
    const all = rows.map((r) => Number(r.seq));
    await waitFor(() => stream.events.at(-1)?.seq === all.at(-1), {
      what: `the last event (${all.at(-1)}) on the stream (${stream.events.at(-1)?.seq})`,
    });
    expect(stream.events.map((e) => e.seq)).toEqual(all);
    const states = (
      await sql<{ body_json: string }>(
        url,
        "SELECT body_json FROM events WHERE run_id = $1 AND type = 'run.state' ORDER BY seq",
        [runId],
      )
    ).map((r) => (JSON.parse(r.body_json) as { state: string }).state);
    expect(states).toContain("paused");
    expect(states.at(-1)).toBe("completed");

    // NOTIFY delivered them: with no poll for an hour, each event that came after the stream opened
    // reached it within a short deadline of its write (the catch-up after the LISTEN kill included)
    const live = stream.events.filter((e) => e.seq > openedAfter);
    expect(live.length).toBeGreaterThan(20);
    const late = live.map((e) => e.got - Date.parse(e.at)).sort((a, b) => a - b);
    expect(late.at(-1), `latencies ms ${late.join(",")}`).toBeLessThan(budget(3_000));
    expect(late[Math.floor(late.length / 2)], `latencies ms ${late.join(",")}`).toBeLessThan(budget(500));
    stream.stop();
    serve.kill("SIGINT");
    await new Promise((r) => serve.once("close", r));
  });

  it("a leader that dies with no standby stops showing once its lease runs out, with no poll and no notification", async () => {
    const url = await server!.createDb("rg_serve_2");
    const t = await labOf("dma-supercluster", SPEED);
    lab = t.lab;
    const made = await runCli(["token", "create", "--role", "viewer", "--state", url]);
    expect(made.code, made.stderr).toBe(0);
    const token = made.stdout.trim().split("\n").at(-1)!.trim();
    const leader = engine([
      ...["apply", t.fleet, "--to", "10.1.0", "--strategy", "incremental"],
      ...["--yes", "--confirm-finalize", "--json", "--state", url],
    ]);
    await leader.afterLine(1);
    const { serve, api } = await startServe(url);
    const runId = (await sql<{ id: string }>(url, "SELECT id FROM runs"))[0]!.id;
    const stream = follow(api, token, runId);
    await waitFor(() => stream.events.length > 0, { what: "the backlog" });
    const shown = (await (
      await fetch(new URL(`/api/runs/${runId}`, api), { headers: { authorization: `Bearer ${token}` } })
    ).json()) as { engine: Leader };
    expect(shown.engine?.pid).toBe(leader.child.pid);

    // killed: nothing renews the lease, nothing notifies, no poll for an hour; the server reads
    // the leader again when the lease it showed runs out
    await leader.afterLine(10);
    leader.child.kill("SIGKILL");
    await leader.exited;
    const killedAt = Date.now();
    await waitFor(() => stream.leaders.includes(null), {
      what: `no engine on the stream: ${JSON.stringify(stream.leaders)}`,
      timeoutMs: 30_000,
    });
    // within the lease (2 s after the last renewal, at most 2 s before the kill) and a little
    expect(Date.now() - killedAt).toBeLessThan(budget(2 * Number(LEASE_SECONDS) * 1000 + 1_000));
    const after = (await (
      await fetch(new URL(`/api/runs/${runId}`, api), { headers: { authorization: `Bearer ${token}` } })
    ).json()) as { engine: Leader };
    expect(after.engine).toBeNull();
    stream.stop();
    serve.kill("SIGINT");
    await new Promise((r) => serve.once("close", r));
  });
});
