import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { MAX_ANSWER_BYTES, send } from "../../src/drivers/http-client.ts";

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
});
