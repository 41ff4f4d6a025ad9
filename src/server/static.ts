import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import fastifyStatic from "@fastify/static";
import type { FastifyInstance } from "fastify";
import { accessOf, PUBLIC } from "./auth.ts";

/**
 * Where `vite build` (the package's `prepare` script) puts the page: src/web/dist, named from the
 * package root so that it resolves the same from src/server and from the compiled dist/server.
 */
export const WEB_DIST = fileURLToPath(new URL("../../src/web/dist/", import.meta.url));

const SECURITY_HEADERS = {
  "content-security-policy":
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  "referrer-policy": "no-referrer",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
};

const NOT_BUILT = `<!doctype html><meta charset="utf-8"><title>rollgate: dashboard not built</title>
<body style="font:16px system-ui;margin:3em;max-width:40em;color:#ddd;background:#111">
<h1>The dashboard's page was not built</h1>
<p><code>src/web/dist/</code> is missing [ROLLGATE_E_API_NO_DASHBOARD]. Build it with
<code>npm run prepare</code> (<code>npm ci</code> does it too), then reload.</p>
<p>The API answers meanwhile: <code>/api/runs</code>, <code>/metrics</code> (see docs/dashboard.md).</p>`;

/**
 * Serves the built page (no CDN: every file is local), or a page saying how to build it. These
 * are the only public routes besides /api/health: they are marked so in their own scope, and
 * hold no data (the page asks the API, with a token, for everything it shows).
 */
export async function registerStatic(app: FastifyInstance, root = WEB_DIST): Promise<void> {
  app.addHook("onSend", async (req, reply) => {
    if (accessOf(req.routeOptions.config) === "public")
      for (const [k, v] of Object.entries(SECURITY_HEADERS)) reply.header(k, v);
  });
  await app.register(async (page) => {
    page.addHook("onRoute", (route) => {
      route.config = { ...(route.config ?? {}), ...PUBLIC };
    });
    if (existsSync(`${root}/index.html`)) {
      await page.register(fastifyStatic, { root, prefix: "/", index: ["index.html"], wildcard: true });
      return;
    }
    page.get("/", async (_req, reply) =>
      reply.code(503).header("content-type", "text/html; charset=utf-8").send(NOT_BUILT),
    );
  });
}
