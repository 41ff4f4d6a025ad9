/**
 * Time in the lab. Every simulated action takes its estimate divided by the speed; the world asks a
 * Scheduler to call it back then. One timer wheel serves the whole lab: a min-heap of deadlines and
 * a single node timer for the earliest, so an idle lab of 1,000 servers has no timer running at all.
 */
export interface Scheduler {
  /** Milliseconds since the epoch (real or simulated). */
  now(): number;
  /** Calls `fn` after `ms` milliseconds; returns a handle for cancel(). */
  after(ms: number, fn: () => void): number;
  cancel(handle: number): void;
  /** Cancels everything (lab shutdown). */
  clear(): void;
}

interface Entry {
  at: number;
  id: number;
  fn: () => void;
}

/** Min-heap of entries by deadline (then by id, so equal deadlines run in order). */
class DeadlineHeap {
  private readonly items: Entry[] = [];
  get size(): number {
    return this.items.length;
  }
  peek(): Entry | undefined {
    return this.items[0];
  }
  push(e: Entry): void {
    const a = this.items;
    a.push(e);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(a[i]!, a[p]!)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }
  pop(): Entry | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && less(a[l]!, a[m]!)) m = l;
        if (r < a.length && less(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
  clear(): void {
    this.items.length = 0;
  }
}

function less(x: Entry, y: Entry): boolean {
  return x.at < y.at || (x.at === y.at && x.id < y.id);
}

abstract class HeapScheduler implements Scheduler {
  protected readonly heap = new DeadlineHeap();
  protected readonly live = new Set<number>();
  private nextId = 1;
  abstract now(): number;
  protected abstract rearm(): void;

  after(ms: number, fn: () => void): number {
    const id = this.nextId++;
    this.live.add(id);
    // NaN would break the heap's order; Infinity (never) is kept and waited for in capped steps
    this.heap.push({ at: this.now() + (Number.isNaN(ms) ? 0 : Math.max(0, ms)), id, fn });
    this.rearm();
    return id;
  }

  cancel(handle: number): void {
    this.live.delete(handle); // lazily dropped when it reaches the top
  }

  clear(): void {
    this.live.clear();
    this.heap.clear();
    this.rearm();
  }

  /** Runs every entry due at `now`; returns how many ran. */
  protected runDue(now: number): number {
    let n = 0;
    for (let e = this.heap.peek(); e && e.at <= now; e = this.heap.peek()) {
      this.heap.pop();
      if (!this.live.delete(e.id)) continue;
      n++;
      e.fn();
    }
    return n;
  }

  protected nextDeadline(): number | undefined {
    for (let e = this.heap.peek(); e; e = this.heap.peek()) {
      if (this.live.has(e.id)) return e.at;
      this.heap.pop();
    }
    return undefined;
  }
}

/**
 * The longest delay one node timer can wait: setTimeout turns a longer one (over 24.8 days) into
 * 1 ms, which would re-arm a 1 ms timer again and again until the deadline. A deadline further away
 * is waited for in steps of at most this.
 */
export const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

/** Real time: one node timer for the earliest deadline. */
export class TimerWheel extends HeapScheduler {
  private timer: NodeJS.Timeout | undefined;
  private armedFor: number | undefined;
  /** How many node timers were set so far (diagnostics; the tests count re-arms with it). */
  timersSet = 0;

  now(): number {
    return Date.now();
  }

  protected rearm(): void {
    const next = this.nextDeadline();
    if (next === this.armedFor) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = next;
    if (next === undefined) return;
    const now = Date.now();
    const delay = Math.min(MAX_TIMER_DELAY_MS, Math.max(0, next - now));
    // node measures the delay on its monotonic clock: the wall clock may read a millisecond short
    // when the timer fires, and what was due by then must still run (not re-arm a timer of 0 ms)
    const firesAt = now + delay;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.armedFor = undefined;
      this.runDue(Math.max(Date.now(), firesAt));
      this.rearm();
    }, delay);
    this.timersSet++;
    this.timer.unref();
  }
}

/** Simulated time for unit tests: nothing happens until advance(). */
export class ManualScheduler extends HeapScheduler {
  private t: number;
  constructor(start = Date.UTC(2025, 0, 1)) {
    super();
    this.t = start;
  }
  now(): number {
    return this.t;
  }
  protected rearm(): void {}
  /** Moves time forward by `ms`, running every callback that falls due, in order. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (let next = this.nextDeadline(); next !== undefined && next <= end; next = this.nextDeadline()) {
      this.t = Math.max(this.t, next);
      this.runDue(this.t);
    }
    this.t = end;
  }
}
