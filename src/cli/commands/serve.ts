import { existsSync } from "node:fs";
import type { Command } from "commander";
import { statePathFrom } from "../../run/state-path.ts";
import { DEFAULT_PORT } from "../../server/defaults.ts";
import { type LogOpts, startLogging } from "../log-options.ts";
import { envSeconds } from "../../model/duration.ts";
import { isStoreUrl, redactStoreUrl } from "../../store/location.ts";
import { action, type CliContext, parsePort } from "../main.ts";

/** 127.0.0.0/8, ::1 (also as ::ffff:127.x.y.z) and localhost: reachable from this machine only. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, "");
  if (h === "localhost" || h === "::1" || h === "0:0:0:0:0:0:0:1") return true;
  const v4 = h.startsWith("::ffff:") ? h.slice(7) : h;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

export function registerServe(program: Command, ctx: CliContext): void {
  program
    .command("serve")
    .description("serve the dashboard and its API (REST, live events, /metrics) for a state file")
    .argument("[fleet]", "the fleet file; the state is .rollgate/state.db beside it")
    .option("--state <path>", "the state file (created if missing)")
    .option("--port <port>", "port to listen on (0: any free port)", parsePort, DEFAULT_PORT)
    .option("--host <host>", "address to listen on (a non-loopback address exposes the API)", "127.0.0.1")
    .option("--json", "print { url, state } as JSON once listening")
    .action(
      action(
        ctx,
        async (
          fleet: string | undefined,
          opts: { state?: string; port: number; host: string; json?: boolean } & LogOpts,
        ) => {
          await startLogging(ctx, opts, "serve");
          const poll = safetyPoll();
          const { openStore } = await import("../../store/open.ts");
          const statePath = statePathFrom({ ...opts, ...(fleet ? { fleet } : {}) });
          // A missing state file is made (empty: tokens and runs come later); an existing one is
          // only read, and refused unless it is a rollgate store.
          // A PostgreSQL store is opened read-write first, which makes its schema if it has none.
          let fresh = isStoreUrl(statePath) || !existsSync(statePath);
          if (fresh) {
            const made = openStore(statePath);
            try {
              // "new, empty" only for a store with nothing in it yet
              fresh = (await made.lastSeq()) === 0;
            } finally {
              // refused (a schema too new, no such database): closed at once, so the command ends now
              await made.close().catch(() => undefined);
            }
          }
          if (!isLoopback(opts.host))
            ctx.output.err(
              `warning: --host ${opts.host} can be reached from other machines. Every API route and /metrics ` +
                "need a token (the page's static files, which hold no data, do not), but tokens and run data " +
                "cross the network in clear: put a TLS reverse proxy in front and listen on 127.0.0.1 (docs/security.md)",
            );
          const { createServer } = await import("../../server/index.ts");
          const server = await createServer({
            statePath,
            ...(fleet ? { fleetFile: fleet } : {}),
            host: opts.host,
            port: opts.port,
            ...poll,
          });
          const shown = redactStoreUrl(statePath);
          if (opts.json) ctx.output.json({ url: server.url, state: shown });
          else ctx.output.out(server.url);
          ctx.output.err(
            `serving ${shown}${fresh ? " (new, empty)" : ""} at ${server.url}; tokens: rollgate token create --role viewer|operator --state ${shown}; Ctrl-C stops`,
          );
          await (await import("../../server/dashboard.ts")).untilInterrupted();
          await server.close();
          ctx.output.err("server stopped");
          return 0;
        },
      ),
    );
}

/**
 * ROLLGATE_SERVE_POLL_SECONDS: on PostgreSQL, how often the server reads the journal even though
 * no notification came (the safety net under LISTEN/NOTIFY; default 5 s); anything but 0.05–86400
 * is refused (ROLLGATE_E_USAGE, exit 2) before anything is opened.
 */
function safetyPoll(): { safetyPollMs?: number } {
  const s = envSeconds(process.env, "ROLLGATE_SERVE_POLL_SECONDS", 0.05, 86_400);
  return s === undefined ? {} : { safetyPollMs: Math.round(s * 1000) };
}
