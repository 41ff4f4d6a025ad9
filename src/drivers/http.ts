import type { Cluster, Server } from "../model/fleet.ts";
import { allEstimates } from "../rules/estimates.ts";
import type {
  ActionArgs,
  ActionOutcome,
  ActionTarget,
  Driver,
  DriverAction,
  ServerObservation,
} from "./driver.ts";
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
  if (!template) throw new Error(`cluster ${cluster.name} has no driver.http.url`);
  const host = server.address.includes(":") ? `[${server.address}]` : server.address;
  return template
    .replaceAll("{name}", encodeURIComponent(server.name))
    .replaceAll("{address}", host)
    .replaceAll("{cluster}", encodeURIComponent(cluster.name))
    .replace(/\/+$/, "");
}

export class HttpDriver implements Driver {
  readonly kind = "http";

  async observe(target: ActionTarget, options: { timeoutMs?: number } = {}): Promise<ServerObservation> {
    const { cluster, server } = target;
    try {
      const res = await fetch(`${resolveServerUrl(cluster, server)}/v1/status`, {
        signal: AbortSignal.timeout(options.timeoutMs ?? DEFAULT_OBSERVE_TIMEOUT_MS),
        headers: { accept: "application/json" },
      });
      const body = (await res.json()) as unknown;
      if (!res.ok || !body || typeof (body as { state?: unknown }).state !== "string")
        throw new Error(`HTTP ${res.status}`);
      return readObservation(body, target, "the status answer (GET /v1/status)");
    } catch (e) {
      return {
        server: server.name,
        cluster: cluster.name,
        state: "unreachable",
        // Not observed: the fleet file's release, so that the field stays a valid version.
        release: server.version,
        error: describeError(e),
      };
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
    let res: Response;
    try {
      res = await fetch(`${resolveServerUrl(cluster, server)}/v1/actions/${action}`, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json" },
        body: JSON.stringify(args ?? {}),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (e) {
      throw new Error(`${server.name}: ${action} not delivered: ${describeError(e)}`, { cause: e });
    }
    let body: { ok?: boolean; code?: string; message?: string; rule?: string } = {};
    try {
      body = (await res.json()) as typeof body;
    } catch (e) {
      if (res.ok) return { ok: true };
      if ((e as Error).name === "TimeoutError" || (e as Error).name === "AbortError")
        throw new Error(`${server.name}: ${action}: no answer: ${describeError(e)}`, { cause: e });
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

function describeError(e: unknown): string {
  const err = e as Error & { cause?: { code?: string; message?: string } };
  if (err?.name === "TimeoutError") return "timed out";
  const cause = err?.cause;
  if (cause?.code) return `${cause.code}${cause.message ? `: ${cause.message}` : ""}`;
  return err?.message ?? String(e);
}

export function httpDriver(): HttpDriver {
  return new HttpDriver();
}
