/**
 * Webhooks out (docs/notifications.md): the kinds of notification rollgate sends, the payload
 * formats, and a fleet file's webhook (`notify:`) as the model has it. Contracts only: the
 * mapping from events is notify/payload.ts, the delivery notify/deliver.ts.
 */
export const NOTIFY_KINDS = [
  "escalation",
  "awaiting-confirmation",
  "paused",
  "aborted",
  "completed",
  "stuck",
] as const;
export type NotifyKind = (typeof NOTIFY_KINDS)[number];

export const NOTIFY_FORMATS = ["json", "slack"] as const;
export type NotifyFormat = (typeof NOTIFY_FORMATS)[number];

/** A webhook of the fleet file's `notify:` section, defaults filled in. */
export interface FleetWebhook {
  /** An http: or https: URL without credentials (checked when the file is validated). */
  url: string;
  format: NotifyFormat;
  /** The environment variable whose value signs each delivery (HMAC-SHA256); never the secret itself. */
  secretEnv?: string;
  /** The kinds this webhook receives; undefined: every kind. */
  events?: NotifyKind[];
}

/** The longest webhook URL accepted (browsers and proxies commonly stop near 2,000). */
export const MAX_WEBHOOK_URL = 2048;

/** The problem with a webhook URL, in words, or undefined when it is an http(s) URL without credentials. */
export function webhookUrlProblem(
  raw: string,
): { code: "scheme" | "credentials" | "syntax" | "length"; message: string } | undefined {
  if (raw.length > MAX_WEBHOOK_URL)
    return {
      code: "length",
      message: `is ${raw.length} characters long; at most ${MAX_WEBHOOK_URL} are accepted`,
    };
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return { code: "syntax", message: "is not a URL" };
  }
  if (u.protocol !== "http:" && u.protocol !== "https:")
    return { code: "scheme", message: `has the scheme ${u.protocol}, and only http: and https: are allowed` };
  if (u.username !== "" || u.password !== "")
    return { code: "credentials", message: "has credentials in it (user:password@ or user@)" };
  return undefined;
}
