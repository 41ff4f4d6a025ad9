import {
  type ClientRequest,
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingMessage,
} from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import type { Duplex } from "node:stream";

/**
 * The HTTP driver's client: node:http with a keep-alive agent per origin, so that the
 * connection to each appliance (an origin: scheme, host and port) is opened once and reused,
 * not once per status read. Idle connections close after IDLE_MS, or a second before the
 * appliance's own announced keep-alive timeout (`Keep-Alive: timeout=N`), whichever is sooner,
 * so that a request does not race the appliance closing an idle connection.
 *
 * Leaner than the global fetch (undici), whose per-request objects (Request, Headers,
 * AbortSignal, a DOMException at every time-out) were a tenth of the engine's CPU while it read
 * 2,000 servers (issue: the engine scales with the fleet).
 *
 * Across origins the client is bounded too, because a fleet of 10,000 appliances is 10,000
 * origins, and per-origin agents alone would hold a connection to each of them (a file descriptor
 * each, here and at the appliance: the preflight read of 10,000 servers failed with EMFILE):
 * - at most MAX_IDLE_TOTAL idle keep-alive connections in all: past it, the one idle longest is
 *   closed (least recently used first);
 * - at most MAX_GETS_IN_FLIGHT GETs (status reads) in flight in all; the rest wait, their time-out
 *   counted from when they start. POSTs (actions) are never held: few are in flight, and one may
 *   answer only when its action is done.
 */
const IDLE_MS = 4000;
/** Connections per origin: status reads are limited to 128 per origin (http.ts), actions are few. */
const MAX_SOCKETS = 160;
/** An appliance's answer is a small JSON document; more than this is no answer of the API. */
export const MAX_ANSWER_BYTES = 1024 * 1024;

/**
 * One agent per origin, not one for all: Node's agent looks for an idle socket that timed out in
 * every origin's free list, which at 10,000 appliances made each idle time-out scan 10,000 lists
 * (a tenth of the engine's CPU).
 */
const agents = new Map<string, HttpAgent>();

/** Idle keep-alive connections of every origin, the one idle longest first. */
export const MAX_IDLE_TOTAL = 1024;
/** Status reads in flight across every origin. */
export const MAX_GETS_IN_FLIGHT = 512;

const idle = new Set<Duplex>();
const watched = new WeakSet<Duplex>();

/** A connection went idle into its agent's pool: it is the newest; past the bound the oldest closes. */
function wentIdle(socket: Duplex): void {
  idle.delete(socket);
  idle.add(socket);
  if (!watched.has(socket)) {
    watched.add(socket);
    socket.once("close", () => idle.delete(socket));
  }
  while (idle.size > MAX_IDLE_TOTAL) {
    const oldest = idle.values().next().value as Duplex;
    idle.delete(oldest);
    oldest.destroy(); // its agent drops it from its pool when it closes
  }
}

class PooledHttpAgent extends HttpAgent {
  override keepSocketAlive(socket: Duplex): boolean {
    const kept = super.keepSocketAlive(socket) as unknown as boolean;
    if (kept) wentIdle(socket);
    return kept;
  }
  override reuseSocket(socket: Duplex, request: ClientRequest): void {
    idle.delete(socket);
    super.reuseSocket(socket, request);
  }
}
class PooledHttpsAgent extends HttpsAgent {
  override keepSocketAlive(socket: Duplex): boolean {
    const kept = super.keepSocketAlive(socket) as unknown as boolean;
    if (kept) wentIdle(socket);
    return kept;
  }
  override reuseSocket(socket: Duplex, request: ClientRequest): void {
    idle.delete(socket);
    super.reuseSocket(socket, request);
  }
}

/** What the client holds now, for tests and benchmarks. */
export function poolStats(): { idle: number; getsInFlight: number; getsWaiting: number; origins: number } {
  return { idle: idle.size, getsInFlight, getsWaiting: waitingGets.length, origins: agents.size };
}

let getsInFlight = 0;
const waitingGets: Array<() => void> = [];

/** Waits for a free GET slot; resolves with the function that frees it (once). */
async function getSlot(): Promise<() => void> {
  if (getsInFlight >= MAX_GETS_IN_FLIGHT) await new Promise<void>((r) => waitingGets.push(r));
  else getsInFlight += 1;
  let freed = false;
  return () => {
    if (freed) return;
    freed = true;
    const next = waitingGets.shift();
    // the slot passes to the next read as it is (getsInFlight unchanged), else it is freed
    if (next) next();
    else getsInFlight -= 1;
  };
}

function agentFor(u: URL): HttpAgent | undefined {
  if (u.protocol !== "http:" && u.protocol !== "https:") return undefined;
  const origin = `${u.protocol}//${u.host}`;
  let agent = agents.get(origin);
  if (!agent) {
    const options = { keepAlive: true, timeout: IDLE_MS, maxSockets: MAX_SOCKETS };
    agent = u.protocol === "https:" ? new PooledHttpsAgent(options) : new PooledHttpAgent(options);
    agents.set(origin, agent);
  }
  return agent;
}

export interface HttpAnswer {
  status: number;
  ok: boolean;
  text: string;
  /** The Location header of a redirect. */
  location?: string;
  /** The answer said `Cache-Control: no-store` (a permanent redirect is then not remembered). */
  noStore?: boolean;
}

export interface HttpRequest {
  method: "GET" | "POST";
  headers: Record<string, string>;
  body?: string;
  timeoutMs: number;
}

/**
 * One request. Rejects with an Error whose `cause` is the socket's error (its `code`, such as
 * ECONNREFUSED), or with a TimeoutError once `timeoutMs` has passed since the start, whatever
 * the request was doing (connecting, waiting for the answer, reading it).
 * A GET that finds its reused idle connection closed by the appliance (ECONNRESET before any
 * answer) is sent once more on a new one; a POST never is (the appliance may have acted).
 */
export async function send(url: string, req: HttpRequest): Promise<HttpAnswer> {
  if (req.method !== "GET") return sendNow(url, req);
  const free = await getSlot();
  try {
    return await sendNow(url, req);
  } finally {
    free();
  }
}

async function sendNow(url: string, req: HttpRequest): Promise<HttpAnswer> {
  const deadline = Date.now() + req.timeoutMs;
  let at = url;
  let r = req;
  // a permanent redirect answered before is not asked again (as browsers do): the request goes
  // to where it led. Forgotten when that address fails or answers 404/410, so the next request
  // asks the first address again.
  const remembered: string[] = [];
  for (let hops = 0; hops < MAX_REDIRECTS; hops++) {
    const next = permanent.get(at);
    if (next === undefined) break;
    remembered.push(at);
    at = next;
  }
  const forget = () => {
    for (const u of remembered) permanent.delete(u);
  };
  // redirects are followed as fetch follows them: 307 and 308 keep the method and the body, a
  // 301, 302 or 303 after a POST becomes a GET without one (the lab's control address redirects
  // each server's requests, 308, to the server's own loopback address)
  for (let hops = remembered.length; ; hops++) {
    let answer: HttpAnswer;
    try {
      answer = await attempt(at, r, deadline, r.method === "GET");
    } catch (e) {
      forget();
      throw e;
    }
    if (answer.status === 404 || answer.status === 410) forget();
    if (!REDIRECTS.has(answer.status) || !answer.location) return answer;
    if (hops >= MAX_REDIRECTS)
      throw new Error("request failed", {
        cause: { message: `more than ${MAX_REDIRECTS} redirects from ${url}` },
      });
    const to = new URL(answer.location, at).toString();
    if ((answer.status === 308 || (answer.status === 301 && r.method === "GET")) && !answer.noStore) {
      if (permanent.size >= MAX_REMEMBERED) permanent.clear();
      permanent.set(at, to);
      remembered.push(at);
    }
    at = to;
    if (answer.status !== 307 && answer.status !== 308 && r.method === "POST") {
      const { body: _body, ...rest } = r;
      const headers = { ...rest.headers };
      delete headers["content-type"];
      r = { ...rest, method: "GET", headers };
    }
  }
}

/** Permanent redirects (308, and 301 of a GET) answered before: request URL → where it led. */
const permanent = new Map<string, string>();
/** A bound on the redirects remembered (a lab of 10,000 servers has about 8 URLs per server). */
const MAX_REMEMBERED = 200_000;

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;

function attempt(url: string, req: HttpRequest, deadline: number, mayRetry: boolean): Promise<HttpAnswer> {
  return new Promise<HttpAnswer>((resolve, reject) => {
    let u: URL;
    try {
      u = new URL(url);
    } catch (e) {
      reject(new Error("request not sent", { cause: e }));
      return;
    }
    const agent = agentFor(u);
    if (!agent) {
      reject(new Error("request not sent", { cause: { message: `unsupported scheme ${u.protocol}` } }));
      return;
    }
    const headers: Record<string, string> = { ...req.headers };
    if (req.body !== undefined) headers["content-length"] = String(Buffer.byteLength(req.body));
    const make = u.protocol === "https:" ? httpsRequest : httpRequest;
    let settled = false;
    const finish = (f: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      f();
    };
    const r = make(u, { method: req.method, headers, agent });
    const timer = setTimeout(
      () => {
        const t = new Error(`no answer within ${req.timeoutMs} ms`);
        t.name = "TimeoutError";
        finish(() => reject(t));
        r.destroy();
      },
      Math.max(0, deadline - Date.now()),
    );
    r.on("error", (e: NodeJS.ErrnoException) => {
      if (settled) return;
      if (mayRetry && r.reusedSocket && e.code === "ECONNRESET" && Date.now() < deadline) {
        finish(() => resolve(attempt(url, req, deadline, false)));
        return;
      }
      finish(() => reject(new Error("request failed", { cause: e })));
    });
    r.on("response", (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (c: Buffer) => {
        size += c.length;
        if (size > MAX_ANSWER_BYTES) {
          finish(() =>
            reject(
              new Error("request failed", { cause: { message: `answer over ${MAX_ANSWER_BYTES} bytes` } }),
            ),
          );
          r.destroy();
          return;
        }
        chunks.push(c);
      });
      res.on("end", () => {
        const status = res.statusCode ?? 0;
        const location = typeof res.headers.location === "string" ? res.headers.location : undefined;
        const noStore =
          location !== undefined && /no-store/i.test(String(res.headers["cache-control"] ?? ""));
        finish(() =>
          resolve({
            status,
            ok: status >= 200 && status < 300,
            text: Buffer.concat(chunks).toString("utf8"),
            ...(location ? { location } : {}),
            ...(noStore ? { noStore } : {}),
          }),
        );
      });
      res.on("error", (e) => finish(() => reject(new Error("request failed", { cause: e }))));
    });
    if (req.body !== undefined) r.end(req.body);
    else r.end();
  });
}
