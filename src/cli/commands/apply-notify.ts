import { type Command, Option } from "commander";
import type { RunEventBody } from "../../events/types.ts";
import { readFleetText } from "../../io/fleet-loader.ts";
import { RollgateError } from "../../model/errors.ts";
import type { Fleet } from "../../model/fleet.ts";
import { fleetDiagnosticAt } from "../../model/fleet-file.ts";
import { Notifier, type NotifyFailure, parseWebhookUrl, type Webhook } from "../../notify/index.ts";
import { labFleetOf } from "../../run/state-path.ts";
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
      "POST a JSON event to this webhook on escalation, confirmation needed (G4), pause, abort, completion; repeatable, added to the fleet file's notify: webhooks",
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .addOption(
      new Option("--notify-format <format>", "the --notify webhooks' payload")
        .choices(["json", "slack"])
        .default("json"),
    )
    .option(
      "--notify-secret-env <name>",
      "sign each delivery to a --notify webhook with HMAC-SHA256 keyed by this environment variable (X-Rollgate-Signature)",
    );
}

/**
 * A run's notifier: the `--notify` webhooks, and the fleet file's `notify:` ones once the fleet is
 * read (`onFleet`). What it could not deliver is journaled as it fails while the engine drives the
 * run (beside it, never awaited: `onJournalAside`), and at the end what failed after the engine.
 */
export interface RunNotifier {
  onEvent: Notifier["onEvent"];
  /** The fleet is read and valid: its webhooks join (their secrets checked; a throw: nothing done). */
  onFleet(fleet: Fleet, fleetFile: string): void;
  /** While the engine drives the run: how to journal a failure beside it (undefined once it ended). */
  onJournalAside(journal: ((body: RunEventBody) => boolean) | undefined): void;
  /** Gives pending deliveries their grace, then journals what was not delivered yet (`notify.failed`). */
  finish(where: { statePath: string; runId: string } | undefined): Promise<void>;
}

/** The notifier of a run. Bad input on the command line is refused here, before anything runs. */
export function startNotifier(ctx: CliContext, opts: NotifyOpts): RunNotifier {
  if (!opts.notify?.length && opts.notifySecretEnv)
    throw usageError("--notify-secret-env: there is no --notify URL to sign for");
  let secret: string | undefined;
  if (opts.notifySecretEnv) {
    secret = process.env[opts.notifySecretEnv];
    if (!secret)
      throw usageError(
        `--notify-secret-env: the environment variable ${opts.notifySecretEnv} is not set or empty`,
      );
  }
  const hooks: Webhook[] = (opts.notify ?? []).map((raw) => ({
    url: parseWebhookUrl(raw),
    format: opts.notifyFormat ?? "json",
    ...(secret ? { secret } : {}),
  }));
  // not journaled yet: failures while no engine drives the run (before it, after it)
  const failed: NotifyFailure[] = [];
  let aside: ((body: RunEventBody) => boolean) | undefined;
  const notifier = new Notifier(hooks, undefined, {
    onFailure: (f) => {
      ctx.output.err(
        `warning: notification ${f.kind} (${f.id}) to ${f.url} not delivered after ${f.attempts} attempt(s): ${f.error}`,
      );
      // journaled now, beside the engine: on disk within 50 ms, no step waits for it
      if (!aside?.({ type: "notify.failed", ...f })) failed.push(f);
    },
  });
  let finished = false;
  let fleetRead = false;
  return {
    onEvent: (e) => notifier.onEvent(e),
    onFleet: (fleet, fleetFile) => {
      if (fleetRead) return;
      fleetRead = true;
      notifier.add(fleetWebhooks(fleet, fleetFile));
      // a lab's derived fleet keeps the fleet's webhooks: its notifications say they are a rehearsal
      if (labFleetOf(fleetFile) !== undefined) notifier.markLab();
    },
    onJournalAside: (journal) => {
      aside = journal;
    },
    finish: async (where) => {
      if (finished) return;
      finished = true;
      await notifier.close();
      if (!where || failed.length === 0) return;
      // the run's engine has closed its store: what failed after it goes to the journal now
      const { openExistingStore } = await import("../../run/locate.ts");
      const store = openExistingStore(where.statePath);
      try {
        for (const f of failed.splice(0)) await store.append(where.runId, { type: "notify.failed", ...f });
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

/**
 * The fleet file's webhooks, each secret read from its `secretEnv` (never from the file). A
 * variable not set is bad input, reported at its place in the file (exit 2, nothing done).
 */
export function fleetWebhooks(fleet: Fleet, fleetFile: string): Webhook[] {
  const hooks = fleet.notify ?? [];
  const missing = hooks.flatMap((w, i) =>
    w.secretEnv && !process.env[w.secretEnv] ? [{ i, name: w.secretEnv }] : [],
  );
  if (missing.length) {
    const text = readFleetText(fleetFile);
    const diagnostics = missing.map(({ i, name }) =>
      fleetDiagnosticAt(
        text,
        fleetFile,
        ["notify", i, "secretEnv"],
        "ROLLGATE_E_FLEET_SECRET_ENV",
        `the environment variable ${name} is not set or empty: the webhook's deliveries cannot be signed`,
        `${name} set to the webhook's secret in rollgate's environment`,
      ),
    );
    const n = diagnostics.length;
    throw new RollgateError(
      "ROLLGATE_E_FLEET_SECRET_ENV",
      `${fleetFile}: ${n} error${n === 1 ? "" : "s"} in the fleet file's notify: section; nothing was done`,
      { diagnostics },
    );
  }
  return hooks.map((w) => {
    const key = w.secretEnv ? process.env[w.secretEnv] : undefined;
    return {
      url: w.url,
      format: w.format,
      ...(key ? { secret: key } : {}),
      ...(w.events ? { events: w.events } : {}),
    };
  });
}
