import { type Command, InvalidArgumentError, Option } from "commander";
import { formatDuration, parseDuration } from "../../model/duration.ts";
import { RollgateError } from "../../model/errors.ts";
import { statePathFrom } from "../../run/state-path.ts";
import { createToken, type Role, ROLES, tokenState } from "../../server/auth.ts";
import { redactStoreUrl } from "../../store/location.ts";
import { action, type CliContext } from "../main.ts";

/** A token lives at most this long (366 days): a longer one is a permanent token by another name. */
export const MAX_TTL_SECONDS = 366 * 86_400;

/** `--ttl 8h`, `30d`, `1h30m`: a duration of at least a second and at most 366 days, in seconds. */
export function parseTtl(value: string): number {
  const s = parseDuration(value);
  if (s === undefined || !Number.isFinite(s) || s < 1 || s > MAX_TTL_SECONDS)
    throw new InvalidArgumentError("expected a duration such as 15m, 8h or 30d (at least 1s, at most 366d)");
  return s;
}

interface StateOpt {
  state?: string;
  json?: boolean;
}

const pathOf = (fleet: string | undefined, opts: StateOpt) =>
  statePathFrom({ ...opts, ...(fleet ? { fleet } : {}) });
// The store (SQLite) is loaded when a command runs, not to register the commands.
const stores = () => import("../../store/open.ts");

export function registerToken(program: Command, ctx: CliContext): void {
  const token = program
    .command("token")
    .description("API and dashboard tokens (viewer: read; operator: steer): create, list, revoke");
  token
    .command("create")
    .description("make a token; only its hash is stored, and it is printed once, as the last line")
    .argument("[fleet]", "the fleet file; the state is .rollgate/state.db beside it")
    .addOption(new Option("--role <role>", "what the token may do").choices([...ROLES]).makeOptionMandatory())
    .option(
      "--ttl <duration>",
      "refuse the token after this long (15m, 8h, 30d; default: until revoked)",
      parseTtl,
    )
    .option("--state <path>", "the state file (created if missing)")
    .option(
      "--run <id>",
      "scope the token to this run: it reads and steers that run only (default: every run)",
    )
    .option("--json", "print { id, role, expiresAt, run, token } as JSON")
    .action(
      action(
        ctx,
        async (fleet: string | undefined, opts: StateOpt & { role: Role; ttl?: number; run?: string }) => {
          const path = pathOf(fleet, opts);
          const store = (await stores()).openStore(path);
          try {
            if (opts.run !== undefined && !(await store.getRun(opts.run)))
              throw new RollgateError(
                "ROLLGATE_E_RUN_NOT_FOUND",
                `no run ${opts.run} in ${redactStoreUrl(path)}: --run scopes the token to a run of this state file`,
              );
            const t = await createToken(store, opts.role, {
              ...(opts.ttl === undefined ? {} : { ttlSeconds: opts.ttl }),
              ...(opts.run !== undefined ? { run: opts.run } : {}),
            });
            ctx.output.err(
              `created ${t.role} token ${t.id}${t.run ? ` for run ${t.run} only` : ""} in ${redactStoreUrl(path)}, ${t.expiresAt ? `valid for ${formatDuration(opts.ttl!)} (until ${t.expiresAt})` : "valid until revoked (rollgate token revoke " + t.id + ")"}; only its hash is stored, so keep it now. ` +
                `Send it as "Authorization: Bearer TOKEN", or open the dashboard at http://HOST:PORT/#token=TOKEN`,
            );
            if (opts.json)
              ctx.output.json({
                id: t.id,
                role: t.role,
                expiresAt: t.expiresAt ?? null,
                run: t.run ?? null,
                token: t.token,
              });
            else ctx.output.out(t.token);
            return 0;
          } finally {
            await store.close();
          }
        },
      ),
    );

  token
    .command("list")
    .description("list the tokens of a state file: id, role, created, expires, state (never a secret)")
    .argument("[fleet]", "the fleet file; the state is .rollgate/state.db beside it")
    .option("--state <path>", "the state file")
    .option("--json", "print { tokens: [ { id, role, createdAt, expiresAt, revokedAt, run, state } ] }")
    .action(
      action(ctx, async (fleet: string | undefined, opts: StateOpt) => {
        const store = (await stores()).openExistingStore(pathOf(fleet, opts), { readonly: true });
        try {
          const now = new Date();
          const tokens = (await store.tokens()).map((t) => ({
            id: t.id,
            role: t.role,
            createdAt: t.createdAt,
            expiresAt: t.expiresAt ?? null,
            revokedAt: t.revokedAt ?? null,
            run: t.run ?? null,
            state: tokenState(t, now),
          }));
          if (opts.json) {
            ctx.output.json({ tokens });
            return 0;
          }
          if (tokens.length === 0) {
            ctx.output.err("no tokens (rollgate token create --role viewer|operator)");
            return 0;
          }
          const rows = [
            ["ID", "ROLE", "CREATED", "EXPIRES", "STATE", "RUN"],
            ...tokens.map((t) => [
              t.id,
              t.role,
              t.createdAt,
              t.expiresAt ?? "never",
              t.state === "revoked" ? `revoked ${t.revokedAt}` : t.state,
              t.run ?? "all",
            ]),
          ];
          const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
          for (const r of rows)
            ctx.output.out(
              r
                .map((c, i) => c.padEnd(widths[i]!))
                .join("  ")
                .trimEnd(),
            );
          return 0;
        } finally {
          await store.close();
        }
      }),
    );

  token
    .command("revoke")
    .description("revoke a token by its id: the API refuses it from now on (401)")
    .argument("<id>", "the token's id (rollgate token list; the part after rg_ of the token)")
    .argument("[fleet]", "the fleet file; the state is .rollgate/state.db beside it")
    .option("--state <path>", "the state file")
    .option("--json", "print { ok, id, revokedAt } as JSON")
    .action(
      action(ctx, async (id: string, fleet: string | undefined, opts: StateOpt) => {
        const store = (await stores()).openExistingStore(pathOf(fleet, opts));
        try {
          // a whole token pasted instead of its id names the same token
          const wanted = /^rg_([0-9a-f]{8})_/.exec(id)?.[1] ?? id;
          const already = (await store.tokens()).find((t) => t.id === wanted)?.revokedAt;
          const t = await store.revokeToken(wanted);
          if (!t)
            throw new RollgateError(
              "ROLLGATE_E_TOKEN_NOT_FOUND",
              `no token ${wanted} in ${redactStoreUrl(store.location)} (rollgate token list --state ${redactStoreUrl(store.location)})`,
            );
          if (opts.json) ctx.output.json({ ok: true, id: t.id, revokedAt: t.revokedAt });
          else
            ctx.output.out(
              already
                ? `token ${t.id} was already revoked at ${already}`
                : `revoked token ${t.id} (${t.role})`,
            );
          return 0;
        } finally {
          await store.close();
        }
      }),
    );
}
