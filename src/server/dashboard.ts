import type { SqliteStore } from "../store/sqlite.ts";
import { createToken } from "./auth.ts";
import { createServer, DEFAULT_PORT, type RunningServer } from "./index.ts";

/**
 * `apply … --dashboard` and `demo --dashboard`: the server beside the run. It opens its own
 * connection to the run's state file (so it can go on serving once the engine has closed its
 * own) and mints a fresh operator token for the link, carried in the URL's fragment: a fragment
 * never reaches the server, a query string or a log.
 */
export async function startDashboard(
  store: SqliteStore,
  options: { port?: number | true; host?: string; fleetFile?: string },
): Promise<{ server: RunningServer; link: string }> {
  const server = await createServer({
    statePath: store.path,
    port: options.port === true || options.port === undefined ? DEFAULT_PORT : options.port,
    host: options.host ?? "127.0.0.1",
    ...(options.fleetFile ? { fleetFile: options.fleetFile } : {}),
  });
  const { token } = createToken(store, "operator");
  return { server, link: `${server.url}/#token=${token}` };
}

/**
 * After the run: a person at a terminal keeps the page to look at until Ctrl-C; without a
 * terminal (scripts, CI) the server closes at once, so nothing hangs.
 */
export async function lingerThenClose(
  server: RunningServer,
  interactive: boolean,
  say: (line: string) => void,
): Promise<void> {
  if (interactive) {
    say(`the run has ended; the dashboard stays up at ${server.url} until Ctrl-C`);
    await untilInterrupted();
  }
  await server.close();
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
