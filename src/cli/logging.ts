import type { RunEvent } from "../events/types.ts";
import type { Plan } from "../plan/types.ts";
import { redactCredentials } from "../store/location.ts";
import type { Output } from "./output.ts";
import type { LogLevel } from "./log-options.ts";
import { describeEvent } from "./views/describe.ts";

/**
 * What `--log-format json` does for apply, resume, demo and serve (log-options.ts declares the
 * options and loads this module, and pino, only then: a command without it starts as fast as
 * before). stderr becomes machine-readable: one pino line per event of the run (runId, step,
 * server, cluster, rule, code, level, msg) and one per diagnostic the command would have printed,
 * nothing else. `text`, the default, is the human output as it always was.
 *
 * Secrets never reach a line: fields named token, password, secret or authorization (at any of
 * the first levels) are censored by pino's redact, and every string is scrubbed of a URL's
 * credentials (postgres://user:pass@, http://user:pass@), rollgate tokens (rg_<id>_<secret>: the
 * id stays, it names the token), `token=` in a link and a Bearer value. The dashboard's link with
 * its token is never written to a log (dashboard-link.ts: stderr is no terminal here).
 */
type Level = Exclude<LogLevel, "silent">;

/** The fields of a log line besides level, time and msg. */
export interface LogFields {
  runId?: string;
  step?: string;
  server?: string;
  cluster?: string;
  rule?: string;
  code?: string;
  event?: string;
  [key: string]: unknown;
}

export interface JsonLog {
  log(level: Level, fields: LogFields, msg: string): void;
  /** Writes what is buffered (pino writes synchronously here: nothing is). */
  flush(): void;
}

const REDACT_PATHS = ["token", "password", "secret", "authorization"].flatMap((k) => [
  k,
  `*.${k}`,
  `*.*.${k}`,
]);

/** A string as it may be logged: credentials, tokens and bearer values removed. */
export function scrubSecrets(text: string): string {
  return redactCredentials(text)
    .replace(/\b(rg_[0-9a-f]{8}_)[A-Za-z0-9_-]+/g, "$1[redacted]")
    .replace(/([?#&;]token=)[^&\s#"']+/gi, "$1[redacted]")
    .replace(/\b(Bearer\s+)[^\s"']+/gi, "$1[redacted]");
}

function scrubValue(v: unknown, depth = 0): unknown {
  if (typeof v === "string") return scrubSecrets(v);
  if (depth > 6 || v === null || typeof v !== "object") return v;
  if (Array.isArray(v)) return v.map((x) => scrubValue(x, depth + 1));
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, scrubValue(x, depth + 1)]));
}

/** A pino logger on stderr (fd 2, synchronous: no line is lost when the process exits). */
export async function createJsonLog(level: LogLevel, command: string): Promise<JsonLog> {
  const { pino } = await import("pino");
  const logger = pino(
    {
      level,
      base: { name: "rollgate", command },
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
      formatters: { level: (label) => ({ level: label }) },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    pino.destination({ dest: 2, sync: true }),
  );
  return {
    log: (lvl, fields, msg) => {
      const clean = Object.fromEntries(
        Object.entries(scrubValue(fields) as LogFields).filter(([, v]) => v !== undefined),
      );
      logger[lvl](clean, scrubSecrets(msg));
    },
    flush: () => logger.flush(),
  };
}

/** The level of an event's line: escalations error, warnings warn, progress info, observations debug. */
export function eventLevel(e: RunEvent): Level {
  switch (e.type) {
    case "escalation":
    case "step.failed":
      return "error";
    case "run.state":
      return e.state === "escalated"
        ? "error"
        : e.state === "paused" || e.state === "aborting"
          ? "warn"
          : "info";
    case "alert":
    case "confirmation.needed":
    case "abort.requested":
    case "notify.failed":
      return "warn";
    case "log":
      return e.level;
    case "step.started":
    case "step.accepted":
    case "step.waiting":
    case "observation":
      return "debug";
    case "capacity":
      return "trace";
    default:
      return "info";
  }
}

/** The message of an event's line: the line the terminal shows, or what the event is. */
function eventMessage(e: RunEvent): string {
  const said = describeEvent(e);
  if (said) return said;
  switch (e.type) {
    case "step.started":
      return `${e.step}: started (${e.action})`;
    case "step.accepted":
      return `${e.step}: accepted by the server`;
    case "observation":
      return `${e.cluster}/${e.server}: ${e.state}, release ${e.release}`;
    case "capacity":
      return `capacity ${Math.round(e.fraction * 100)}% (floor ${Math.round(e.floor * 100)}%)`;
    case "notify.failed":
      return `notification ${e.kind} (${e.id}) to ${e.url} not delivered after ${e.attempts} attempt(s): ${e.error}`;
    case "abort.requested":
      return `abort requested by ${e.by}${e.returnToService ? " (return to service)" : ""}`;
    case "abort.returned":
      return `abort: returned ${e.returned.join(", ") || "nothing"}; left out of service: ${
        e.leftOutOfService.map((l) => l.server ?? l.cluster).join(", ") || "nothing"
      }`;
    default:
      return e.type;
  }
}

/** One event as a log line's fields: where it happened (step, cluster, server), its rule and code. */
export function eventFields(
  e: RunEvent,
  where: ReadonlyMap<string, { cluster: string; server?: string }>,
): LogFields {
  const step = "step" in e && typeof e.step === "string" ? e.step : undefined;
  const at = step ? where.get(step) : undefined;
  const f: LogFields = {
    event: e.type,
    runId: e.runId,
    seq: e.seq,
    step,
    cluster: at?.cluster,
    server: at?.server,
  };
  switch (e.type) {
    case "escalation":
      Object.assign(f, {
        step: e.escalation.step ?? step,
        cluster: e.escalation.cluster ?? at?.cluster,
        server: e.escalation.server ?? at?.server,
        rule: e.escalation.rule,
        code: e.escalation.code,
      });
      break;
    case "step.failed":
      Object.assign(f, { rule: e.rule, code: e.code });
      break;
    case "step.waiting":
    case "confirmation.needed":
    case "alert":
      Object.assign(f, { rule: e.rule });
      if (e.type === "alert" && e.cluster) f.cluster = e.cluster;
      break;
    case "step.intent":
    case "step.started":
      Object.assign(f, { cluster: e.cluster, server: e.server, action: e.action });
      break;
    case "observation":
      Object.assign(f, { cluster: e.cluster, server: e.server, state: e.state, release: e.release });
      break;
    case "run.state":
      f.state = e.state;
      break;
    case "step.done":
      f.seconds = e.seconds;
      break;
  }
  return f;
}

/** Follows a run's events as log lines; the plan tells each step's cluster and server. */
export class EventLog {
  private readonly where = new Map<string, { cluster: string; server?: string }>();
  constructor(private readonly log: JsonLog) {}
  setPlan(plan: Plan): void {
    for (const s of plan.steps)
      this.where.set(s.id, { cluster: s.cluster, ...(s.server ? { server: s.server } : {}) });
  }
  onEvent(e: RunEvent): void {
    this.log.log(eventLevel(e), eventFields(e, this.where), eventMessage(e));
  }
}

/**
 * An Output whose diagnostics (stderr) are log lines: a line that starts with `warning:` is
 * logged at warn, `error:` at error, the rest at info. Results on stdout are unchanged. stderr
 * counts as no terminal: what is printed only to a terminal (the dashboard's token) is not logged.
 */
export function loggingOutput(base: Output, log: JsonLog): Output {
  return {
    out: (line) => base.out(line),
    json: (value) => base.json(value),
    err: (line) => {
      const level = /^\s*warning:/i.test(line) ? "warn" : /^\s*error:/i.test(line) ? "error" : "info";
      const code = /\[(ROLLGATE_E_[A-Z0-9_]+)\]\s*$/.exec(line)?.[1];
      log.log(level, code ? { code } : {}, line);
    },
    // an error's lines with their fields: each diagnostic its code, file, line, column and field
    errWith: (line, fields, level) => log.log(level, fields as LogFields, line),
    color: base.color,
    isTTY: base.isTTY,
    errIsTTY: false,
  };
}
