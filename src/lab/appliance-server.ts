import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { TerritoryAssignment } from "../model/step.ts";
import { isLoopbackV4 } from "./address-map.ts";
import { badRequest, notFound, readJson, sendJson, waitFlag } from "./http-util.ts";
import type { ActionReply, ActionRequest } from "./types.ts";
import type { LabWorld, Reachability } from "./world.ts";

/**
 * One HTTP server per simulated appliance, each on its own loopback address and the lab's port:
 * the appliance API of docs/appliance-api.md. A crashed or `unreachable-refuse` server closes its
 * listener (connections are refused); an `unreachable-drop` server accepts and never answers.
 */
export class ApplianceServers {
  private readonly listeners = new Map<string, Server>();
  private readonly open = new Set<string>();
  private readonly held = new Map<string, Set<ServerResponse>>();
  private closed = false;

  constructor(
    private readonly world: LabWorld,
    readonly port: number,
  ) {}

  /** Binds every server; rejects (after closing what was bound) when an address:port is taken. */
  async listen(): Promise<void> {
    const all = [...this.world.servers.values()];
    const results = await Promise.allSettled(
      all.map((s) => (this.world.reachability(s) === "refuse" ? Promise.resolve() : this.bind(s.name))),
    );
    const failed = results.find((r) => r.status === "rejected") as PromiseRejectedResult | undefined;
    if (failed) {
      await this.close();
      throw failed.reason;
    }
    this.world.onReachability((name, r) => this.setReachability(name, r));
  }

  private server(name: string): Server {
    let srv = this.listeners.get(name);
    if (!srv) {
      srv = createServer((req, res) => this.handle(name, req, res));
      srv.keepAliveTimeout = 5000;
      this.listeners.set(name, srv);
    }
    return srv;
  }

  private bind(name: string): Promise<void> {
    const s = this.world.servers.get(name)!;
    // an invariant (mapAddresses gives every server a loopback address): a guard, not a user's error
    if (!isLoopbackV4(s.loopback))
      return Promise.reject(new Error(`refusing to bind ${s.loopback}: not loopback`));
    const srv = this.server(name);
    return new Promise((resolve, reject) => {
      const onError = (e: Error) => {
        srv.off("listening", onListening);
        reject(e);
      };
      const onListening = () => {
        srv.off("error", onError);
        this.open.add(name);
        resolve();
      };
      srv.once("error", onError);
      srv.once("listening", onListening);
      srv.listen({ host: s.loopback, port: this.port, exclusive: true });
    });
  }

  private unbind(name: string): void {
    const srv = this.listeners.get(name);
    if (!srv || !this.open.has(name)) return;
    this.open.delete(name);
    srv.close();
    srv.closeAllConnections();
  }

  private dropHeld(name: string): void {
    const set = this.held.get(name);
    if (!set) return;
    for (const r of set) r.destroy();
    this.held.delete(name);
  }

  setReachability(name: string, r: Reachability): void {
    if (this.closed) return;
    if (r === "refuse") {
      this.dropHeld(name);
      this.unbind(name);
    } else {
      if (r === "open") this.dropHeld(name);
      if (!this.open.has(name))
        this.bind(name).catch((e: Error) =>
          this.world.journal.add({ kind: "lab", server: name, detail: `cannot listen again: ${e.message}` }),
        );
    }
  }

  private async handle(name: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const s = this.world.servers.get(name)!;
    if (this.world.reachability(s) === "drop") {
      // Accept and never answer: the request hangs until the client gives up.
      const set = this.held.get(name) ?? new Set<ServerResponse>();
      this.held.set(name, set);
      set.add(res);
      res.on("close", () => set.delete(res));
      return;
    }
    const url = new URL(req.url ?? "/", "http://appliance");
    if (req.method === "GET" && (url.pathname === "/v1/status" || url.pathname === "/v1/status/")) {
      sendJson(res, 200, this.world.observe(name));
      return;
    }
    const m = /^\/v1\/actions\/([a-z-]+)\/?$/.exec(url.pathname);
    if (req.method === "POST" && m) {
      let body: Record<string, unknown>;
      try {
        body = await readJson(req);
      } catch (e) {
        badRequest(res, (e as Error).message);
        return;
      }
      const action = m[1]!;
      const reply = this.world.perform(name, toActionRequest(action, body));
      await respond(res, reply, waitFlag(url, action !== "install"));
      return;
    }
    if (req.method === "GET" && url.pathname === "/") {
      sendJson(res, 200, {
        appliance: name,
        api: ["GET /v1/status", "POST /v1/actions/<action>"],
        docs: "docs/appliance-api.md",
      });
      return;
    }
    notFound(res);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const name of [...this.held.keys()]) this.dropHeld(name);
    await Promise.all(
      [...this.listeners.entries()].map(
        ([name, srv]) =>
          new Promise<void>((resolve) => {
            if (!this.open.has(name)) return resolve();
            this.open.delete(name);
            srv.close(() => resolve());
            srv.closeAllConnections();
          }),
      ),
    );
  }
}

/** Sends an action's reply; with `wait`, holds a 202 until the action ends and sends its outcome. */
export async function respond(res: ServerResponse, reply: ActionReply, wait: boolean): Promise<void> {
  if (reply.status === 202 && wait) {
    const final = await reply.completion;
    sendJson(res, final.status, final.body);
    return;
  }
  sendJson(res, reply.status, reply.body, reply.status === 503 ? { "retry-after": "1" } : {});
}

export function toActionRequest(action: string, body: Record<string, unknown>): ActionRequest {
  const str = (k: string) => (typeof body[k] === "string" ? (body[k] as string) : undefined);
  const req: ActionRequest = { action };
  const release = str("release");
  const mode = str("mode");
  const joins = str("joins");
  const supercluster = str("supercluster");
  const filesystem = str("filesystem");
  const server = str("server");
  if (release) req.release = release;
  if (mode) req.mode = mode;
  if (joins) req.joins = joins;
  if (supercluster) req.supercluster = supercluster;
  if (filesystem) req.filesystem = filesystem;
  if (server) req.server = server;
  if (body.rollback === true) req.rollback = true;
  if (Array.isArray(body.territories)) req.territories = body.territories as TerritoryAssignment[];
  if (Array.isArray(body.unassigned)) req.unassigned = body.unassigned as string[];
  return req;
}
