import { type Command, Option } from "commander";
import { Notifier, parseWebhookUrl, type Webhook } from "../../notify/index.ts";
import { type CliContext, usageError } from "../main.ts";

/** `--notify URL` (repeatable), `--notify-format`, `--notify-secret-env` on apply and resume (docs/notifications.md). */
export interface NotifyOpts {
  notify?: string[];
  notifyFormat?: "json" | "slack";
  notifySecretEnv?: string;
}

export function notifyOptions(cmd: Command): Command {
  return cmd
    .option(
      "--notify <url>",
      "POST a JSON event to this webhook on escalation, confirmation needed (G4), pause, abort, completion; repeatable",
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .addOption(
      new Option("--notify-format <format>", "the webhooks' payload")
        .choices(["json", "slack"])
        .default("json"),
    )
    .option(
      "--notify-secret-env <name>",
      "sign each delivery with HMAC-SHA256 keyed by this environment variable (X-Rollgate-Signature)",
    );
}

/** The notifier of a run, or none without --notify. Bad input is refused before anything runs. */
export function startNotifier(ctx: CliContext, opts: NotifyOpts): Notifier | undefined {
  if (!opts.notify?.length) {
    if (opts.notifySecretEnv) throw usageError("--notify-secret-env: there is no --notify URL to sign for");
    return undefined;
  }
  let secret: string | undefined;
  if (opts.notifySecretEnv) {
    secret = process.env[opts.notifySecretEnv];
    if (!secret)
      throw usageError(
        `--notify-secret-env: the environment variable ${opts.notifySecretEnv} is not set or empty`,
      );
  }
  const hooks: Webhook[] = opts.notify.map((raw) => ({
    url: parseWebhookUrl(raw),
    format: opts.notifyFormat ?? "json",
    ...(secret ? { secret } : {}),
  }));
  return new Notifier(hooks, undefined, {
    onFailure: (f) =>
      ctx.output.err(
        `warning: notification ${f.kind} (${f.id}) to ${f.url} not delivered after ${f.attempts} attempt(s): ${f.error}`,
      ),
  });
}
