import type { ServerResponse } from "node:http";
import type { RunEvent } from "../events/types.ts";
import { type Store, type StoreWatcher, shownEngine } from "../store/types.ts";

/**
 * Server-sent events for one run's journal. The engine may write the store from another process
 * (on another host, for PostgreSQL), so the hub learns of new events in one of two ways:
 *
 * - A store that notifies (PostgreSQL: the append's own transaction NOTIFYs, store/pg-listen.ts)
 *   is watched on one dedicated LISTEN connection: each notification sends the subscribers of that
 *   run what they have not had. When that connection drops and comes back, every subscriber is
 *   sent what it missed (read from the last seq it was sent). A slow poll of `store.lastSeq()`
 *   (`safetyPollMs`, 5 s by default) stays as a safety net only.
 * - A SQLite state file is polled: `store.lastSeq()` (one indexed read) every `pollMs`.
 *
 * The store is asynchronous: a tick runs only when the previous one has ended (a notification
 * during a tick runs one more), and each subscriber's sends are chained, so that no frame is sent
 * twice or out of order. Frames: `id: <seq>`, `event: <type>`, `data: <the RunEvent as JSON>`;
 * `event: leader` (no id) with `{ run, engine: { pid, host, since } | null }` when the engine that
 * leads the run changes while the stream is open (a takeover; the leader when it opened is
 * `engine` of GET /api/runs/:id); comment heartbeats keep proxies from closing an idle stream.
 */
interface Subscriber {
  runId: string;
  after: number;
  res: ServerResponse;
  /** False once the token that opened the stream is revoked or expired: the stream ends. */
  valid: () => boolean | Promise<boolean>;
  /** The sends to this subscriber, one after the other. */
  sending: Promise<void>;
  /** The leader last sent (JSON), so that only a change is sent. */
  leader?: string;
}

/** The engine that leads a run, as the API shows it (`engine` of GET /api/runs/:id). */
export type Leader = { pid: number; host: string; since: string } | null;

export function frame(e: RunEvent): string {
  return `id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`;
}

export class EventHub {
  private readonly subs = new Set<Subscriber>();
  private lastSeq = -1;
  private ticking = false;
  /** A notification arrived during a tick: one more tick (forced: a catch-up after a reconnect). */
  private again: false | "new" | "force" = false;
  private leadersDue = false;
  /** A leader shown holds a lease that runs out unless renewed: the leaders are read again then. */
  private expiry: NodeJS.Timeout | undefined;
  private expiryAt = Number.POSITIVE_INFINITY;
  private readonly poll: NodeJS.Timeout;
  private readonly beat: NodeJS.Timeout;
  private readonly check: NodeJS.Timeout;
  /** The store's notifications, when it gives them (PostgreSQL). */
  readonly watcher: StoreWatcher | undefined;
  /** How many notifications and catch-ups the hub has acted on (for tests and /metrics). */
  readonly counts = { notified: 0, catchUps: 0, polls: 0 };

  constructor(
    private readonly store: Store,
    options: { pollMs: number; heartbeatMs: number; safetyPollMs?: number },
  ) {
    this.watcher = store.watch?.(
      (c) => {
        this.counts.notified += 1;
        if (c.kind === "journal") this.kick("new");
        else this.kickLeaders();
      },
      (again) => {
        // back after a drop: what was committed meanwhile was not notified; each subscriber is
        // sent everything after the last seq it was sent, and the leader is read again
        if (again) {
          this.counts.catchUps += 1;
          this.kick("force");
        }
        this.kickLeaders();
      },
    );
    const pollMs = this.watcher ? (options.safetyPollMs ?? 5_000) : options.pollMs;
    this.poll = setInterval(() => {
      this.counts.polls += 1;
      void this.tick();
      // without notifications the leader is read again at each poll (a state file's engine lock)
      if (this.watcher) this.kickLeaders();
    }, pollMs);
    // once a second: streams whose token is no longer valid end (even when nothing happens), and,
    // for a store that does not notify, the leader shown is read again
    this.check = setInterval(() => {
      for (const s of [...this.subs]) void this.stillValid(s);
      if (!this.watcher) this.kickLeaders();
    }, 1_000);
    this.beat = setInterval(() => {
      for (const s of this.subs)
        void this.stillValid(s).then((ok) => {
          if (ok) s.res.write(": heartbeat\n\n");
        });
    }, options.heartbeatMs);
    this.poll.unref();
    this.beat.unref();
    this.check.unref();
  }

  get size(): number {
    return this.subs.size;
  }

  /** Starts a stream: the backlog after `after`, then every new event of the run. */
  subscribe(
    runId: string,
    after: number,
    res: ServerResponse,
    valid: () => boolean | Promise<boolean> = () => true,
  ): void {
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      connection: "keep-alive",
      "x-accel-buffering": "no",
    });
    res.write("retry: 2000\n\n");
    const sub: Subscriber = { runId, after, res, valid, sending: Promise.resolve() };
    this.send(sub);
    this.subs.add(sub);
    // the leader as it is now is the baseline (GET /api/runs/:id shows it); a change is sent
    void this.sendLeaders([sub], true);
    const drop = () => this.subs.delete(sub);
    res.on("close", drop);
    res.on("error", drop);
  }

  /** Queues a send of what the subscriber has not had yet, after the sends queued before it. */
  private send(sub: Subscriber): void {
    sub.sending = sub.sending.then(async () => {
      try {
        for (;;) {
          const batch = await this.store.events(sub.runId, sub.after, 1000);
          if (batch.length === 0 || sub.res.writableEnded) return;
          sub.res.write(batch.map(frame).join(""));
          sub.after = batch.at(-1)!.seq;
          if (batch.length < 1000) return;
        }
      } catch {
        // the store closed under us (shutdown): the streams end with the server
      }
    });
  }

  /** Reads the leader of each subscribed run and sends it to the streams it changed for. */
  private async sendLeaders(subs: readonly Subscriber[], baseline = false): Promise<void> {
    const byRun = new Map<string, Subscriber[]>();
    for (const s of subs) byRun.set(s.runId, [...(byRun.get(s.runId) ?? []), s]);
    let soonest = Number.POSITIVE_INFINITY;
    for (const [runId, list] of byRun) {
      let leader: Leader;
      try {
        const run = await this.store.getRun(runId);
        if (!run) continue;
        const holder = await this.store.engineHolder(run.fleet);
        if (holder?.expiresAt) soonest = Math.min(soonest, Date.parse(holder.expiresAt));
        leader = shownEngine(holder);
      } catch {
        continue; // the store closed under us, or is away: read again at the next change
      }
      const json = JSON.stringify({ run: runId, engine: leader });
      for (const sub of list) {
        if (sub.leader === json) continue;
        const first = sub.leader === undefined;
        sub.leader = json;
        if (baseline && first) continue;
        sub.sending = sub.sending.then(() => {
          if (!sub.res.writableEnded) sub.res.write(`event: leader\ndata: ${json}\n\n`);
        });
      }
    }
    // a lease that runs out notifies nothing (a leader that died renews no more): the leaders are
    // read again just after the soonest expiry seen, so a dead leader stops showing then, not at
    // the safety-net poll (a renewal meanwhile only moves the expiry: read again, rescheduled)
    // (by this host's clock, the expiry being the database's: at least 0.5 s apart, so that a
    // clock behind the database's costs a few reads, never a loop)
    if (Number.isFinite(soonest) && !this.closed) {
      const at = Math.max(soonest + 50, Date.now() + 500);
      if (at >= this.expiryAt) return; // a read sooner is already due; it schedules the next
      clearTimeout(this.expiry);
      this.expiryAt = at;
      this.expiry = setTimeout(() => {
        this.expiryAt = Number.POSITIVE_INFINITY;
        this.kickLeaders();
      }, at - Date.now());
      this.expiry.unref();
    }
  }

  private leading = false;
  /** Reads the leaders again, once at a time (a change during a read runs one more). */
  private kickLeaders(): void {
    if (this.subs.size === 0) return;
    if (this.leading) {
      this.leadersDue = true;
      return;
    }
    this.leading = true;
    void (async () => {
      try {
        do {
          this.leadersDue = false;
          await this.sendLeaders([...this.subs]);
        } while (this.leadersDue);
      } finally {
        this.leading = false;
      }
    })();
  }

  /** Ends a stream whose token was revoked or has expired since it was opened. */
  private async stillValid(sub: Subscriber): Promise<boolean> {
    let ok = false;
    try {
      ok = await sub.valid();
    } catch {
      // a token revoked or expired meanwhile, or a store closing: either way the stream ends
      ok = false;
    }
    if (!ok && this.subs.has(sub)) {
      this.subs.delete(sub);
      const error = { code: "ROLLGATE_E_API_UNAUTHORIZED", message: "the token was revoked or has expired" };
      sub.res.end(`event: unauthorized\ndata: ${JSON.stringify({ error })}\n\n`);
    }
    return ok;
  }

  /** A notification: a tick now, or one more after the tick under way. */
  private kick(how: "new" | "force"): void {
    if (this.ticking) {
      if (this.again !== "force") this.again = how;
      return;
    }
    void this.tick(how === "force");
  }

  async tick(force = false): Promise<void> {
    if (this.subs.size === 0 || this.ticking) return;
    this.ticking = true;
    try {
      let seq: number;
      try {
        seq = await this.store.lastSeq();
      } catch {
        return; // the store closed under us (shutdown); the streams end with the server
      }
      if (seq === this.lastSeq && !force) return;
      this.lastSeq = seq;
      for (const s of [...this.subs]) if (await this.stillValid(s)) this.send(s);
    } finally {
      this.ticking = false;
      const again = this.again;
      this.again = false;
      if (again) void this.tick(again === "force");
    }
  }

  private closed = false;

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.expiry);
    clearInterval(this.poll);
    clearInterval(this.beat);
    clearInterval(this.check);
    for (const s of this.subs) s.res.end();
    this.subs.clear();
    await this.watcher?.close();
  }
}
