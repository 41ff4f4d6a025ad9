import type { Store } from "../store/types.ts";
import { openExistingStore } from "../store/open.ts";
import { createToken } from "./auth.ts";
import { createServer, DEFAULT_PORT, type RunningServer } from "./index.ts";

import { DASHBOARD_TOKEN_TTL_SECONDS } from "./defaults.ts";

export { DASHBOARD_TOKEN_TTL_SECONDS };

export interface Dashboard {
  server: RunningServer;
  /** The page's address, opening on the run it was started for (no secret in it). */
  page: string;
  /** `page` with the token in its `#token=` fragment: a secret. */
  link: string;
  tokenId: string;
  expiresAt: string;
  /** Revokes the token and closes the server. */
  close(): Promise<void>;
}

/**
 * `apply … --dashboard` and `demo --dashboard`: the server beside the run. It opens its own
 * connection to the run's state file (so it can go on serving once the engine has closed its
 * own) and mints an operator token for the link, carried in the URL's fragment (a fragment never
 * reaches the server, a query string or a log). The token expires after
 * DASHBOARD_TOKEN_TTL_SECONDS and is revoked when the command ends; the CLI decides whether to
 * print the link (only to a terminal) or write it to a file.
 */
export async function startDashboard(
  store: Store,
  options: {
    port?: number | true;
    host?: string;
    fleetFile?: string;
    ttlSeconds?: number;
    /** The run the page opens on (the link carries it): not any fleet's newest run in a shared state file. */
    runId?: string;
  },
): Promise<Dashboard> {
  const server = await createServer({
    statePath: store.location,
    port: options.port === true || options.port === undefined ? DEFAULT_PORT : options.port,
    host: options.host ?? "127.0.0.1",
    ...(options.fleetFile ? { fleetFile: options.fleetFile } : {}),
  });
  // scoped to its run: the link reads and steers that run only, never another fleet's run in a
  // shared state file (G4 is confirmed on the page of the run it guards, and nowhere else)
  const t = await createToken(store, "operator", {
    ttlSeconds: options.ttlSeconds ?? DASHBOARD_TOKEN_TTL_SECONDS,
    ...(options.runId ? { run: options.runId } : {}),
  });
  let closed = false;
  const page = `${server.url}/${options.runId ? `?run=${encodeURIComponent(options.runId)}` : ""}`;
  return {
    server,
    page,
    link: `${page}#token=${t.token}`,
    tokenId: t.id,
    expiresAt: t.expiresAt!,
    async close() {
      if (closed) return;
      closed = true;
      await server.close();
      // the engine's connection may be closed by now: a connection of its own. A state file
      // that is gone (a finished demo's temporary one) took the token with it.
      try {
        const s = openExistingStore(store.location);
        try {
          await s.revokeToken(t.id);
        } finally {
          await s.close();
        }
      } catch {
        // best effort: a state file gone or unusable took (or keeps unusable) the token with it
      }
    },
  };
}

/**
 * After the run: a person at a terminal keeps the page to look at until Ctrl-C; without a
 * terminal (scripts, CI) the server closes at once, so nothing hangs.
 */
export async function lingerThenClose(
  dashboard: Dashboard,
  interactive: boolean,
  say: (line: string) => void,
): Promise<void> {
  if (interactive) {
    say(`the run has ended; the dashboard stays up at ${dashboard.page} until Ctrl-C`);
    await untilInterrupted();
  }
  await dashboard.close();
}

/** Resolves on the first SIGINT or SIGTERM (Ctrl-C), and stops listening for them. */
export function untilInterrupted(): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      process.off("SIGINT", done);
      process.off("SIGTERM", done);
      resolve();
    };
    process.once("SIGINT", done);
    process.once("SIGTERM", done);
  });
}
