import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import {
  MAX_ANSWER_BYTES,
  MAX_GETS_IN_FLIGHT,
  MAX_IDLE_TOTAL,
  poolStats,
  send,
} from "../../src/drivers/http-client.ts";
import { waitFor } from "../helpers/wait.ts";

// The HTTP driver's client (src/drivers/http-client.ts) against real servers on 127.0.0.1.
const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

async function serve(handler: Parameters<typeof createServer>[1]): Promise<{ url: string; server: Server }> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

const GET = { method: "GET" as const, headers: {}, timeoutMs: 5000 };

describe("the HTTP driver's client", () => {
  it("keeps one connection per appliance alive: a hundred reads, one connection", async () => {
    let connections = 0;
    const { url, server } = await serve((_q, s) => s.end('{"state":"running"}'));
    server.on("connection", () => connections++);
    for (let i = 0; i < 100; i++)
      expect((await send(`${url}/v1/status`, GET)).text).toBe('{"state":"running"}');
    expect(connections).toBe(1);
  });

  it("follows a 307 with the method and the body, as the lab's control address asks", async () => {
    const seen: string[] = [];
    const target = await serve((q, s) => {
      let body = "";
      q.on("data", (c) => (body += c));
      q.on("end", () => {
        seen.push(`${q.method} ${q.url} ${body}`);
        s.end('{"ok":true}');
      });
    });
    const { url } = await serve((q, s) => {
      s.writeHead(307, { location: `${target.url}/at${q.url}`, "content-length": 0 });
      s.end();
    });
    const a = await send(`${url}/v1/actions/stop`, {
      method: "POST",
      headers: {},
      body: '{"x":1}',
      timeoutMs: 5000,
    });
    expect(a).toMatchObject({ status: 200, ok: true });
    expect(seen).toEqual(['POST /at/v1/actions/stop {"x":1}']);
  });

  it("a server that never answers: a TimeoutError after the time-out, counted from the start", async () => {
    const { url } = await serve(() => {});
    const t0 = performance.now();
    const e = await send(url, { ...GET, timeoutMs: 300 }).catch((x: Error) => x);
    expect((e as Error).name).toBe("TimeoutError");
    expect(performance.now() - t0).toBeGreaterThanOrEqual(290);
  });

  it("a refused connection rejects with the socket's code as the cause", async () => {
    const { url, server } = await serve(() => {});
    await new Promise((r) => server.close(r));
    servers.pop();
    const e = (await send(url, GET).catch((x: Error) => x)) as Error & { cause?: { code?: string } };
    expect(e.cause?.code).toBe("ECONNREFUSED");
  });

  it("an answer over the limit is no answer", async () => {
    const { url } = await serve((_q, s) => s.end("x".repeat(MAX_ANSWER_BYTES + 10)));
    const e = (await send(url, GET).catch((x: Error) => x)) as Error & { cause?: { message?: string } };
    expect(e.cause?.message).toMatch(/answer over/);
  });

  it("a GET whose kept-alive connection the server dropped is sent again on a new one", async () => {
    let n = 0;
    const { url, server } = await serve((_q, s) => s.end(String(++n)));
    expect((await send(url, GET)).text).toBe("1");
    // the server drops its idle connections behind the client's back
    server.closeIdleConnections();
    await new Promise((r) => setImmediate(r));
    expect((await send(url, GET)).text).toBe("2");
  });

  it("remembers a 308 (as the lab's control address answers): the next request goes straight to where it led", async () => {
    const seen: string[] = [];
    let asked = 0;
    const target = await serve((q, s) => {
      seen.push(`${q.method} ${q.url}`);
      s.end('{"ok":true}');
    });
    const { url } = await serve((q, s) => {
      asked++;
      s.writeHead(308, { location: `${target.url}/at${q.url}`, "content-length": 0 });
      s.end();
    });
    for (let i = 0; i < 3; i++) expect((await send(`${url}/v1/status`, GET)).ok).toBe(true);
    const post = { method: "POST" as const, headers: {}, body: "{}", timeoutMs: 5000 };
    expect((await send(`${url}/v1/actions/stop`, post)).ok).toBe(true);
    expect((await send(`${url}/v1/actions/stop`, post)).ok).toBe(true);
    // one redirect per URL, not per request; the method and the body are kept
    expect(asked).toBe(2);
    expect(seen).toEqual([
      "GET /at/v1/status",
      "GET /at/v1/status",
      "GET /at/v1/status",
      "POST /at/v1/actions/stop",
      "POST /at/v1/actions/stop",
    ]);
  });

  it("forgets a remembered redirect whose target fails: the next request asks the first address again", async () => {
    let asked = 0;
    const first = await serve((_q, s) => s.end("first"));
    const { url } = await serve((q, s) => {
      asked++;
      // the first time to a server that then goes away; afterwards it answers itself
      if (asked === 1) {
        s.writeHead(308, { location: `${first.url}${q.url}`, "content-length": 0 });
        s.end();
      } else s.end("itself");
    });
    expect((await send(`${url}/x`, GET)).text).toBe("first");
    first.server.closeAllConnections();
    await new Promise((r) => first.server.close(r));
    servers.splice(servers.indexOf(first.server), 1);
    const e = (await send(`${url}/x`, GET).catch((x: Error) => x)) as Error & { cause?: { code?: string } };
    expect(e.cause?.code).toBe("ECONNREFUSED");
    expect((await send(`${url}/x`, GET)).text).toBe("itself");
    expect(asked).toBe(2);
  });

  it("does not remember a temporary redirect (307), nor a 308 marked no-store", async () => {
    let asked = 0;
    const target = await serve((_q, s) => s.end("t"));
    const { url } = await serve((q, s) => {
      asked++;
      const status = q.url === "/temp" ? 307 : 308;
      s.writeHead(status, {
        location: `${target.url}${q.url}`,
        "content-length": 0,
        ...(status === 308 ? { "cache-control": "no-store" } : {}),
      });
      s.end();
    });
    for (let i = 0; i < 2; i++) {
      expect((await send(`${url}/temp`, GET)).text).toBe("t");
      expect((await send(`${url}/nostore`, GET)).text).toBe("t");
    }
    expect(asked).toBe(4);
  });

  it("holds at most MAX_IDLE_TOTAL idle connections across all appliances: the one idle longest is closed", async () => {
    // one origin per appliance, as a real fleet has: more appliances than the bound
    const n = MAX_IDLE_TOTAL + 40;
    const open = new Map<number, number>();
    const connections = new Map<number, number>();
    const urls: string[] = [];
    for (let i = 0; i < n; i++) {
      const { url, server } = await serve((_q, s) => s.end("{}"));
      server.on("connection", (c) => {
        open.set(i, (open.get(i) ?? 0) + 1);
        connections.set(i, (connections.get(i) ?? 0) + 1);
        c.on("close", () => open.set(i, open.get(i)! - 1));
      });
      urls.push(url);
    }
    for (const u of urls) expect((await send(`${u}/v1/status`, GET)).status).toBe(200);
    expect(poolStats().idle).toBeLessThanOrEqual(MAX_IDLE_TOTAL);
    // the appliances see the connections closed: no more open than the bound
    const openNow = () => [...open.values()].reduce((a, b) => a + b, 0);
    await waitFor(() => openNow() <= MAX_IDLE_TOTAL, {
      what: `at most ${MAX_IDLE_TOTAL} open (${openNow()})`,
    });
    // the first appliances' connections were the oldest: closed; the last one's is reused
    expect(open.get(0)).toBe(0);
    expect((await send(`${urls[0]}/v1/status`, GET)).status).toBe(200);
    expect(connections.get(0)).toBe(2);
    expect((await send(`${urls[n - 1]}/v1/status`, GET)).status).toBe(200);
    expect(connections.get(n - 1)).toBe(1);
  });

  it("holds at most MAX_GETS_IN_FLIGHT reads in flight across appliances; the rest wait; an action is not held", async () => {
    let inFlight = 0;
    let most = 0;
    const held: Array<() => void> = [];
    const hold = (_q: unknown, s: import("node:http").ServerResponse) => {
      inFlight += 1;
      most = Math.max(most, inFlight);
      held.push(() => {
        inFlight -= 1;
        s.end("{}");
      });
    };
    const origins = 6; // each below its agent's own bound of connections, together above the global one
    const perOrigin = Math.ceil((MAX_GETS_IN_FLIGHT + 88) / origins);
    const urls = [];
    for (let i = 0; i < origins; i++) urls.push((await serve(hold)).url);
    const reads = urls.flatMap((u) =>
      Array.from({ length: perOrigin }, () => send(`${u}/v1/status`, { ...GET, timeoutMs: 20_000 })),
    );
    await waitFor(() => inFlight === MAX_GETS_IN_FLIGHT, {
      what: `${MAX_GETS_IN_FLIGHT} reads held (${inFlight})`,
    });
    expect(poolStats().getsWaiting).toBe(origins * perOrigin - MAX_GETS_IN_FLIGHT);
    // an action goes while every read slot is taken
    const { url: actions } = await serve((_q, s) => s.end('{"accepted":true}'));
    const post = await send(`${actions}/v1/upgrade`, {
      method: "POST",
      headers: {},
      body: "{}",
      timeoutMs: 5000,
    });
    expect(post.status).toBe(200);
    // released, every read is answered, never more than the bound at once
    const releaseAll = () => {
      for (const r of held.splice(0)) r();
    };
    const pump = setInterval(releaseAll, 5);
    try {
      const answers = await Promise.all(reads);
      expect(answers.every((a) => a.status === 200)).toBe(true);
    } finally {
      clearInterval(pump);
    }
    expect(most).toBe(MAX_GETS_IN_FLIGHT);
    expect(poolStats().getsInFlight).toBe(0);
  });
});
