import { createWriteStream, mkdirSync, type WriteStream } from "node:fs";
import { dirname } from "node:path";

/**
 * The lab's own journal: every action it received, every state change, every fault, and every rule
 * it saw broken. Kept in memory (a ring of the latest entries, plus every violation) and, when a
 * path is given, appended to a JSON-lines file as it happens.
 */
export type JournalKind = "lab" | "action" | "refused" | "state" | "violation" | "fault";

export interface JournalEntry {
  seq: number;
  /** ISO 8601 time. */
  at: string;
  kind: JournalKind;
  server?: string;
  cluster?: string;
  action?: string;
  /** Rule id (rules.md) for violations and refusals citing one. */
  rule?: string;
  detail: string;
  data?: Record<string, unknown>;
}

export interface LabViolation {
  rule: string;
  at: string;
  detail: string;
  server?: string;
  cluster?: string;
}

export class LabJournal {
  private readonly ring: JournalEntry[] = [];
  private readonly violationList: LabViolation[] = [];
  private seq = 0;
  private stream: WriteStream | undefined;

  constructor(
    private readonly now: () => number,
    options: { file?: string; capacity?: number } = {},
  ) {
    this.capacity = options.capacity ?? 10_000;
    if (options.file) {
      mkdirSync(dirname(options.file), { recursive: true });
      this.stream = createWriteStream(options.file, { flags: "a" });
    }
  }
  private readonly capacity: number;

  add(entry: Omit<JournalEntry, "seq" | "at">): JournalEntry {
    const e: JournalEntry = { seq: ++this.seq, at: new Date(this.now()).toISOString(), ...entry };
    this.ring.push(e);
    if (this.ring.length > this.capacity) this.ring.splice(0, this.ring.length - this.capacity);
    if (e.kind === "violation" && e.rule) {
      this.violationList.push({
        rule: e.rule,
        at: e.at,
        detail: e.detail,
        ...(e.server ? { server: e.server } : {}),
        ...(e.cluster ? { cluster: e.cluster } : {}),
      });
    }
    this.stream?.write(`${JSON.stringify(e)}\n`);
    return e;
  }

  violation(rule: string, detail: string, where: { server?: string; cluster?: string } = {}): void {
    this.add({ kind: "violation", rule, detail, ...where });
  }

  /** Entries with seq > since (at most `limit`, the latest). */
  entries(since = 0, limit = 1000): JournalEntry[] {
    const out = this.ring.filter((e) => e.seq > since);
    return out.length > limit ? out.slice(out.length - limit) : out;
  }

  violations(): LabViolation[] {
    return [...this.violationList];
  }

  get lastSeq(): number {
    return this.seq;
  }

  close(): Promise<void> {
    const s = this.stream;
    this.stream = undefined;
    return new Promise((resolve) => (s ? s.end(resolve) : resolve()));
  }
}
