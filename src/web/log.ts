import type { RunEvent } from "../events/types.ts";

/** One line per event, in words, with the rule id where there is one. */
export function describe(e: RunEvent): {
  text: string;
  rule?: string;
  level: "info" | "warn" | "bad" | "good";
} {
  switch (e.type) {
    case "run.created":
      return {
        text: `run created: ${e.fleet} → ${e.target} (${e.strategy}, ${e.steps} steps)`,
        level: "info",
      };
    case "run.state":
      return {
        text: `run ${e.state}${e.reason ? `: ${e.reason}` : ""}`,
        level:
          e.state === "escalated" || e.state === "aborted"
            ? "bad"
            : e.state === "completed"
              ? "good"
              : "warn",
      };
    case "step.waiting":
      return { text: `${e.step} waits: ${e.reason}`, rule: e.rule, level: "warn" };
    case "step.intent":
      return {
        text: `${e.step}: ${e.action}${e.attempt > 1 ? ` (attempt ${e.attempt})` : ""}`,
        level: "info",
      };
    case "step.accepted":
      return { text: `${e.step} accepted`, level: "info" };
    case "step.started":
      return { text: `${e.step} started`, level: "info" };
    case "step.done":
      return { text: `${e.step} done${e.observed ? " (already so: G5)" : ""}`, level: "good" };
    case "step.failed":
      return { text: `${e.step} failed: ${e.message}`, ...(e.rule ? { rule: e.rule } : {}), level: "bad" };
    case "escalation":
      return { text: `ESCALATION: ${e.escalation.detail}`, rule: e.escalation.rule, level: "bad" };
    case "confirmation.needed":
      return { text: `confirmation needed: ${e.reason}`, rule: e.rule, level: "warn" };
    case "confirmation.given":
      return { text: `${e.step} confirmed by ${e.by}`, rule: "G4", level: "good" };
    case "observation":
      return { text: `${e.server} (${e.cluster}): ${e.state}, ${e.release}`, level: "info" };
    case "capacity":
      return {
        text: `capacity ${Math.round(e.fraction * 100)}% (floor ${Math.round(e.floor * 100)}%)`,
        rule: "G3",
        level: "info",
      };
    case "log":
      return { text: e.message, level: e.level === "warn" ? "warn" : "info" };
    case "alert":
      return { text: e.message, rule: e.rule, level: "warn" };
    case "notify.failed":
      return {
        text: `notification ${e.kind} to ${e.url} not delivered after ${e.attempts} attempt(s): ${e.error}`,
        level: "warn",
      };
    case "abort.requested":
      return {
        text: `abort requested by ${e.by}${e.returnToService ? ", returning to service what the run took out" : ""}`,
        level: "warn",
      };
    case "abort.returned":
      return {
        text: `abort: returned to service ${e.returned.length ? e.returned.join(", ") : "none"}${e.leftOutOfService.length ? `; left out of service: ${e.leftOutOfService.map((o) => `${o.server ?? o.cluster} (${o.rule ?? o.code}: ${o.reason})`).join("; ")}` : ""}`,
        ...(e.leftOutOfService[0] ? { rule: e.leftOutOfService[0].rule } : {}),
        level: e.leftOutOfService.length ? "bad" : "good",
      };
  }
}

/** The newest events first, at most `max` rows; rows are added in one batch per frame. */
export class EventLog {
  private queue: RunEvent[] = [];
  private frame = 0;
  private count = 0;

  constructor(
    private readonly list: HTMLOListElement,
    private readonly counter: HTMLElement,
    private readonly max = 400,
    /** The rules that placed a step (its plan entry), shown beside step events that cite none. */
    private readonly rulesOf: (step: string) => string[] = () => [],
  ) {}

  add(e: RunEvent): void {
    this.queue.push(e);
    if (!this.frame) this.frame = requestAnimationFrame(() => this.flush());
  }

  private flush(): void {
    this.frame = 0;
    const frag = document.createDocumentFragment();
    const batch = this.queue.splice(0);
    this.count += batch.length - Math.min(batch.length, this.max);
    // only the newest rows can be seen: a burst of events builds at most `max` rows
    for (const e of batch.slice(-this.max).reverse()) {
      const d = describe(e);
      if (!d.rule && "step" in e && typeof e.step === "string" && e.type !== "step.accepted") {
        const rules = this.rulesOf(e.step).slice(0, 2);
        if (rules.length) d.rule = rules.join(" ");
      }
      const li = document.createElement("li");
      li.className = `ev ${d.level} t-${e.type.replace(".", "-")}`;
      const time = document.createElement("time");
      time.textContent = new Date(e.at).toLocaleTimeString([], { hour12: false });
      li.append(time);
      if (d.rule) {
        const r = document.createElement("b");
        r.className = "rule";
        r.textContent = d.rule;
        li.append(r);
      }
      li.append(document.createTextNode(d.text));
      frag.append(li);
      this.count += 1;
    }
    this.list.prepend(frag);
    while (this.list.childElementCount > this.max) this.list.lastElementChild?.remove();
    this.counter.textContent = `${this.count}`;
  }
}
