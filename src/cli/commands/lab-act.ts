import type { Command } from "commander";
import { RollgateError } from "../../model/errors.ts";
import { controlRequest, findLab } from "../../lab/control-client.ts";
import { action, type CliContext, usageError } from "../main.ts";
import { painter } from "../output.ts";
import { unknownServer } from "./lab-output.ts";

/** Short names `rollgate lab act` accepts for the appliance's actions. */
const ACTION_ALIASES: Record<string, string> = {
  join: "join-supercluster",
  leave: "leave-supercluster",
  reassign: "reassign-territories",
  restore: "restore-territories",
  return: "return-to-service",
};

interface ActOptions {
  target?: string;
  supercluster?: string;
  wait: boolean;
  json?: boolean;
}

/** The appliance's answer to an action. */
interface ActReply {
  ok?: boolean;
  code?: string;
  rule?: string;
  message?: string;
  endsAt?: string | null;
}

/** `rollgate lab act`: drive a simulated server by hand, as its console would. */
export function registerLabAct(lab: Command, ctx: CliContext): void {
  lab
    .command("act")
    .description(
      "drive a simulated server by hand: stop, start, install 3.5.1, mount fs1, unmount fs1, busy-out, leave, join CLUSTER, …",
    )
    .argument("<fleet>", "the fleet file")
    .argument(
      "<server>",
      "the server that receives the action (any server of a DMA cluster acts for the cluster)",
    )
    .argument("<action>", "the action (docs/appliance-api.md)")
    .argument(
      "[arg]",
      "install: RELEASE; set-mode: MODE; mount/unmount: FILESYSTEM; join: CLUSTER; reassign/restore: T=PRIMARY[/BACKUP],…",
    )
    .option("--target <server>", "management operations (disable, mount, unmount): the server acted on (M7)")
    .option("--supercluster <name>", "join: the name of the supercluster a join founds")
    .option("--no-wait", "return once the action is accepted, without waiting for it to end")
    .option("--json", "print the appliance's answer as JSON")
    .action(
      action(
        ctx,
        async (file: string, server: string, name: string, arg: string | undefined, opts: ActOptions) => {
          const { record } = findLab(file);
          const act = ACTION_ALIASES[name] ?? name;
          const payload = actPayload(server, name, act, arg, opts);
          const r = await controlRequest(
            record,
            "POST",
            `/lab/act${opts.wait ? "" : "?wait=0"}`,
            payload,
            24 * 3600_000,
          );
          const reply = r.body as ActReply;
          if (r.status === 404 && reply.code === "unknown-server") throw unknownServer(server, file);
          // An action the appliance does not have is bad input (exit 2), not a refusal (exit 1);
          // the appliance's message lists the actions it has.
          if (reply.code === "unknown-action")
            throw usageError(`rollgate lab act: ${reply.message ?? `no action "${act}"`}`);
          if (!reply.ok) {
            throw new RollgateError(
              "ROLLGATE_E_LAB_REFUSED",
              `${server}: ${act} refused [${reply.code}${reply.rule ? `, rule ${reply.rule}` : ""}]: ${reply.message}`,
              {
                details: { status: r.status, code: reply.code, ...(reply.rule ? { rule: reply.rule } : {}) },
              },
            );
          }
          if (opts.json) ctx.output.json(reply);
          else {
            const paint = painter(ctx.output.color);
            const what =
              r.status === 202 ? `accepted${reply.endsAt ? `, ends ${reply.endsAt}` : ""}` : "done";
            ctx.output.out(
              `${paint("green", "ok")} ${server}: ${act}${arg ? ` ${arg}` : ""} ${what}${reply.message ? ` (${reply.message})` : ""}`,
            );
          }
          return 0;
        },
      ),
    );
}

/** The control API's body for action `act` (written `name`) with its argument and options. */
function actPayload(
  server: string,
  name: string,
  act: string,
  arg: string | undefined,
  opts: ActOptions,
): Record<string, unknown> {
  const body: Record<string, unknown> = { server, action: act, wait: opts.wait };
  if (act === "install") body.release = requireArg(arg, "install needs a release: install 3.5.1");
  else if (act === "set-mode") body.mode = requireArg(arg, "set-mode needs a mode: set-mode extended");
  else if (act === "mount" || act === "unmount")
    body.filesystem = requireArg(arg, `${act} needs a filesystem: ${act} psfs1`);
  else if (act === "join-supercluster") body.joins = requireArg(arg, "join needs a cluster: join dma-nyc");
  else if (act === "reassign-territories" || act === "restore-territories")
    body.territories = parseTerritories(requireArg(arg, `${name} needs T=PRIMARY[/BACKUP],…`));
  if (opts.supercluster) body.supercluster = opts.supercluster;
  // The console acts on the receiver; a management operation's target goes in `target`.
  return { ...body, ...(opts.target ? { target: opts.target } : {}) };
}

function requireArg(arg: string | undefined, message: string): string {
  if (!arg) throw usageError(message);
  return arg;
}

function parseTerritories(text: string): Array<{ name: string; primary: string; backup?: string }> {
  return text.split(",").map((part) => {
    const m = /^([^=]+)=([^/]+)(?:\/(.+))?$/.exec(part.trim());
    if (!m) throw usageError(`"${part}" is not TERRITORY=PRIMARY[/BACKUP]`);
    return { name: m[1]!, primary: m[2]!, ...(m[3] ? { backup: m[3] } : {}) };
  });
}
