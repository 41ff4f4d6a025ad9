import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { connect, createServer, type Server } from "node:net";
import { hostname } from "node:os";
import { RollgateError } from "../model/errors.ts";

/**
 * One engine drives a server at a time on this host, whatever fleet file, copy of it or state
 * file each engine was given (docs/security.md, "The host lock").
 *
 * No file is involved, so there is nothing in a shared folder to plant a link in: an engine holds
 * one Linux abstract unix socket per thing it claims (`@rollgate/v1/claim/<hash of the key>`: the
 * fleet file's real path, each server as its driver reaches it). Binding a name another process
 * holds fails at once (EADDRINUSE), so the kernel itself decides who holds a server, every user
 * of the host (in one network namespace) sees the same names, and a name is free the moment its
 * process ends, however it ends (kill -9 included). Claims are taken in one global order (sorted
 * by hash), so of engines starting at once on overlapping servers exactly one gets them all; the
 * others let go of what they took and are refused. Connecting to a claim returns its holder's
 * record, for the message only: the refusal never depends on an answer, so an engine stopped with
 * SIGSTOP holds its own servers and nobody else's.
 *
 * A local user can bind a claim's name first: that denies service (an engine refuses to start,
 * naming what holds it up) but can make no engine act twice.
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

const CLAIM = "rollgate/v1/claim/";
const abstract = (name: string) => `\0${name}`;
/** Keys become names hashed: another user learns that a server is claimed, not which. */
const hashKey = (key: string) => createHash("sha256").update(key).digest("hex").slice(0, 40);

export interface HostLockOptions {
  now?: () => Date;
}

function listen(name: string, payload: string): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer((c) => {
      c.on("error", () => undefined);
      c.end(payload);
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

/** The claims held on this host now (Linux: /proc/net/unix lists abstract names with a leading @). */
function claimedNames(): Set<string> {
  const names = new Set<string>();
  let table = "";
  try {
    table = readFileSync("/proc/net/unix", "utf8");
  } catch {
    return names; // only the message loses detail
  }
  for (const line of table.split("\n")) {
    const at = line.indexOf(`@${CLAIM}`);
    // the kernel shows the NUL padding of the name as "@"
    if (at >= 0) names.add(line.slice(at + 1).replace(/@+$/, ""));
  }
  return names;
}

/** Asks a claim's holder who it is; undefined when it does not answer in time (stopped, busy, not rollgate). */
function holderOf(name: string, timeoutMs: number): Promise<Holder | undefined> {
  return new Promise((resolve) => {
    const socket = connect(abstract(name));
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (h: Holder | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(h);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    socket.on("data", (d: Buffer) => {
      size += d.length;
      if (size > 64 * 1024) done(undefined);
      else chunks.push(d);
    });
    socket.on("error", () => done(undefined));
    socket.on("end", () => {
      try {
        const h = (JSON.parse(Buffer.concat(chunks).toString("utf8")) as { holder?: Holder }).holder;
        done(h && typeof h.pid === "number" ? h : undefined);
      } catch {
        // JSON.parse throws only a SyntaxError: a holder that answers no JSON names no holder
        done(undefined);
      }
    });
  });
}

async function refusal(name: string, sorted: [string, string][]): Promise<RollgateError> {
  const taken = claimedNames();
  const shared = sorted.filter(([hash]) => taken.has(`${CLAIM}${hash}`)).map(([, label]) => label);
  const first = sorted.find(([hash]) => `${CLAIM}${hash}` === name)?.[1];
  if (first && !shared.includes(first)) shared.unshift(first);
  const h = await holderOf(name, 2000);
  const who = h
    ? `another rollgate engine (pid ${h.pid} on ${h.host}, since ${h.since}, fleet file ${h.fleetFile})`
    : `another process on this host (its claim @${name} does not answer: a stopped engine, or not rollgate)`;
  return new RollgateError(
    "ROLLGATE_E_RUN_LOCKED",
    `${who} is driving ${shared.slice(0, 5).join(", ")}${shared.length > 5 ? ` and ${shared.length - 5} more` : ""}; one engine drives a server at a time`,
    {
      details: {
        ...(h ? { pid: h.pid, host: h.host, fleetFile: h.fleetFile } : {}),
        shared: shared.slice(0, 20),
      },
    },
  );
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
  const sorted = [...new Map(claims.map((c) => [hashKey(c.key), c.label] as [string, string]))].sort(
    (a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0),
  );
  const holder: Holder = { pid: process.pid, host: hostname(), fleetFile, since: now().toISOString() };
  const payload = JSON.stringify({ holder });
  const held: Server[] = [];
  const letGo = () => {
    for (const server of held.splice(0)) server.close();
  };
  for (const [hash] of sorted) {
    const name = `${CLAIM}${hash}`;
    try {
      held.push(await listen(name, payload));
    } catch (e) {
      letGo();
      if ((e as NodeJS.ErrnoException).code === "EADDRINUSE") throw await refusal(name, sorted);
      throw new RollgateError(
        "ROLLGATE_E_RUN_LOCK_UNAVAILABLE",
        `cannot take the host lock (${sorted.length} claims, one socket each): ${(e as Error).message}${(e as NodeJS.ErrnoException).code === "EMFILE" ? "; raise the open-files limit (ulimit -n)" : ""}`,
        { cause: e },
      );
    }
  }
  return { release: letGo };
}
