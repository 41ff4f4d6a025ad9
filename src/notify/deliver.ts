import { createHmac } from "node:crypto";
import type { RunEvent } from "../events/types.ts";
import { RollgateError } from "../model/errors.ts";
import {
  backoffMs,
  bodyOf,
  type Notification,
  type NotifyFormat,
  type NotifyKind,
  notificationOf,
  redactUrl,
  redactUrlsIn,
} from "./payload.ts";
import { webhookUrlProblem } from "../model/notify.ts";

/**
 * Webhooks out (docs/notifications.md): the shell part. `Notifier.onEvent` only enqueues and
 * returns; each webhook has its own queue (bounded), sends one request at a time with a timeout,
 * and retries with exponential backoff and jitter. The engine never awaits a delivery.
 */
export interface Webhook {
  url: string;
  format: NotifyFormat;
  /** HMAC-SHA256 key; never printed, journaled or shown. */
  secret?: string;
  /** The kinds this webhook receives (a fleet file's `events`); undefined: every kind. */
  events?: readonly NotifyKind[];
}

export interface NotifyFailure {
  url: string;
  kind: string;
  id: string;
  attempts: number;
  error: string;
}

export interface NotifierOptions {
  attempts?: number;
  timeoutMs?: number;
  queueSize?: number;
  baseDelayMs?: number;
  onFailure?: (f: NotifyFailure) => void;
}

export const NOTIFY_DEFAULTS = { attempts: 4, timeoutMs: 5000, queueSize: 100, baseDelayMs: 500 } as const;

/** A webhook URL from the command line or a fleet file: http or https only. */
export function parseWebhookUrl(raw: string, where = "--notify"): string {
  const tooLong = webhookUrlProblem(raw);
  if (tooLong?.code === "length")
    throw new RollgateError("ROLLGATE_E_USAGE", `${where}: the URL ${tooLong.message}`);
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new RollgateError(
      "ROLLGATE_E_USAGE",
      `${where}: "${redactUrl(raw)}" is not a URL (expected http://… or https://…)`,
    );
  }
  if (u.protocol !== "http:" && u.protocol !== "https:")
    throw new RollgateError(
      "ROLLGATE_E_USAGE",
      `${where}: ${u.protocol} is not allowed, only http: and https: (${redactUrl(raw)})`,
    );
  // a password on the command line is in the shell's history and every `ps`; a webhook that wants
  // to know a delivery is rollgate's checks the signature (--notify-secret-env)
  if (webhookUrlProblem(raw)?.code === "credentials")
    throw new RollgateError(
      "ROLLGATE_E_USAGE",
      `${where}: the URL ${redactUrl(raw)} has credentials in it (user:password@ or user@); give a URL without them, and sign the deliveries with --notify-secret-env NAME`,
    );
  return u.toString();
}

/** The headers of a delivery: the signature when the webhook has a secret. */
export function signedHeaders(
  body: string,
  n: Notification,
  secret: string | undefined,
  now: number,
): Record<string, string> {
  const timestamp = String(Math.floor(now / 1000));
  const headers: Record<string, string> = {
    "content-type": "application/json",
    "user-agent": "rollgate-notify/1",
    "x-rollgate-event": n.kind,
    "x-rollgate-event-id": n.id,
    "x-rollgate-timestamp": timestamp,
  };
  if (secret) headers["x-rollgate-signature"] = `sha256=${hmacOf(secret, timestamp, body)}`;
  return headers;
}

/** The signature's hex: HMAC-SHA256 over `TIMESTAMP.BODY` (the raw body as sent). */
export function hmacOf(secret: string, timestamp: string, body: string): string {
  return createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex");
}

/** A failed request in words: fetch's own message and its cause's (ECONNRESET, …), no URL in full. */
function errorText(e: unknown): string {
  const err = e as Error & { cause?: { code?: string; message?: string } };
  const cause = err.cause?.code ?? err.cause?.message;
  return redactUrlsIn(cause && !err.message.includes(cause) ? `${err.message}: ${cause}` : err.message);
}

interface Job {
  n: Notification;
  body: string;
}

class Channel {
  private readonly queue: Job[] = [];
  private busy: Promise<void> | undefined;
  private readonly controllers = new Set<AbortController>();
  private closing = false;

  constructor(
    readonly hook: Webhook,
    private readonly o: Required<Omit<NotifierOptions, "onFailure">> & Pick<NotifierOptions, "onFailure">,
  ) {}

  push(n: Notification): void {
    if (this.hook.events && !this.hook.events.includes(n.kind)) return;
    if (this.queue.length >= this.o.queueSize) {
      const dropped = this.queue.shift();
      if (dropped) this.fail(dropped, 0, "the queue was full");
    }
    this.queue.push({ n, body: bodyOf(n, this.hook.format) });
    if (!this.busy) this.busy = this.drain().finally(() => (this.busy = undefined));
  }

  private fail(job: Job, attempts: number, error: string): void {
    this.o.onFailure?.({ url: redactUrl(this.hook.url), kind: job.n.kind, id: job.n.id, attempts, error });
  }

  private async drain(): Promise<void> {
    for (let job = this.queue.shift(); job; job = this.queue.shift()) await this.send(job);
  }

  private async send(job: Job): Promise<void> {
    let error = "";
    let made = 0;
    for (let attempt = 1; attempt <= this.o.attempts; attempt++) {
      if (this.closing && attempt > 1) break;
      made = attempt;
      const c = new AbortController();
      this.controllers.add(c);
      const timer = setTimeout(() => c.abort(), this.o.timeoutMs);
      try {
        const res = await fetch(this.hook.url, {
          method: "POST",
          headers: signedHeaders(job.body, job.n, this.hook.secret, Date.now()),
          body: job.body,
          signal: c.signal,
          redirect: "manual",
        });
        // the answer's status is all rollgate reads: its body is not (a receiver may send without end)
        await res.body?.cancel().catch(() => undefined);
        if (res.status >= 200 && res.status < 300) return;
        error =
          res.status >= 300 && res.status < 400
            ? `HTTP ${res.status} (a redirect, not followed)`
            : `HTTP ${res.status}`;
      } catch (e) {
        error = !c.signal.aborted
          ? errorText(e)
          : this.closing
            ? "no answer before rollgate ended"
            : `no answer in ${this.o.timeoutMs} ms`;
      } finally {
        clearTimeout(timer);
        this.controllers.delete(c);
      }
      if (attempt < this.o.attempts && !this.closing)
        await this.pause(backoffMs(attempt, Math.random(), this.o.baseDelayMs));
    }
    // the attempts made: fewer than the budget when rollgate ended during them
    this.fail(job, made, error);
  }

  private wake: (() => void) | undefined;
  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }

  /** Waits for the queue up to `deadlineMs`; what is left then is reported failed. */
  async close(deadlineMs: number): Promise<void> {
    const started = this.busy;
    if (started) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([started, new Promise<void>((r) => (timer = setTimeout(r, deadlineMs)))]);
      clearTimeout(timer);
    }
    this.closing = true;
    this.wake?.();
    for (const c of this.controllers) c.abort();
    await this.busy;
    for (let job = this.queue.shift(); job; job = this.queue.shift())
      this.fail(job, 0, "rollgate ended before it was sent");
  }
}

export class Notifier {
  private readonly channels: Channel[];

  private readonly o: ConstructorParameters<typeof Channel>[1];

  constructor(
    hooks: Webhook[],
    private fleet?: string,
    options: NotifierOptions = {},
  ) {
    this.o = { ...NOTIFY_DEFAULTS, ...options };
    this.channels = hooks.map((h) => new Channel(h, this.o));
  }

  private lab = false;

  /** The run is a rehearsal on the lab: every notification says so (`lab: true`), before the run's first event. */
  markLab(): void {
    this.lab = true;
  }

  /** More webhooks (a fleet file's, once it is read), before the run's first event. */
  add(hooks: readonly Webhook[]): void {
    for (const h of hooks) this.channels.push(new Channel(h, this.o));
  }

  /** Enqueues the event's notification, if it calls for one; never blocks. */
  onEvent(e: RunEvent): void {
    if (e.type === "run.created") this.fleet ??= e.fleet;
    if (this.channels.length === 0) return;
    const found = notificationOf(e, this.fleet);
    if (!found) return;
    const n: Notification = this.lab ? { ...found, lab: true } : found;
    for (const c of this.channels) c.push(n);
  }

  /** At the end of a run: gives pending deliveries up to `deadlineMs`, then gives up on them. */
  async close(deadlineMs = 10_000): Promise<void> {
    await Promise.all(this.channels.map((c) => c.close(deadlineMs)));
  }
}
