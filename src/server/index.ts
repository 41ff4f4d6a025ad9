import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { RollgateError } from "../model/errors.ts";
import { openExistingStore, openStore } from "../store/open.ts";
import type { Store } from "../store/types.ts";
import { sendError } from "./send-error.ts";
import {
  type Access,
  accessOf,
  authenticate,
  PUBLIC,
  type Principal,
  requireOperator,
  requireScope,
} from "./auth.ts";
import { ServerContext } from "./context.ts";
import { renderMetrics } from "./metrics.ts";
import { registerActionRoutes } from "./routes-actions.ts";
import { registerFleetRoutes } from "./routes-fleet.ts";
import { registerRunRoutes } from "./routes-runs.ts";
import { EventHub } from "./sse.ts";
import { registerStatic } from "./static.ts";

/** A NUL, a newline, …: no run, step or fleet is named with one. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const CONTROL_CHARACTER = /[\u0000-\u001f\u007f]/;

/**
 * The dashboard's server: REST, server-sent events, /metrics and the page (docs/dashboard.md).
 * It reads the state file an engine writes (in this process or another) and writes only what
 * the CLI's pause/resume/abort would. Every route but /api/health and the page needs a token.
 */
export interface ServerOptions {
  /** An open store (apply/demo --dashboard share the engine's), or a state file to open. */
  store?: Store;
  statePath?: string;
  /** A fleet file to show when no run names a readable one. */
  fleetFile?: string;
  host?: string;
  /** 0: any free port. */
  port?: number;
  /** How often the event stream looks for new events in a store that does not notify (SQLite), ms (default 250). */
  pollMs?: number;
  /**
   * A store that notifies (PostgreSQL, LISTEN/NOTIFY): the safety-net poll, ms (default 5,000;
   * ROLLGATE_SERVE_POLL_SECONDS sets it for `rollgate serve`).
   */
  safetyPollMs?: number;
  heartbeatMs?: number;
  /** Where the built page is (default src/web/dist). */
  webRoot?: string;
}

/** A route as registered, with what it needs (tests check that only the page and health are public). */
export interface RouteAccess {
  method: string;
  url: string;
  access: Access;
}

export interface RunningServer {
  url: string;
  /** The live event streams (its `watcher` and `counts` say how events reached it). */
  hub: EventHub;
  routes: readonly RouteAccess[];
  host: string;
  port: number;
  app: FastifyInstance;
  close(): Promise<void>;
}

import { DEFAULT_PORT } from "./defaults.ts";

/** The largest request body the API reads (a confirm or an abort is a few bytes). */
const BODY_LIMIT = 64 * 1024;

export { DEFAULT_PORT };

/** The path of a field named __proto__ (or a constructor's prototype) in a parsed JSON body, if any. */
function poisonedField(body: unknown): string | undefined {
  // iterative: a 64 KiB body nests up to ~32,000 deep
  const todo: Array<[unknown, string]> = [[body, ""]];
  for (let next = todo.pop(); next; next = todo.pop()) {
    const [value, path] = next;
    if (typeof value !== "object" || value === null) continue;
    for (const [k, v] of Object.entries(value)) {
      const here = path ? `${path}.${k}` : k;
      if (k === "__proto__") return here;
      if (k === "constructor" && typeof v === "object" && v !== null && Object.hasOwn(v, "prototype"))
        return `${here}.prototype`;
      todo.push([v, here]);
    }
  }
  return undefined;
}

/** An exception that is no catalog error: a bug, answered without its message or stack. */
function internalError(reply: FastifyReply): FastifyReply {
  return sendError(
    reply,
    "ROLLGATE_E_INTERNAL",
    "internal error: the server hit a condition it did not expect (a bug: please report it)",
  );
}

export async function createServer(options: ServerOptions): Promise<RunningServer> {
  // The server reads through a read-only connection (it refuses a file that is not a rollgate
  // store and writes nothing to it); the operator's actions write through a second connection,
  // opened on the first action.
  const statePath = options.statePath ?? ".rollgate/state.db";
  const owned = options.store ? undefined : openExistingStore(statePath, { readonly: true });
  const store = (options.store ?? owned)!;
  let writer: Store | undefined = options.store;
  const ctx = new ServerContext(
    store,
    options.fleetFile,
    () => {
      writer ??= openStore(statePath);
      return writer;
    },
    options.store ? options.statePath : statePath,
  );
  const closeStores = async () => {
    await owned?.close();
    if (writer !== options.store) await writer?.close();
  };
  const hub = new EventHub(store, {
    pollMs: options.pollMs ?? 250,
    heartbeatMs: options.heartbeatMs ?? 15_000,
    ...(options.safetyPollMs !== undefined ? { safetyPollMs: options.safetyPollMs } : {}),
  });
  // No request logging: a token must never reach a log.
  const app = Fastify({
    logger: false,
    forceCloseConnections: true,
    bodyLimit: BODY_LIMIT,
    // what fastify answers before any route or hook (a path that does not decode, a path segment
    // too long): in the API's shape, `{ error: { code, message } }`, like every other refusal
    frameworkErrors: (err, _req, reply) => {
      if (err.code === "FST_ERR_BAD_URL")
        return sendError(
          reply,
          "ROLLGATE_E_API_BAD_REQUEST",
          "the path is not valid: a bad percent-encoding",
        );
      if (err.code === "FST_ERR_MAX_PARAM_LENGTH")
        return sendError(reply, "ROLLGATE_E_API_BAD_REQUEST", "the path is not valid: a segment is too long");
      return internalError(reply);
    },
  });
  // JSON bodies: parsed by JSON.parse, refused with a message that says what is wrong; a field
  // named __proto__ (or constructor.prototype) is refused as the unknown field it is (no route
  // takes one), never merged into an object.
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (_req, body, done) => {
    if (body === "") {
      done(
        new RollgateError(
          "ROLLGATE_E_API_BAD_REQUEST",
          "the body is empty, yet its content-type is application/json: send no content-type, or a JSON body",
        ),
        undefined,
      );
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(body as string);
    } catch {
      // JSON.parse of a string throws only a SyntaxError: the body is not JSON
      done(new RollgateError("ROLLGATE_E_API_BAD_REQUEST", "the body is not valid JSON"), undefined);
      return;
    }
    const poisoned = poisonedField(value);
    if (poisoned)
      done(
        new RollgateError(
          "ROLLGATE_E_API_BAD_REQUEST",
          `unknown field ${poisoned}: no request of the API takes it`,
        ),
        undefined,
      );
    else done(null, value);
  });

  const principals = new WeakMap<FastifyRequest, Principal>();
  const principalOf = (req: FastifyRequest) => {
    const p = principals.get(req);
    if (!p) throw new RollgateError("ROLLGATE_E_API_UNAUTHORIZED", "missing token");
    return p;
  };
  // Deny by default, on the route fastify matched (after it decoded the path), never on the
  // raw URL: every route needs a token unless it was registered as public (the health check and
  // the page's static files), and so does a request that matches no route.
  const routes: RouteAccess[] = [];
  app.addHook("onRoute", (route) => {
    // read when asked: a scope's own onRoute hook (the page's) marks its routes after this one
    for (const method of [route.method].flat())
      routes.push({
        method,
        url: route.url,
        get access() {
          return accessOf(route.config);
        },
      });
  });
  app.addHook("onRequest", async (req) => {
    const access = req.is404 ? "token" : accessOf(req.routeOptions.config);
    if (access === "public") return;
    const p = await authenticate(store, req.headers.authorization);
    if (access === "operator") requireOperator(p);
    // No id or query value holds a control character (a NUL reached the database as a store error,
    // a 503 that would tell monitoring the database was down): a bad request, said so.
    for (const v of [
      ...Object.values((req.params ?? {}) as Record<string, unknown>),
      ...Object.values((req.query ?? {}) as Record<string, unknown>),
    ])
      if (typeof v === "string" && CONTROL_CHARACTER.test(v))
        throw new RollgateError(
          "ROLLGATE_E_API_BAD_REQUEST",
          "a path segment or query parameter holds a control character (NUL, newline, …): no run, step or fleet is named so",
        );
    // A token scoped to one run: every route naming a run (its id in the path, or ?run=) must name
    // that one, reading as well as steering; the lists show only it (routes-runs, metrics).
    if (p.run !== undefined) {
      const id = (req.params as { id?: unknown } | undefined)?.id;
      if (typeof id === "string") requireScope(p, id);
      const asked = (req.query as { run?: unknown } | undefined)?.run;
      if (typeof asked === "string" && asked !== "") requireScope(p, asked);
    }
    principals.set(req, p);
  });

  // One error model: a RollgateError (a route's refusal, or a refusal of the code it calls) is
  // answered with its own code and the catalog's HTTP status; fastify's own 4xx (a body too large,
  // a content-type no parser takes) is a bad request; anything else is a bug: a 500 that says so
  // and nothing more (no message, no stack).
  app.setErrorHandler((err, req, reply) => {
    if (err instanceof RollgateError) return sendError(reply, err.code, err.message);
    const status = (err as { statusCode?: number }).statusCode;
    if (status === 403 || status === 404)
      // the page's static files: a path that climbs out of them (/%2e%2e/…) is no file of the page
      return sendError(
        reply,
        "ROLLGATE_E_API_NOT_FOUND",
        `no such endpoint: ${req.method} ${req.url.split("?")[0]}`,
      );
    if (status === 413)
      return sendError(reply, "ROLLGATE_E_API_BAD_REQUEST", `the body is larger than ${BODY_LIMIT} bytes`);
    if (status === 415)
      return sendError(
        reply,
        "ROLLGATE_E_API_BAD_REQUEST",
        `the body must be JSON, sent as Content-Type: application/json (got ${JSON.stringify(req.headers["content-type"] ?? "none")})`,
      );
    if (status !== undefined && status >= 400 && status < 500)
      return sendError(reply, "ROLLGATE_E_API_BAD_REQUEST", (err as Error).message);
    return internalError(reply);
  });
  app.setNotFoundHandler((req, reply) =>
    sendError(reply, "ROLLGATE_E_API_NOT_FOUND", `no such endpoint: ${req.method} ${req.url.split("?")[0]}`),
  );

  app.get("/api/health", { config: PUBLIC }, async () => ({ ok: true }));
  app.get("/api/whoami", async (req) => ({ token: principalOf(req) }));
  registerRunRoutes(app, ctx, hub, principalOf);
  registerFleetRoutes(app, ctx, principalOf);
  registerActionRoutes(app, ctx, principalOf);
  app.get("/metrics", async (req, reply) =>
    reply
      .header("content-type", "text/plain; version=0.0.4; charset=utf-8")
      .send(await renderMetrics(ctx, Date.now(), principalOf(req).run)),
  );
  await registerStatic(app, options.webRoot);

  app.addHook("preClose", async () => hub.close());
  const host = options.host ?? "127.0.0.1";
  try {
    await app.listen({ host, port: options.port ?? DEFAULT_PORT });
  } catch (e) {
    await hub.close();
    await closeStores();
    throw new RollgateError(
      "ROLLGATE_E_SERVE_LISTEN",
      `cannot listen on ${host}:${options.port ?? DEFAULT_PORT}: ${(e as Error).message}`,
    );
  }
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : (options.port ?? DEFAULT_PORT);
  const shown = host.includes(":") ? `[${host}]` : host;
  let closed = false;
  return {
    url: `http://${shown}:${port}`,
    hub,
    routes,
    host,
    port,
    app,
    async close() {
      if (closed) return;
      closed = true;
      await app.close();
      await closeStores();
    },
  };
}
