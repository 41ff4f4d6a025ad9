import type { RunEvent } from "../events/types.ts";
import type { NotifyFormat, NotifyKind } from "../model/notify.ts";
import type { RuleId } from "../model/step.ts";
import { REGISTRY, ruleDocLink } from "../rules/registry.ts";

export { NOTIFY_FORMATS, NOTIFY_KINDS, type NotifyFormat, type NotifyKind } from "../model/notify.ts";

/**
 * What a webhook receives (docs/notifications.md): a pure mapping from the engine's events to
 * notifications. No I/O, no clock: the time is the event's own.
 */
export interface Notification {
  version: 1;
  /** A stable id for dedupe: the run and the journal's sequence number. */
  id: string;
  kind: NotifyKind;
  runId: string;
  fleet?: string;
  at: string;
  step?: string;
  cluster?: string;
  server?: string;
  rule?: RuleId;
  /** docs/rules.md#id */
  ruleDoc?: string;
  /** The rule's statement in the registry. */
  ruleStatement?: string;
  /** The manual's own words for this case (escalations). */
  manual?: string;
  /** What rollgate saw. */
  detail?: string;
  /** What to do. */
  todo?: string;
  /** The run is a rehearsal on `rollgate lab` (its derived fleet file): no real server was touched. */
  lab?: true;
}

function ruleFacts(rule: RuleId | undefined): Pick<Notification, "rule" | "ruleDoc" | "ruleStatement"> {
  if (!rule) return {};
  const entry = REGISTRY.find((r) => r.id === rule);
  return { rule, ruleDoc: ruleDocLink(rule), ...(entry ? { ruleStatement: entry.statement } : {}) };
}

/** The notification an event calls for, or none. `fleet` is the run's fleet name when known. */
export function notificationOf(e: RunEvent, fleet?: string): Notification | undefined {
  const base = {
    version: 1 as const,
    id: `${e.runId}:${e.seq}`,
    runId: e.runId,
    at: e.at,
    ...(fleet ? { fleet } : {}),
  };
  switch (e.type) {
    case "escalation": {
      const x = e.escalation;
      // D8a: a step ran past k × its estimate — the engine's "stuck step"
      const kind: NotifyKind = x.rule === "D8a" ? "stuck" : "escalation";
      return {
        ...base,
        kind,
        ...(x.step ? { step: x.step } : {}),
        ...(x.cluster ? { cluster: x.cluster } : {}),
        ...(x.server ? { server: x.server } : {}),
        ...ruleFacts(x.rule),
        manual: x.manual,
        detail: x.detail,
        todo: "look at the server and the rule's manual text, fix what it names, then `rollgate resume` (or `rollgate abort --return-to-service`)",
      };
    }
    case "confirmation.needed":
      return {
        ...base,
        kind: "awaiting-confirmation",
        step: e.step,
        ...ruleFacts(e.rule),
        detail: e.reason,
        todo: "confirm the point of no return: `rollgate resume --confirm-finalize` (or on the dashboard)",
      };
    case "run.state":
      if (e.state === "paused" || e.state === "aborted" || e.state === "completed") {
        const todo =
          e.state === "paused"
            ? "`rollgate resume` continues the run"
            : e.state === "aborted"
              ? "`rollgate fleet sync FLEET` before the next apply"
              : undefined;
        return {
          ...base,
          kind: e.state,
          ...(e.reason ? { detail: e.reason } : {}),
          ...(todo ? { todo } : {}),
        };
      }
      return undefined;
    default:
      return undefined;
  }
}

/** The same facts in words, for a Slack-compatible incoming webhook: `{"text": "…"}`. */
export function slackText(n: Notification): string {
  const where = [n.cluster, n.server, n.step].filter(Boolean).join(" / ");
  const lines = [
    `rollgate${n.lab ? " (lab rehearsal)" : ""}: run ${n.runId}${n.fleet ? ` (${n.fleet})` : ""}: ${n.kind}${where ? ` at ${where}` : ""}`,
  ];
  if (n.rule) lines.push(`rule ${n.rule}${n.ruleStatement ? `: ${n.ruleStatement}` : ""} (${n.ruleDoc})`);
  if (n.manual) lines.push(`the manual: ${n.manual}`);
  if (n.detail) lines.push(`seen: ${n.detail}`);
  if (n.todo) lines.push(`to do: ${n.todo}`);
  return slackEscaped(lines.join("\n"));
}

/**
 * Text as Slack shows it literally: `&`, `<` and `>` escaped as Slack asks. Unescaped, a driver's
 * answer quoted in `detail` could ping a whole channel (`<!channel>`) or show a link under words
 * of its choosing (`<https://elsewhere|the fix>`).
 */
export function slackEscaped(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

/** The body sent for a notification in a format. */
export function bodyOf(n: Notification, format: NotifyFormat): string {
  return format === "slack" ? JSON.stringify({ text: slackText(n) }) : JSON.stringify(n);
}

/**
 * The delay before retry `attempt` (1 = the first retry): exponential from `baseMs`, capped at
 * `maxMs`, with full jitter from `random` in [0, 1) (half the delay fixed, half random).
 */
export function backoffMs(attempt: number, random: number, baseMs = 500, maxMs = 8000): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exp / 2 + (exp / 2) * random);
}

/** A webhook URL as it may be shown: its scheme, host and port; no user, password, path or query (each may hold a secret). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    // the path is left out too: a Slack, Discord or Teams incoming webhook's path is its secret
    return `${u.protocol}//${u.host}/${u.pathname !== "/" || u.search ? "…" : ""}`;
  } catch {
    return "(a URL that does not parse)";
  }
}

/** A message with every URL in it shown as `redactUrl` shows it (a fetch error may quote the whole URL). */
export function redactUrlsIn(text: string): string {
  return text.replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>,;]+/gi, (m) => {
    const tail = /[.:)]+$/.exec(m)?.[0] ?? ""; // the sentence's punctuation, not the URL's
    return redactUrl(m.slice(0, m.length - tail.length)) + tail;
  });
}
