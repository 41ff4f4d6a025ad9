import { afterEach } from "vitest";
import { join } from "node:path";
import type { RunEvent } from "../../src/events/types.ts";
import { loadFleetFile } from "../../src/io/fleet-loader.ts";
import { planUpgrade } from "../../src/plan/planner.ts";
import { createToken } from "../../src/server/auth.ts";
import { createServer, type RunningServer } from "../../src/server/index.ts";
import { SqliteStore } from "../../src/store/sqlite.ts";
import type { RunRecord } from "../../src/store/types.ts";
import { REPO, tempDir } from "../helpers/cli.ts";

export const MATRIX_SEED = join(REPO, "examples", "matrix-seed.yaml");

/** The error of an API answer (`{ error: { code, message } }`). */
export const errorOf = async (res: Response) =>
  ((await res.json()) as { error: { code: string; message: string } }).error;

/** Fixtures still open: closed after each test (a failing test closes its server too). */
const opened = new Set<{ close: () => Promise<void> }>();
afterEach(async () => {
  for (const x of opened) await x.close();
  opened.clear();
});

/**
 * A state file with one run of the seed matrix (3.5.0 → 3.5.1), a server on it, and two tokens;
 * closed after the test (or earlier, by `close`).
 */
export async function fixture(): Promise<{
  store: SqliteStore;
  statePath: string;
  run: RunRecord;
  server: RunningServer;
  viewer: string;
  operator: string;
  api: (path: string, init?: RequestInit & { token?: string | null }) => Promise<Response>;
  close: () => Promise<void>;
}> {
  const dir = tempDir("rollgate-server-test-");
  const statePath = join(dir, "state.db");
  const store = new SqliteStore(statePath);
  const fleet = loadFleetFile(MATRIX_SEED);
  const plan = planUpgrade(fleet, { to: ["3.5.1"] });
  const run = await store.createRun({ fleet: fleet.name, fleetFile: MATRIX_SEED, target: plan.target, plan });
  const viewer = (await createToken(store, "viewer")).token;
  const operator = (await createToken(store, "operator")).token;
  const server = await createServer({ statePath, port: 0, pollMs: 50, heartbeatMs: 200 });
  const api = (path: string, init: RequestInit & { token?: string | null } = {}) => {
    const { token, ...rest } = init;
    const headers = new Headers(rest.headers);
    const t = token === undefined ? viewer : token;
    if (t) headers.set("authorization", `Bearer ${t}`);
    return fetch(`${server.url}${path}`, { ...rest, headers });
  };
  let closed = false;
  const handle = {
    close: async () => {
      if (closed) return;
      closed = true;
      opened.delete(handle);
      await server.close();
      await store.close();
    },
  };
  opened.add(handle);
  return { store, statePath, run, server, viewer, operator, api, close: handle.close };
}

/** Reads a server-sent event stream, collecting frames, until `until` says enough (or the deadline). */
export async function readSse(
  res: Response,
  until: (events: Array<{ id?: string; event?: string; data: RunEvent }>) => boolean,
  timeoutMs = 10_000,
): Promise<{ events: Array<{ id?: string; event?: string; data: RunEvent }>; raw: string }> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  const events: Array<{ id?: string; event?: string; data: RunEvent }> = [];
  let raw = "";
  let buf = "";
  const deadline = Date.now() + timeoutMs;
  try {
    while (!until(events)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`SSE: timed out after ${events.length} events\n${raw.slice(-2000)}`);
      const chunk = await Promise.race([
        reader.read(),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error("SSE read timed out")), left)),
      ]);
      if (chunk.done) break;
      const text = decoder.decode(chunk.value, { stream: true });
      raw += text;
      buf += text;
      let i = buf.indexOf("\n\n");
      while (i >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const f: { id?: string; event?: string; data?: string } = {};
        for (const line of block.split("\n")) {
          const m = /^(id|event|data): ?(.*)$/.exec(line);
          if (m) f[m[1] as "id" | "event" | "data"] = m[2];
        }
        if (f.data !== undefined)
          events.push({
            ...(f.id ? { id: f.id } : {}),
            ...(f.event ? { event: f.event } : {}),
            data: JSON.parse(f.data),
          });
        i = buf.indexOf("\n\n");
      }
    }
  } finally {
    await reader.cancel().catch(() => {});
  }
  return { events, raw };
}
