import { createHash, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { connect, createServer, type Server } from "node:net";
import { hostname } from "node:os";
import { RollgateError } from "../model/errors.ts";

/**
 * One engine drives a server at a time on this host, whatever fleet file, copy of it or state
 * file each engine was given (docs/security.md, "The host lock").
 *
 * No file is involved, so there is nothing in a shared folder to plant a link in: each engine
 * listens on a Linux abstract unix socket (`@rollgate/v1/engine/<pid>/<uuid>`), which the kernel
 * removes the moment the process ends, however it ends (kill -9 included), and which every user
 * of the host (in one network namespace) can see. Connecting to it returns the engine's holder
 * record and the hashed keys of the servers it drives. A new engine takes a short host-wide
 * mutex (the socket `@rollgate/v1/registry`), lists the engines in /proc/net/unix, asks each for
 * its keys, refuses to start when one shares a key with it, and otherwise starts listening
 * before it lets go of the mutex: two engines starting at once cannot both miss each other.
 *
 * A local user can squat the registry name or answer as an engine: that denies service (an
 * engine refuses to start, naming what holds it up) but can make no engine act twice.
 */
export interface HostLock {
  release(): void;
}

export interface Holder {
  pid: number;
  host: string;
  fleetFile: string;
  since: string;
}

/** One thing an engine claims: a stable key and the words that name it to a person. */
export interface Claim {
  key: string;
  label: string;
}

const PREFIX = "rollgate/v1/";
const REGISTRY = `${PREFIX}registry`;
const ENGINE = `${PREFIX}engine/`;
const abstract = (name: string) => `\0${name}`;
/** Keys go over the socket hashed: another user learns which servers overlap, not their names. */
const hashKey = (key: string) => createHash("sha256").update(key).digest("hex").slice(0, 32);

export interface HostLockOptions {
  /** How long to wait for another engine that is starting up (holding the registry), ms; default 30 s. */
  waitMs?: number;
  now?: () => Date;
}

function listen(name: string, onConnection?: (c: import("node:net").Socket) => void): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer({ allowHalfOpen: false }, (c) => {
      if (onConnection) onConnection(c);
      else c.destroy();
    });
    server.once("error", reject);
    server.listen(abstract(name), () => {
      server.off("error", reject);
      server.on("error", () => undefined);
      server.unref();
      resolve(server);
    });
  });
}

/** The engine sockets listening on this host now (Linux: /proc/net/unix lists abstract names with a leading @). */
function engineSockets(): string[] {
  let table: string;
  try {
    table = readFileSync("/proc/net/unix", "utf8");
  } catch (e) {
    throw new RollgateError(
      "ROLLGATE_E_RUN_LOCK_UNAVAILABLE",
      `cannot list the engines running on this host (/proc/net/unix: ${(e as Error).message}); the host lock needs Linux`,
      { cause: e },
    );
  }
  const names = new Set<string>();
  for (const line of table.split("\n")) {
    const at = line.indexOf(`@${ENGINE}`);
    if (at < 0) continue;
    // the kernel shows the NUL padding of the name as "@"
    const name = line.slice(at + 1).replace(/@+$/, "");
    if (/^rollgate\/v1\/engine\/[0-9]+\/[0-9a-f-]+$/.test(name)) names.add(name);
  }
  return [...names];
}

interface Answer {
  holder: Holder;
  keys: string[];
}

/** Asks one engine what it holds; undefined when it is gone (its socket closed meanwhile). */
function ask(name: string, timeoutMs: number): Promise<Answer | undefined | "silent"> {
  return new Promise((resolve) => {
    const socket = connect(abstract(name));
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(() => {
      socket.destroy();
      resolve("silent");
    }, timeoutMs);
    socket.on("data", (d: Buffer) => {
      size += d.length;
      if (size > 64 * 1024 * 1024) socket.destroy();
      else chunks.push(d);
    });
    socket.on("error", () => {
      clearTimeout(timer);
      resolve(undefined);
    });
    socket.on("end", () => {
      clearTimeout(timer);
      try {
        const parsed = JSON.parse(Buffer.concat(chunks).toString("utf8")) as Partial<Answer>;
        const h = parsed.holder;
        if (!h || typeof h.pid !== "number" || !Array.isArray(parsed.keys)) return resolve("silent");
        resolve({ holder: h, keys: parsed.keys.filter((k): k is string => typeof k === "string") });
      } catch {
        resolve("silent"); // something answered that is not an engine: refuse rather than guess
      }
    });
  });
}

async function takeRegistry(waitMs: number): Promise<Server> {
  const deadline = Date.now() + waitMs;
  for (let delay = 10; ; delay = Math.min(delay * 2, 200)) {
    try {
      return await listen(REGISTRY);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EADDRINUSE")
        throw new RollgateError(
          "ROLLGATE_E_RUN_LOCK_UNAVAILABLE",
          `cannot take the host's engine registry: ${(e as Error).message}`,
          { cause: e },
        );
      if (Date.now() > deadline)
        throw new RollgateError(
          "ROLLGATE_E_RUN_LOCK_UNAVAILABLE",
          `the host's engine registry (abstract socket @${REGISTRY}) stayed busy for ${Math.round(waitMs / 1000)} s: another engine is starting, or a process holds it; try again`,
        );
      await new Promise((r) => setTimeout(r, delay + Math.random() * delay));
    }
  }
}

/**
 * Claims `claims` for this process until release(), or throws ROLLGATE_E_RUN_LOCKED naming the
 * engine that holds one of them and what they share.
 */
export async function acquireHostLock(
  fleetFile: string,
  claims: Claim[],
  options: HostLockOptions = {},
): Promise<HostLock> {
  const now = options.now ?? (() => new Date());
  const mine = new Map<string, string>();
  for (const c of claims) mine.set(hashKey(c.key), c.label);
  const registry = await takeRegistry(options.waitMs ?? 30_000);
  let engine: Server | undefined;
  try {
    // asked side by side, with room for an engine whose event loop is busy on a loaded host
    const names = engineSockets();
    const answers = await Promise.all(names.map((name) => ask(name, 10_000)));
    for (const [i, answer] of answers.entries()) {
      const name = names[i]!;
      if (answer === undefined) continue;
      if (answer === "silent")
        throw new RollgateError(
          "ROLLGATE_E_RUN_LOCKED",
          `an engine on this host (socket @${name}) does not answer; if it is stopped (kill -STOP), continue or end it first`,
        );
      const shared = answer.keys.filter((k) => mine.has(k)).map((k) => mine.get(k)!);
      if (shared.length === 0) continue;
      const h = answer.holder;
      throw new RollgateError(
        "ROLLGATE_E_RUN_LOCKED",
        `another rollgate engine (pid ${h.pid} on ${h.host}, since ${h.since}, fleet file ${h.fleetFile}) is driving ${shared.slice(0, 5).join(", ")}${shared.length > 5 ? ` and ${shared.length - 5} more` : ""}; one engine drives a server at a time`,
        { details: { pid: h.pid, host: h.host, fleetFile: h.fleetFile, shared: shared.slice(0, 20) } },
      );
    }
    const holder: Holder = { pid: process.pid, host: hostname(), fleetFile, since: now().toISOString() };
    const payload = JSON.stringify({ holder, keys: [...mine.keys()] });
    engine = await listen(`${ENGINE}${process.pid}/${randomUUID()}`, (c) => {
      c.on("error", () => undefined);
      c.end(payload);
    });
  } finally {
    registry.close();
  }
  let released = false;
  const server = engine;
  return {
    release() {
      if (released) return;
      released = true;
      server.close();
    },
  };
}
