import pg from "pg";
import type { StoreChange, StoreWatcher } from "./types.ts";

/**
 * The channel of a PostgreSQL store's notifications. PostgreSQL scopes a channel to its database,
 * and a store is one database, so one fixed name is a channel per store. Payloads are small JSON:
 * `{"run":ID,"seq":N}` for each journal row (sent by the append's own transaction, so it is
 * delivered on commit and never for a row that was rolled back) and `{"run":ID,"lease":EPOCH}`
 * (or `{"fleet":NAME,"lock":1}`) when a run's lease is taken or let go, or an engine lock moves.
 */
export const NOTIFY_CHANNEL = "rollgate_events";

/** The application_name of the listening connection (pg_stat_activity shows it). */
export const LISTEN_APPLICATION = "rollgate serve (listen)";

/** Parses a payload of NOTIFY_CHANNEL; undefined when it is not one of ours. */
export function parseChange(payload: string | undefined): StoreChange | undefined {
  if (!payload) return undefined;
  try {
    const p = JSON.parse(payload) as { run?: unknown; seq?: unknown; lease?: unknown; fleet?: unknown };
    if (typeof p.run === "string" && typeof p.seq === "number")
      return { kind: "journal", run: p.run, seq: p.seq };
    if (typeof p.run === "string" && typeof p.lease === "number") return { kind: "lease", run: p.run };
    if (typeof p.fleet === "string") return { kind: "lease", fleet: p.fleet };
  } catch {
    // not JSON: someone else's NOTIFY on our channel; ignored
  }
  return undefined;
}

/**
 * One dedicated connection that LISTENs on the store's channel (a pooled connection cannot: the
 * pool hands it to other queries). When it drops (the server restarted, the backend was
 * terminated, the network went away) it reconnects with a backoff of up to 2 s and calls
 * `connected(true)`: what was committed while it was away was not notified to it, so the caller
 * catches up by reading the journal from the last seq it sent.
 */
export function listen(
  url: string,
  onChange: (c: StoreChange) => void,
  connected: (again: boolean) => void,
): StoreWatcher {
  let client: pg.Client | undefined;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let delay = 100;
  let first = true;
  let lost = 0;

  const connect = async () => {
    if (closed) return;
    const c = new pg.Client({
      connectionString: url,
      connectionTimeoutMillis: 5_000,
      application_name: LISTEN_APPLICATION,
      keepAlive: true,
    });
    let dropped = false;
    const drop = () => {
      if (dropped) return;
      dropped = true;
      if (client === c) client = undefined;
      c.end().catch(() => undefined);
      if (closed) return;
      lost += 1;
      timer = setTimeout(() => void connect(), delay);
      timer.unref();
      delay = Math.min(delay * 2, 2_000);
    };
    c.on("error", drop);
    c.on("end", drop);
    c.on("notification", (n) => {
      if (n.channel !== NOTIFY_CHANNEL) return;
      const change = parseChange(n.payload);
      if (change) onChange(change);
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${NOTIFY_CHANNEL}`);
    } catch {
      drop();
      return;
    }
    if (closed) {
      await c.end().catch(() => undefined);
      return;
    }
    client = c;
    delay = 100;
    const again = !first;
    first = false;
    connected(again);
  };
  void connect();
  return {
    get reconnects() {
      return lost;
    },
    get listening() {
      return client !== undefined;
    },
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      await client?.end().catch(() => undefined);
      client = undefined;
    },
  };
}
