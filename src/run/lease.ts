import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { performance } from "node:perf_hooks";
import { FINISHED_STATES } from "../events/types.ts";
import { envSeconds } from "../model/duration.ts";
import { RollgateError } from "../model/errors.ts";
import type { Lease, RunRecord, Store } from "../store/types.ts";
import type { LeaseGuard } from "./engine/types.ts";

/**
 * The engine's hold on its run's lease (docs/ha.md, "The lease"): taken before the engine reads
 * the journal, renewed on a timer, and asked before every driver action whether this engine may
 * still act. The lease's expiry is the database's; this engine's own deadline is kept on the
 * monotonic clock (performance.now, which goes on while the process is stopped), from the moment
 * its last successful renewal was *sent*: a renewal committed later only makes the database's
 * expiry later, never this deadline.
 *
 * A SQLite state file's lease is its engine lock (it does not run out): no timer, no deadline.
 */

/**
 * The default lease, seconds: a standby takes over at most this long after its leader's last
 * renewal (plus its own poll, ≤ 1 s), so a dead leader is replaced within 9 s (issue 10's target:
 * under 10 s). The price is the pause a leader survives without losing its lease: 8 s, where 5.3 s
 * of it stop the leader starting actions (docs/ha.md, "The lease").
 */
export const LEASE_SECONDS = 8;
/** The longest lease ROLLGATE_LEASE_SECONDS may set (an hour). */
export const MAX_LEASE_SECONDS = 3600;
/** The leader renews every lease ÷ RENEW_DIVISOR (2.67 s of 8). */
export const RENEW_DIVISOR = 3;
/** It starts no driver action later than lease − lease ÷ MARGIN_DIVISOR after its last renewal was sent (5.33 s of 8). */
export const MARGIN_DIVISOR = 3;
/** A standby asks for the lease at least this often, ms (and at most every renewal interval). */
const STANDBY_POLL_MS = 1_000;

export interface LeaseTiming {
  seconds: number;
  renewMs: number;
  marginMs: number;
}

/**
 * The lease length: LEASE_SECONDS, or ROLLGATE_LEASE_SECONDS (a knob for tests and operators; at
 * least 0.3, at most MAX_LEASE_SECONDS). Renewal and margin are each a third of it.
 */
export function leaseTiming(env: NodeJS.ProcessEnv = process.env): LeaseTiming {
  // at most an hour: past it a takeover waits longer than anyone would, and past about 74 days
  // the renewal interval no longer fits a timer (Node fires it at once: a hot loop on the database)
  const seconds = envSeconds(env, "ROLLGATE_LEASE_SECONDS", 0.3, MAX_LEASE_SECONDS) ?? LEASE_SECONDS;
  return {
    seconds,
    renewMs: (seconds * 1000) / RENEW_DIVISOR,
    marginMs: (seconds * 1000) / MARGIN_DIVISOR,
  };
}

/** Who holds a lease: host, process and a random part (a pid reused after a restart is another owner). */
export function leaseOwner(): string {
  return `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
}

const isLeaseLost = (e: unknown) => e instanceof RollgateError && e.code === "ROLLGATE_E_LEASE_LOST";

export class LeaseKeeper implements LeaseGuard {
  private lease: Lease;
  /** performance.now() when the last successful renewal (or the taking) was sent. */
  private lastOk: number;
  private lostWith: RollgateError | undefined;
  private timer: ReturnType<typeof setInterval> | undefined;
  private renewing: Promise<void> | undefined;
  /** Why the last renewal failed, when it failed otherwise than by a takeover (the database unreachable). */
  private failure: unknown;
  /** The lease runs out (PostgreSQL): renewed and checked; otherwise it is an engine lock. */
  private readonly expires: boolean;

  constructor(
    private readonly store: Store,
    lease: Lease,
    sentAt: number,
    private readonly timing: LeaseTiming,
  ) {
    this.lease = lease;
    this.lastOk = sentAt;
    this.expires = lease.expiresAt !== undefined;
  }

  get epoch(): number {
    return this.lease.epoch;
  }

  start(): void {
    if (!this.expires || this.timer) return;
    this.timer = setInterval(() => void this.renew(), this.timing.renewMs);
    this.timer.unref();
  }

  /** One renewal at a time; a lost lease is kept, any other failure waits for the next tick. */
  private renew(): Promise<void> {
    if (this.lostWith) return Promise.resolve();
    this.renewing ??= (async () => {
      const sent = performance.now();
      try {
        this.lease = await this.store.renewLease(this.lease, this.timing.seconds);
        this.lastOk = sent;
        this.failure = undefined;
      } catch (e) {
        if (isLeaseLost(e)) this.lostWith = e as RollgateError;
        else this.failure = e;
      } finally {
        this.renewing = undefined;
      }
    })();
    return this.renewing;
  }

  lost(): RollgateError | undefined {
    return this.lostWith;
  }

  /** Marks the lease lost (a fenced write was refused). */
  markLost(e: RollgateError): void {
    this.lostWith ??= e;
  }

  private inTime(): boolean {
    return performance.now() < this.lastOk + this.timing.seconds * 1000 - this.timing.marginMs;
  }

  /**
   * Before a driver action: resolves if this engine may act now, throws ROLLGATE_E_LEASE_LOST if
   * another engine took the lease. Past its own deadline (a renewal late: the process was paused,
   * the database slow) it renews first and acts only once a renewal under its epoch has succeeded.
   */
  async assure(): Promise<void> {
    if (this.lostWith) throw this.lostWith;
    if (!this.expires || this.inTime()) return;
    for (;;) {
      await this.renew();
      if (this.lostWith) throw this.lostWith;
      if (this.inTime()) return;
      // the store waited for the database as long as it waits for any write, in vain
      if (this.failure !== undefined) throw this.failure;
    }
  }

  /** Stops renewing and, unless it was taken over, lets the lease run out now for a standby. */
  async release(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.renewing;
    if (!this.lostWith) await this.store.releaseLease(this.lease).catch(() => undefined);
  }
}

export interface HoldHooks {
  /** Said once when the lease is held by a live engine and this one waits as a standby. */
  onStandby?: (message: string) => void;
  /** Aborted (a signal before the engine drives): the wait ends, a lease taken meanwhile is let go. */
  signal?: AbortSignal;
}

/**
 * Takes the run's lease, waiting as a standby while a live engine holds it; then fences the store
 * (every write of this run made under the new epoch) and starts renewing. Returns undefined, the
 * lease released, when the run finished meanwhile (under another engine).
 */
export async function holdLease(
  store: Store,
  runId: string,
  hooks: HoldHooks = {},
  timing: LeaseTiming = leaseTiming(),
): Promise<{ keeper: LeaseKeeper; run: RunRecord; waited: boolean } | { finished: RunRecord }> {
  const owner = leaseOwner();
  let said = false;
  for (;;) {
    if (hooks.signal?.aborted) throw hooks.signal.reason;
    const before = (await store.getRun(runId))!;
    if (FINISHED_STATES.includes(before.state)) return { finished: before };
    const sent = performance.now();
    const attempt = await store.acquireLease(runId, owner, timing.seconds);
    if ("taken" in attempt) {
      store.fence(attempt.taken);
      const keeper = new LeaseKeeper(store, attempt.taken, sent, timing);
      keeper.start();
      const run = (await store.getRun(runId))!;
      if (FINISHED_STATES.includes(run.state) || hooks.signal?.aborted) {
        await keeper.release();
        if (hooks.signal?.aborted) throw hooks.signal.reason;
        return { finished: run };
      }
      return { keeper, run, waited: said };
    }
    if (!said) {
      said = true;
      const held = attempt.heldBy;
      const [host, pid] = held.owner.split(":");
      hooks.onStandby?.(
        `run ${runId} is led by another engine (pid ${pid} on ${host}, lease epoch ${held.epoch}, since ${held.since}); waiting as a standby: this engine takes over if its lease runs out (${timing.seconds} s without a renewal)`,
      );
    }
    await new Promise((r) => setTimeout(r, Math.min(STANDBY_POLL_MS, timing.renewMs)));
  }
}
