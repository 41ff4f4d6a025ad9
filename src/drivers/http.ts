import { RollgateError } from "../model/errors.ts";
import type { Cluster, Server } from "../model/fleet.ts";
import { allEstimates } from "../model/estimates.ts";
import type {
  ActionArgs,
  ActionOutcome,
  ActionTarget,
  Driver,
  DriverAction,
  ServerObservation,
} from "./driver.ts";
import { type HttpAnswer, send } from "./http-client.ts";
import { readObservation } from "./observation.ts";

/**
 * The HTTP driver: speaks the appliance API of docs/appliance-api.md (GET /v1/status,
 * POST /v1/actions/<action>). The base URL of a server comes from its cluster's `driver.http.url`
 * template: {name}, {address}, {cluster} are replaced (an IPv6 {address} is bracketed).
 * observe() never throws: anything but a status answer is state "unreachable".
 * perform() resolves with the appliance's answer (accepted, done, or refused with its code and
 * rule) and rejects only when no answer came (refused connection, reset, timeout).
 */
export const DEFAULT_OBSERVE_TIMEOUT_MS = 5000;

export function resolveServerUrl(
  cluster: Pick<Cluster, "name" | "driver">,
  server: Pick<Server, "name" | "address">,
): string {
  const template = cluster.driver?.http?.url;
  // an invariant, not a user's error: the http driver is chosen only for a driver.http, whose url
  // the fleet schema requires
  if (!template) throw new Error(`cluster ${cluster.name} has no driver.http.url`);
  const host = server.address.includes(":") ? `[${server.address}]` : server.address;
  return template
    .replaceAll("{name}", encodeURIComponent(server.name))
    .replaceAll("{address}", host)
    .replaceAll("{cluster}", encodeURIComponent(cluster.name))
    .replace(/\/+$/, "");
}

/** A server's base URL, or the reason there is none (a template that is not a URL). */
const base = (cluster: Cluster, server: Server): string => resolveServerUrl(cluster, server);

export class HttpDriver implements Driver {
  readonly kind = "http";

  async observe(target: ActionTarget, options: { timeoutMs?: number } = {}): Promise<ServerObservation> {
    const { cluster, server } = target;
    // the fleet file's driver.http.timeout, else 5 s
    const configured = cluster.driver?.http?.timeout;
    const timeoutMs = options.timeoutMs ?? (configured ? configured * 1000 : DEFAULT_OBSERVE_TIMEOUT_MS);
    const url = base(cluster, server);
    const release = await observeSlot(url);
    try {
      const res = await send(`${url}/v1/status`, {
        method: "GET",
        headers: { accept: "application/json" },
        timeoutMs,
      });
      const body = JSON.parse(res.text) as unknown;
      if (!res.ok || !body || typeof (body as { state?: unknown }).state !== "string")
        // caught below: the server counts as unreachable, with this reason (G5)
        throw new Error(`HTTP ${res.status}`);
      return readObservation(body, target, "the status answer (GET /v1/status)");
    } catch (e) {
      return {
        server: server.name,
        cluster: cluster.name,
        state: "unreachable",
        // Not observed: the fleet file's release, so that the field stays a valid version.
        release: server.version,
        error: describeError(e, {
          url: base(cluster, server),
          timeoutMs,
          setting: options.timeoutMs === undefined && configured ? "driver.http.timeout" : undefined,
        }),
      };
    } finally {
      release();
    }
  }

  async perform(
    target: ActionTarget,
    action: DriverAction,
    args: ActionArgs,
    options: { timeoutMs?: number } = {},
  ): Promise<ActionOutcome> {
    const { cluster, server } = target;
    // Non-install actions answer when done: allow twice their estimate plus a margin by default.
    const estimate = allEstimates(cluster)[action] ?? 60;
    const timeoutMs = options.timeoutMs ?? Math.max(30_000, estimate * 2000 + 10_000);
    let res: HttpAnswer;
    try {
      res = await send(`${resolveServerUrl(cluster, server)}/v1/actions/${action}`, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json" },
        body: JSON.stringify(args ?? {}),
        timeoutMs,
      });
    } catch (e) {
      if ((e as Error).name === "TimeoutError")
        throw new RollgateError(
          "ROLLGATE_E_HTTP_DRIVER",
          `${server.name}: ${action}: no answer: ${describeError(e)}`,
          {
            cause: e,
          },
        );
      throw new RollgateError(
        "ROLLGATE_E_HTTP_DRIVER",
        `${server.name}: ${action} not delivered: ${describeError(e)}`,
        { cause: e },
      );
    }
    let body: { ok?: boolean; code?: string; message?: string; rule?: string } = {};
    try {
      const parsed = JSON.parse(res.text) as unknown;
      if (parsed && typeof parsed === "object") body = parsed as typeof body;
    } catch {
      if (res.ok) return { ok: true };
      return { ok: false, code: `http-${res.status}`, message: `HTTP ${res.status} without a JSON body` };
    }
    if (res.ok && body.ok !== false) return { ok: true, ...(body.message ? { message: body.message } : {}) };
    return {
      ok: false,
      code: body.code ?? `http-${res.status}`,
      message: body.message ?? `HTTP ${res.status}`,
      ...(body.rule ? { rule: body.rule } : {}),
    };
  }
}

/** Why no answer came, in words: a timeout (after how long, and which setting), a refusal, … */
function describeError(
  e: unknown,
  timeout?: { timeoutMs: number; setting: string | undefined; url: string },
): string {
  const err = e as Error & { cause?: { code?: string; message?: string } };
  if (timeout && err?.cause?.code === "ECONNREFUSED") {
    // a derived fleet file's drivers point at the lab's control address: refused means it is down
    const lab = /^http:\/\/127\.0\.0\.1:\d+\/servers\//.test(timeout.url);
    return `connection refused at ${timeout.url}${lab ? " (is the lab up? rollgate lab status FLEET)" : ""}`;
  }
  if (err?.name === "TimeoutError")
    return timeout
      ? `no answer within ${timeout.timeoutMs / 1000}s (${timeout.setting ?? "the default; set driver.http.timeout"})`
      : "timed out";
  const cause = err?.cause;
  if (cause?.code) return `${cause.code}${cause.message ? `: ${cause.message}` : ""}`;
  // "request failed" says nothing; its cause does (an invalid URL, a TLS failure, …)
  if (cause?.message) return `${err.message}: ${cause.message}${timeout ? ` (${timeout.url})` : ""}`;
  return err?.message ?? String(e);
}

/**
 * At most this many status reads in flight to one origin (scheme, host and port): the lab serves
 * every simulated server from one address, and 10,000 reads at once would time out behind each
 * other, while 32 held a 10,000-server run to 30 steps a second (reads queued for seconds before
 * each step). The rest wait for a slot; a read's time-out counts from its start. A real appliance is
 * an origin of its own, so this never holds one back. Actions are not held: one may answer only
 * when done, and must not wait behind reads.
 */
export const MAX_OBSERVES_PER_ORIGIN = 128;

const origins = new Map<string, { inFlight: number; waiting: Array<() => void> }>();

/** Waits for a free slot of the URL's origin; resolves with the function that frees it. */
async function observeSlot(url: string): Promise<() => void> {
  const origin = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i.exec(url)?.[0] ?? url;
  let o = origins.get(origin);
  if (!o) {
    o = { inFlight: 0, waiting: [] };
    origins.set(origin, o);
  }
  const slot = o;
  if (slot.inFlight >= MAX_OBSERVES_PER_ORIGIN) await new Promise<void>((r) => slot.waiting.push(r));
  else slot.inFlight += 1;
  let freed = false;
  return () => {
    if (freed) return;
    freed = true;
    const next = slot.waiting.shift();
    // the slot passes to the next read as it is (inFlight unchanged), else it is freed
    if (next) next();
    else slot.inFlight -= 1;
  };
}

export function httpDriver(): HttpDriver {
  return new HttpDriver();
}
