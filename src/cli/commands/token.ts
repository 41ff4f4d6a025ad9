import { type Command, Option } from "commander";
import { statePathFrom } from "../../run/locate.ts";
import { createToken, type Role, ROLES } from "../../server/auth.ts";
import { SqliteStore } from "../../store/sqlite.ts";
import { action, type CliContext } from "../main.ts";

export function registerToken(program: Command, ctx: CliContext): void {
  const token = program
    .command("token")
    .description("API and dashboard tokens (viewer: read; operator: steer)");
  token
    .command("create")
    .description("make a token; only its hash is stored, and it is printed once, as the last line")
    .argument("[fleet]", "the fleet file; the state is .rollgate/state.db beside it")
    .addOption(new Option("--role <role>", "what the token may do").choices([...ROLES]).makeOptionMandatory())
    .option("--state <path>", "the state file (created if missing)")
    .option("--json", "print { id, role, token } as JSON")
    .action(
      action(ctx, (fleet: string | undefined, opts: { role: Role; state?: string; json?: boolean }) => {
        const path = statePathFrom({ ...opts, ...(fleet ? { fleet } : {}) });
        const store = new SqliteStore(path);
        try {
          const t = createToken(store, opts.role);
          ctx.output.err(
            `created ${t.role} token ${t.id} in ${path}; only its hash is stored, so keep it now. ` +
              `Send it as "Authorization: Bearer TOKEN", or open the dashboard at http://HOST:PORT/#token=TOKEN`,
          );
          if (opts.json) ctx.output.json({ id: t.id, role: t.role, token: t.token });
          else ctx.output.out(t.token);
          return 0;
        } finally {
          store.close();
        }
      }),
    );
}
