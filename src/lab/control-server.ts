import { createServer, type Server } from "node:http";
import { CONTROL_ADDRESS } from "./address-map.ts";
import { respond, toActionRequest } from "./appliance-server.ts";
import { isFaultKind } from "./faults.ts";
import { badRequest, notFound, readJson, sendJson, waitFlag } from "./http-util.ts";
import type { LabJournal } from "./journal.ts";
import type { LabStatus } from "./types.ts";
import type { LabWorld } from "./world.ts";

/**
 * The lab's control API on 127.0.0.1:<port>: status, journal, faults, acting by hand, shutdown,
 * and /servers/<name>/… which redirects, permanently (308), to that appliance's own address — the derived fleet
 * file's driver URL template, so that one URL template reaches every server. A client that remembers the
 * redirect (the http driver does) then reads each appliance directly, one request instead of two, as it would
 * a real fleet whose URLs name each appliance; that the client bounds its connections across appliances is
 * what makes it safe at 10,000 (src/drivers/http-client.ts).
 */
export interface ControlHooks {
  world: LabWorld;
  journal: LabJournal;
  status(): LabStatus;
  applianceUrl(server: string): string | undefined;
  /** POST /lab/down: stop the lab (after the reply is sent). */
  down?: () => void;
}

export function createControlServer(h: ControlHooks): Server {
  const srv = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://lab");
    const path = url.pathname;
    const m = /^\/servers\/([^/]+)(\/.*)?$/.exec(path);
    if (m) {
      const target = h.applianceUrl(decodeURIComponent(m[1]!));
      if (!target) return notFound(res, `no server named ${m[1]}`);
      res.writeHead(308, { location: `${target}${m[2] ?? "/"}${url.search}`, "content-length": 0 });
      res.end();
      return;
    }
    if (req.method === "GET" && path === "/lab/health")
      return sendJson(res, 200, { ok: true, pid: process.pid });
    if (req.method === "GET" && path === "/lab/status") return sendJson(res, 200, h.status());
    if (req.method === "GET" && path === "/lab/journal") {
      const since = Number(url.searchParams.get("since") ?? 0) || 0;
      const limit = Number(url.searchParams.get("limit") ?? 1000) || 1000;
      return sendJson(res, 200, { entries: h.journal.entries(since, limit), last: h.journal.lastSeq });
    }
    if (req.method !== "POST") return notFound(res);
    let body: Record<string, unknown>;
    try {
      body = await readJson(req);
    } catch (e) {
      return badRequest(res, (e as Error).message);
    }
    if (path === "/lab/fault") {
      const kind = String(body.kind ?? "");
      if (!isFaultKind(kind)) return badRequest(res, `unknown fault kind "${kind}"`);
      const r = h.world.fault(String(body.server ?? ""), {
        kind,
        ...(typeof body.factor === "number" ? { factor: body.factor } : {}),
        ...(body.once === true ? { once: true } : {}),
      });
      return sendJson(res, r.ok ? 200 : 404, r);
    }
    if (path === "/lab/act") {
      const action = String(body.action ?? "");
      if (!action) return badRequest(res, "act needs an action");
      // `server` names the receiver here; a management operation's target comes as `target`.
      const request = toActionRequest(action, { ...body, server: body.target });
      const reply = h.world.perform(String(body.server ?? ""), request, "console");
      return respond(res, reply, waitFlag(url, body.wait !== false));
    }
    if (path === "/lab/down" && h.down) {
      sendJson(res, 202, { ok: true, message: "the lab is stopping" });
      setImmediate(h.down);
      return;
    }
    notFound(res);
  });
  srv.keepAliveTimeout = 5000;
  return srv;
}

export function listenControl(srv: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => reject(e);
    srv.once("error", onError);
    srv.listen({ host: CONTROL_ADDRESS, port, exclusive: true }, () => {
      srv.off("error", onError);
      const a = srv.address();
      resolve(typeof a === "object" && a ? a.port : port);
    });
  });
}
