import { type Command, Option } from "commander";
import { Notifier, type NotifyFailure, parseWebhookUrl, type Webhook } from "../../notify/index.ts";
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

/** A run's notifier, with what it could not deliver, to journal once the run's engine is done. */
export interface RunNotifier {
  onEvent: Notifier["onEvent"];
  /** Gives pending deliveries their grace, then journals what was not delivered (`notify.failed`). */
  finish(where: { statePath: string; runId: string } | undefined): Promise<void>;
}

/** The notifier of a run, or none without --notify. Bad input is refused before anything runs. */
export function startNotifier(ctx: CliContext, opts: NotifyOpts): RunNotifier | undefined {
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
  const failed: NotifyFailure[] = [];
  const notifier = new Notifier(hooks, undefined, {
    onFailure: (f) => {
      failed.push(f);
      ctx.output.err(
        `warning: notification ${f.kind} (${f.id}) to ${f.url} not delivered after ${f.attempts} attempt(s): ${f.error}`,
      );
    },
  });
  let finished = false;
  return {
    onEvent: (e) => notifier.onEvent(e),
    finish: async (where) => {
      if (finished) return;
      finished = true;
      await notifier.close();
      if (!where || failed.length === 0) return;
      // the run's engine has closed its store: the failures go to the journal now, for `status`
      const { openExistingStore } = await import("../../run/locate.ts");
      const store = openExistingStore(where.statePath);
      try {
        for (const f of failed) await store.append(where.runId, { type: "notify.failed", ...f });
      } catch (e) {
        ctx.output.err(
          `warning: the undelivered notifications could not be journaled: ${(e as Error).message}`,
        );
      } finally {
        await store.close();
      }
    },
  };
}
