import { spawn } from "node:child_process";
import { connect, createServer, type Server } from "node:net";
import pg from "pg";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { Lab } from "../../src/lab/index.ts";
import { REPO } from "../helpers/cli.ts";
import { type EngineProcess, labOf, startEngine } from "../helpers/engine.ts";
import { BRIDGE_ADDRESS, makeHosts, netnsUnavailable, type TestHosts } from "../helpers/netns.ts";
import { type PgServer, postgresAvailable, startPostgres } from "../helpers/postgres.ts";
import { e2eTimeouts, waitFor } from "../helpers/wait.ts";

e2eTimeouts(240_000);

/**
 * Two engines on two "hosts" (docs/ha.md), cut off by the network instead of killed. Each host is
 * a network namespace of the test's own (test/helpers/netns.ts) with its own host name, joined to
 * the root namespace by a veth pair on a bridge. The subnet, 10.200.0.0/24, exists only inside
 * this machine: the issue allows veth pairs for this two-host test, and no address off the
 * machine is ever used.
 *
 * - PostgreSQL listens on 127.0.0.1 and on the bridge's address 10.200.0.1; the engines' --state
 *   names the bridge address.
 * - The lab binds loopback only, as always. Each namespace has its own loopback, so each host runs
 *   a relay (test/fixtures/tcp-relay.mjs) listening on the lab's loopback addresses and ports
 *   inside the namespace, piping to a relay of this process on the bridge address, which pipes to
 *   the lab. The engines see the lab's derived fleet file unchanged (the same fleet, the same
 *   addresses) and reach it only across their link.
 *
 * The leader's link is taken down the moment it prints that a server accepted an install (it
 * observes that install then: no action of its own is in flight on the link). The standby takes
 * the lease and finishes the run; every server is installed exactly once (the lab's journal). The
 * link brought back, the old leader performs nothing and exits 4 with ROLLGATE_E_LEASE_LOST.
 */
const SPEED = 1500;
const unavailable = !postgresAvailable()
  ? "PostgreSQL's initdb/pg_ctl are not installed"
  : netnsUnavailable();

let server: PgServer | undefined;
let hosts: TestHosts | undefined;
let lab: Lab | undefined;
const relays: Server[] = [];
const children: EngineProcess["child"][] = [];

beforeAll(async () => {
  if (unavailable) return;
  hosts = makeHosts(["a", "b"]);
  server = await startPostgres({ listen: [BRIDGE_ADDRESS] });
});
afterAll(() => {
  server?.destroy();
  hosts?.destroy();
});
afterEach(async () => {
  for (const c of children.splice(0))
    if (c.exitCode === null && c.signalCode === null) {
      c.kill("SIGKILL");
      await new Promise((r) => c.once("close", r));
    }
  for (const r of relays.splice(0)) r.close();
  await lab?.stop();
  lab = undefined;
});

/** A relay of this process: BRIDGE_ADDRESS:<free port> piped to host:port (the lab, on loopback). */
function rootRelay(host: string, port: number): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer((c) => {
      const u = connect(port, host);
      c.pipe(u);
      u.pipe(c);
      const end = () => {
        c.destroy();
        u.destroy();
      };
      for (const x of [c, u]) {
        x.on("error", end);
        x.on("close", end);
      }
    });
    relays.push(s);
    s.listen(0, BRIDGE_ADDRESS, () => resolve((s.address() as { port: number }).port));
  });
}

/** The lab's endpoints (its control address and each appliance), as host and port. */
function endpoints(l: Lab): { host: string; port: number }[] {
  const urls = [l.controlUrl, ...l.status().servers.map((s) => s.url)];
  return [...new Set(urls.map((u) => new URL(u).host))].map((h) => {
    const u = new URL(`http://${h}`);
    return { host: u.hostname, port: Number(u.port) };
  });
}

async function journal(url: string) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query("SELECT seq, epoch, type FROM events ORDER BY seq")).rows.map((r) => ({
      seq: Number(r.seq),
      epoch: r.epoch === null ? null : Number(r.epoch),
      type: r.type as string,
    }));
  } finally {
    await c.end();
  }
}

describe.skipIf(unavailable !== undefined)(
  `two engines in two network namespaces${unavailable ? ` (skipped: ${unavailable})` : ""}`,
  () => {
    it("the leader's link cut: the standby takes over and finishes, each server installed once; the link back, the old leader performs nothing and exits 4 (ROLLGATE_E_LEASE_LOST)", async () => {
      const local = await server!.createDb("rg_netns_1");
      const url = local.replace("127.0.0.1", BRIDGE_ADDRESS);
      const t = await labOf("matrix-seed", SPEED);
      lab = t.lab;
      const map: string[] = [];
      for (const e of endpoints(t.lab))
        map.push(`${e.host}:${e.port}=${BRIDGE_ADDRESS}:${await rootRelay(e.host, e.port)}`);
      // each host's relay, in its namespace, on the lab's own loopback addresses there
      for (const h of ["a", "b"]) {
        const argv = hosts!.on(h, [process.execPath, `${REPO}/test/fixtures/tcp-relay.mjs`, ...map]);
        const relay = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
        children.push(relay as unknown as EngineProcess["child"]);
        let out = "";
        relay.stdout.on("data", (d) => (out += d));
        await waitFor(() => out.includes("ready"), { what: `host ${h}'s relay` });
      }
      const env = { ROLLGATE_LEASE_SECONDS: "2" };
      const leader = startEngine(
        ["apply", t.fleet, "--to", "3.5.1", "--yes", "--confirm-finalize", "--json", "--state", url],
        { wrap: (a) => hosts!.on("a", a), env },
      );
      children.push(leader.child);
      // stopped from the same stdout chunk, no polling: the link goes down while the leader
      // observes an install it started, not while a request of its own crosses the link
      let cut = false;
      let armed = false;
      let buf = "";
      leader.child.stdout.on("data", (d: Buffer) => {
        buf += d.toString();
        const lines = buf.split("\n");
        buf = lines.pop()!;
        for (const line of lines) {
          let e: { type?: string; step?: string } = {};
          try {
            e = JSON.parse(line) as typeof e;
          } catch {
            continue;
          }
          if (armed && !cut && e.type === "step.accepted" && e.step?.endsWith("/install")) {
            cut = true;
            hosts!.cut("a");
          }
        }
      });
      await leader.afterLine(1);
      const standby = startEngine(["engine", "--state", url, "--confirm-finalize", "--json"], {
        wrap: (a) => hosts!.on("b", a),
        env,
      });
      children.push(standby.child);
      await waitFor(() => standby.stderr().includes("waiting as a standby"), {
        what: `the standby to wait (${standby.stderr()})`,
      });
      expect(standby.stderr()).toContain("rg-host-a");
      // both hosts reach the database across their own link, from their own address
      await waitFor(
        async () => {
          const c = new pg.Client({ connectionString: local });
          await c.connect();
          try {
            const r = await c.query(
              "SELECT DISTINCT host(client_addr) AS a FROM pg_stat_activity WHERE datname = current_database()",
            );
            const seen = r.rows.map((x) => x.a as string);
            return seen.includes(hosts!.address.a!) && seen.includes(hosts!.address.b!);
          } finally {
            await c.end();
          }
        },
        { what: "both hosts' connections to the database" },
      );
      armed = true;
      await waitFor(() => cut, { what: `an install accepted (${leader.stderr()})`, timeoutMs: 60_000 });

      // the standby, on the other host, takes over and finishes the run
      expect(await standby.exited, standby.stderr()).toBe(0);
      const status = t.lab.status();
      expect(status.violations).toEqual([]);
      for (const s of status.servers) {
        expect(status.installs[s.name], s.name).toBe(1);
        expect(s.state, s.name).toBe("running");
      }
      const actions = () =>
        t.lab.world.journal.entries(0, Number.MAX_SAFE_INTEGER).filter((e) => e.kind === "action").length;
      const before = actions();
      expect(leader.child.exitCode, "the cut-off leader is still alive").toBe(null);

      // its link back: the old leader performs nothing and stops on the fence
      hosts!.restore("a");
      const code = await leader.exited;
      expect(code, leader.stderr()).toBe(4);
      expect(leader.stderr()).toContain("ROLLGATE_E_LEASE_LOST");
      expect(leader.stderr()).toContain("rg-host-b");
      expect(leader.stderr()).not.toMatch(/\n\s+at /);
      expect(actions(), "actions the lab saw after the old leader came back").toBe(before);
      for (const s of t.lab.status().servers) expect(t.lab.status().installs[s.name], s.name).toBe(1);
      const rows = await journal(local);
      const firstNew = rows.find((r) => r.epoch === 2)!.seq;
      expect(rows.filter((r) => r.epoch === 1 && r.seq > firstNew)).toEqual([]);
      expect(rows.at(-1)?.type).toBe("run.state");
    });
  },
);
