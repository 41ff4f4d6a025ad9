import type { ServerResponse } from "node:http";
import type { RunEvent } from "../events/types.ts";
import type { Store } from "../store/types.ts";

/**
 * Server-sent events for one run's journal. The engine may write the state file from another
 * process, so the hub polls `store.lastSeq()` (one indexed read) and, when it moved, sends each
 * subscriber the events after the last one it got. The store is asynchronous: a tick runs only
 * when the previous one has ended, and each subscriber's sends are chained, so that no frame is
 * sent twice or out of order. Frames: `id: <seq>`, `event: <type>`,
 * `data: <the RunEvent as JSON>`; comment heartbeats keep proxies from closing an idle stream.
 */
interface Subscriber {
  runId: string;
  after: number;
  res: ServerResponse;
  /** False once the token that opened the stream is revoked or expired: the stream ends. */
  valid: () => boolean | Promise<boolean>;
  /** The sends to this subscriber, one after the other. */
  sending: Promise<void>;
}

export function frame(e: RunEvent): string {
  return `id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`;
}

export class EventHub {
  private readonly subs = new Set<Subscriber>();
  private lastSeq = -1;
  private ticking = false;
  private readonly poll: NodeJS.Timeout;
  private readonly beat: NodeJS.Timeout;

  constructor(
    private readonly store: Store,
    options: { pollMs: number; heartbeatMs: number },
  ) {
    this.poll = setInterval(() => void this.tick(), options.pollMs);
    this.beat = setInterval(() => {
      for (const s of this.subs)
        void this.stillValid(s).then((ok) => {
          if (ok) s.res.write(": heartbeat\n\n");
        });
    }, options.heartbeatMs);
    this.poll.unref();
    this.beat.unref();
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

  private ticks = 0;

  async tick(): Promise<void> {
    if (this.subs.size === 0 || this.ticking) return;
    this.ticking = true;
    try {
      // about once a second, streams whose token is no longer valid end, even when nothing happens
      if (++this.ticks % 4 === 0) for (const s of [...this.subs]) await this.stillValid(s);
      let seq: number;
      try {
        seq = await this.store.lastSeq();
      } catch {
        return; // the store closed under us (shutdown); the streams end with the server
      }
      if (seq === this.lastSeq) return;
      this.lastSeq = seq;
      for (const s of [...this.subs]) if (await this.stillValid(s)) this.send(s);
    } finally {
      this.ticking = false;
    }
  }

  close(): void {
    clearInterval(this.poll);
    clearInterval(this.beat);
    for (const s of this.subs) s.res.end();
    this.subs.clear();
  }
}
