import { request } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import { fixture } from "./helpers.ts";
import { e2eTimeouts } from "../helpers/wait.ts";

e2eTimeouts(60_000);

let f: Awaited<ReturnType<typeof fixture>> | undefined;
afterEach(async () => {
  await f?.close();
  f = undefined;
});

/**
 * One request with the path exactly as written (fetch and URL would normalize it), to the real
 * listening server. Reads at most 64 KiB of the body (an event stream never ends by itself).
 */
function raw(
  url: string,
  path: string,
  options: { method?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; body: string; headers: Record<string, unknown> }> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request(
      { host: hostname, port, path, method: options.method ?? "GET", headers: options.headers ?? {} },
      (res) => {
        let body = "";
        const done = () => {
          res.destroy();
          resolve({ status: res.statusCode ?? 0, body, headers: res.headers });
        };
        res.setEncoding("utf8");
        res.on("data", (d: string) => {
          body += d;
          if (body.length > 65_536 || body.includes("\n\n")) done();
        });
        res.on("end", done);
        res.on("error", reject);
      },
    );
    req.setTimeout(10_000, () => req.destroy(new Error(`${options.method ?? "GET"} ${path}: no answer`)));
    req.on("error", reject);
    req.end();
  });
}

describe("authentication on the matched route, deny by default (real HTTP on loopback)", () => {
  it("refuses every spelling of an API path, /metrics and the event stream without a token", async () => {
    f = await fixture();
    const id = f.run.id;
    const paths = [
      "/api/runs",
      "/%61pi/runs",
      "/%61%70%69/%72uns",
      "/api%2fruns",
      "/api%2Fruns",
      "//api/runs",
      "/api//runs",
      "/API/runs",
      "/Api/Runs",
      "/api/runs/",
      "/api/runs?x",
      "/api/runs?x=1&token=y",
      "/api/runs#frag",
      "/./api/runs",
      "/api/./runs",
      "/x/../api/runs",
      `/%61pi/runs/${id}`,
      `/api/runs/${id}/plan`,
      `/%61pi/runs/${id}/plan`,
      `/api/runs/${encodeURIComponent(id)}/%70lan`,
      "/api/fleet",
      "/%61pi/fleet",
      "/api/fleet?run=x",
      `/api/runs/${id}/events`,
      `/%61pi/runs/${id}/events`,
      "/api/whoami",
      "/metrics",
      "/%6detrics",
      "/metrics/",
      "/METRICS",
      "/metrics?x",
    ];
    for (const method of ["GET", "HEAD", "OPTIONS"]) {
      for (const path of paths) {
        for (const accept of ["application/json", "text/event-stream"]) {
          const res = await raw(f.server.url, path, { method, headers: { accept } });
          const what = `${method} ${path} (${accept}) → ${res.status} ${res.body.slice(0, 200)}`;
          // nothing of the state file without a token: 401, or 404 where no route matches
          expect([401, 404], what).toContain(res.status);
          expect(res.body, what).not.toContain(id);
          expect(res.body, what).not.toContain("seed-matrix");
          expect(res.body, what).not.toContain("rollgate_");
          expect(String(res.headers["content-type"] ?? ""), what).not.toContain("event-stream");
        }
      }
    }
    // the decoded spellings reach the API's routes, and those ask for a token
    for (const path of ["/%61pi/runs", `/%61pi/runs/${id}/plan`, "/%61pi/fleet", "/%6detrics"]) {
      const res = await raw(f.server.url, path);
      expect(res.status, path).toBe(401);
      expect(JSON.parse(res.body).error.code).toBe("ROLLGATE_E_API_UNAUTHORIZED");
    }
    const stream = await raw(f.server.url, `/%61pi/runs/${id}/events`, {
      headers: { accept: "text/event-stream" },
    });
    expect(stream.status).toBe(401);
    // with a token, the same spellings answer (so the 401s above are the token's doing)
    const auth = { authorization: `Bearer ${f.viewer}` };
    const ok = await raw(f.server.url, "/%61pi/runs", { headers: auth });
    expect(ok.status).toBe(200);
    expect(ok.body).toContain(id);
    expect((await raw(f.server.url, "/%6detrics", { headers: auth })).status).toBe(200);
  });

  it("a control character in an id or a query value is a bad request (400), after the token (401 without)", async () => {
    f = await fixture();
    const viewer = { authorization: `Bearer ${f.viewer}` };
    const operator = { authorization: `Bearer ${f.operator}` };
    for (const [path, method, headers] of [
      ["/api/runs/%00", "GET", viewer],
      ["/api/runs/a%00b/events", "GET", viewer],
      ["/api/runs/a%0ab/plan", "GET", viewer],
      ["/api/fleet?run=%00", "GET", viewer],
      ["/api/runs/%00/pause", "POST", operator],
    ] as const) {
      expect((await raw(f.server.url, path, { method })).status, path).toBe(401);
      const res = await raw(f.server.url, path, { method, headers });
      expect(res.status, path).toBe(400);
      expect(res.body, path).toContain("ROLLGATE_E_API_BAD_REQUEST");
    }
  });

  it("a request no route matches needs a token too (401 before 404)", async () => {
    f = await fixture();
    for (const method of ["OPTIONS", "POST", "PUT", "DELETE", "PATCH"]) {
      const res = await raw(f.server.url, "/api/runs", { method });
      expect(res.status, method).toBe(401);
      const known = await raw(f.server.url, "/api/runs", {
        method,
        headers: { authorization: `Bearer ${f.viewer}` },
      });
      expect(known.status, method).toBe(404);
    }
  });

  it("fastify's own refusals are catalog errors that say what is wrong, never its bare words (Forbidden, Unsupported Media Type)", async () => {
    f = await fixture();
    await f.store.setState(f.run.id, "running");
    for (const path of ["/%2e%2e/%2e%2e/etc/passwd", "/assets/..%2f..%2f..%2fpackage.json"]) {
      const res = await raw(f.server.url, path);
      expect(res.status, path).toBe(404);
      expect(JSON.parse(res.body).error.code, path).toBe("ROLLGATE_E_API_NOT_FOUND");
    }
    const form = await f.api(`/api/runs/${f.run.id}/pause`, {
      method: "POST",
      token: f.operator,
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "{}",
    });
    expect(form.status).toBe(400);
    expect((await form.json()).error).toEqual({
      code: "ROLLGATE_E_API_BAD_REQUEST",
      message:
        'the body must be JSON, sent as Content-Type: application/json (got "application/x-www-form-urlencoded")',
    });
    const big = await f.api(`/api/runs/${f.run.id}/confirm`, {
      method: "POST",
      token: f.operator,
      headers: { "content-type": "application/json" },
      body: `"${"a".repeat(100_000)}"`,
    });
    expect(big.status).toBe(400);
    expect((await big.json()).error).toEqual({
      code: "ROLLGATE_E_API_BAD_REQUEST",
      message: "the body is larger than 65536 bytes",
    });
    expect((await f.store.getRun(f.run.id))!.state).toBe("running");
  });

  it("an action needs an operator even spelt otherwise; a viewer gets 403, nobody 401", async () => {
    f = await fixture();
    await f.store.setState(f.run.id, "running");
    for (const path of [`/api/runs/${f.run.id}/pause`, `/%61pi/runs/${f.run.id}/%70ause`]) {
      expect((await raw(f.server.url, path, { method: "POST" })).status, path).toBe(401);
      const viewer = await raw(f.server.url, path, {
        method: "POST",
        headers: { authorization: `Bearer ${f.viewer}` },
      });
      expect(viewer.status, path).toBe(403);
    }
    expect((await f.store.getRun(f.run.id))!.state).toBe("running");
  });

  it("only the health check and the page's files are public; every other route asks for a token", async () => {
    f = await fixture();
    const open = f.server.routes.filter((r) => r.access === "public");
    for (const r of open) expect(r.url === "/api/health" || !r.url.startsWith("/api"), r.url).toBe(true);
    expect(open.map((r) => r.url)).toContain("/api/health");
    const guarded = f.server.routes.filter((r) => r.access !== "public");
    expect(guarded.map((r) => r.url)).toEqual(
      expect.arrayContaining(["/api/runs", "/api/runs/:id", "/api/fleet", "/metrics", "/api/whoami"]),
    );
    for (const r of guarded) {
      if (r.method !== "GET" && r.method !== "POST" && r.method !== "HEAD") continue;
      const path = r.url.replace(":id", f.run.id);
      const res = await raw(f.server.url, path, { method: r.method });
      expect(res.status, `${r.method} ${path}`).toBe(401);
    }
    // the page and its assets load without a token, with the page's security headers
    const page = await raw(f.server.url, "/");
    expect(page.status).toBe(200);
    expect(page.headers["content-security-policy"]).toContain("default-src 'self'");
    expect((await raw(f.server.url, "/api/health")).status).toBe(200);
  });
});
