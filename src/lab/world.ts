import type { ServerState } from "../model/appliance.ts";
import type { Fleet } from "../model/fleet.ts";
import { estimateFor } from "../model/estimates.ts";
import type { AddressMapping } from "./address-map.ts";
import type { Scheduler } from "./clock.ts";
import { performDmaAction } from "./dma.ts";
import type { FaultSpec } from "./faults.ts";
import type { LabJournal } from "./journal.ts";
import { performServerAction } from "./server-procedure.ts";
import type {
  ActionReply,
  ActionRequest,
  Activity,
  ApplianceStatus,
  SimCluster,
  SimServer,
  SimSupercluster,
} from "./types.ts";
import { buildWorld, type Lineage } from "./world-build.ts";
import { checkCapacity } from "./world-capacity.ts";
import { type FaultReply, injectFault } from "./world-faults.ts";
import { reevaluateMatrix } from "./world-matrix.ts";
import { observeServer } from "./world-observe.ts";

/** Durations of lab-only actions the estimates table does not list, in seconds. */
const LAB_ESTIMATES: Record<string, number> = { mount: 5, unmount: 5, enable: 30 };

export type Reachability = "open" | "refuse" | "drop";

/**
 * The simulated fleet: every server's and cluster's state, the actions that change it, and the
 * observation each appliance reports. No I/O: time comes from the Scheduler, events go to the
 * journal and to the reachability listener (the HTTP layer opens and closes listeners on it).
 *
 * This class holds the state and the activity machinery (begin, interrupt, the replies); its
 * parts: world-build.ts (the fleet file made servers and clusters), world-capacity.ts (G3),
 * world-matrix.ts (a matrix's floor, mixed window and order: M3, M4), world-faults.ts (faults,
 * crash, reboot), world-observe.ts (what a server reports).
 */
export class LabWorld {
  readonly servers: Map<string, SimServer>;
  readonly clusters: Map<string, SimCluster>;
  readonly superclusters: Map<string, SimSupercluster>;
  /** The fleet file's superclusters, as the lab judges their upgrades (dma-judge.ts). */
  readonly lineages: Lineage[];
  /** Problems already recorded as violations by the membership judge (each once). */
  readonly judged = new Set<string>();
  private reachListener: ((server: string, r: Reachability) => void) | undefined;
  /** G3: the capacity domains below the fleet's floor right now (a violation is recorded once per dip). */
  private readonly belowFloor = new Set<string>();

  constructor(
    readonly fleet: Fleet,
    mapping: readonly AddressMapping[],
    readonly scheduler: Scheduler,
    readonly journal: LabJournal,
    readonly speed = 1,
  ) {
    const built = buildWorld(fleet, mapping);
    this.servers = built.servers;
    this.clusters = built.clusters;
    this.superclusters = built.superclusters;
    this.lineages = built.lineages;
    for (const c of this.clusters.values()) if (c.pack === "polyserve-matrix") this.reevaluateMatrix(c);
    for (const s of this.servers.values()) s.reported = { state: this.stateOf(s), release: s.release };
  }

  now(): number {
    return this.scheduler.now();
  }

  iso(t = this.now()): string {
    return new Date(t).toISOString();
  }

  /** Milliseconds an action takes on a cluster: its estimate (fleet file, else default) ÷ speed. */
  ms(c: SimCluster, action: string, factor = 1): number {
    const seconds =
      c.spec.estimates[action] ?? (LAB_ESTIMATES[action] !== undefined ? LAB_ESTIMATES[action] : undefined);
    const s = seconds ?? estimateFor(c.spec, action);
    return (s * 1000 * factor) / this.speed;
  }

  onReachability(listener: (server: string, r: Reachability) => void): void {
    this.reachListener = listener;
  }

  reachability(s: SimServer): Reachability {
    if (s.down || s.net === "refuse") return "refuse";
    return s.net === "drop" ? "drop" : "open";
  }

  private emitReach(s: SimServer): void {
    this.reachListener?.(s.name, this.reachability(s));
  }

  stateOf(s: SimServer): ServerState {
    if (s.down || s.net !== "ok") return "unreachable";
    if (s.software === "installing") return "installing";
    if (s.software === "stopped") return "stopped";
    return s.isolated ? "isolated" : "running";
  }

  /** Journals a server's state or release change, if any. */
  note(s: SimServer, why?: string): void {
    const state = this.stateOf(s);
    const prev = s.reported;
    if (prev && prev.state === state && prev.release === s.release) {
      this.checkCapacity(s.cluster);
      return;
    }
    s.reported = { state, release: s.release };
    this.journal.add({
      kind: "state",
      server: s.name,
      cluster: s.cluster.name,
      detail: `${s.name}: ${prev ? `${prev.state} (${prev.release}) → ` : ""}${state} (${s.release})${why ? `: ${why}` : ""}`,
      data: { state, release: s.release },
    });
    this.checkCapacity(s.cluster);
  }

  /** G3 after every change (world-capacity.ts): the changed cluster's domain, else every one. */
  checkCapacity(changed?: SimCluster): void {
    checkCapacity(this, this.belowFloor, changed);
  }

  // ── actions ───────────────────────────────────────────────────────────────────────

  /** One action received by `serverName` (from its API, or from the console: `lab act`). */
  perform(serverName: string, req: ActionRequest, origin: "api" | "console" = "api"): ActionReply {
    const s = this.servers.get(serverName);
    if (!s) return this.refuse(undefined, req.action, 404, "unknown-server", `no server named ${serverName}`);
    this.journal.add({
      kind: "action",
      server: s.name,
      cluster: s.cluster.name,
      action: req.action,
      detail: `${origin === "console" ? "console" : "API"}: ${req.action}${describeArgs(req)} on ${s.name}`,
    });
    if (s.down) return this.refuse(s, req.action, 503, "down", `${s.name} is down (rebooting)`);
    const reply =
      s.cluster.pack === "polycom-dma" ? performDmaAction(this, s, req) : performServerAction(this, s, req);
    this.checkCapacity(s.cluster);
    return reply;
  }

  /** A refusal: journaled, and recorded as a violation when it cites a rule. */
  refuse(
    s: SimServer | undefined,
    action: string,
    status: 400 | 404 | 409 | 503,
    code: string,
    message: string,
    rule?: string,
  ): ActionReply {
    const where = s ? { server: s.name, cluster: s.cluster.name } : {};
    this.journal.add({
      kind: "refused",
      action,
      detail: message,
      ...where,
      ...(rule ? { rule } : {}),
      data: { code },
    });
    if (rule) this.journal.violation(rule, message, where);
    return { status, body: { ok: false, code, message, ...(rule ? { rule } : {}) } };
  }

  done(s: SimServer, action: string, message?: string, already = false): ActionReply {
    return {
      status: 200,
      body: {
        ok: true,
        action,
        server: s.name,
        ...(already ? { already: true } : {}),
        ...(message ? { message } : {}),
      },
    };
  }

  /** The reply for a request that repeats the activity in progress (G5: not started twice). */
  joinActivity(s: SimServer, a: Activity): ActionReply {
    return {
      status: 202,
      body: {
        ok: true,
        action: a.action,
        server: s.name,
        already: true,
        accepted: true,
        endsAt: a.endsAt === null ? null : this.iso(a.endsAt),
        message: `${a.action} already in progress`,
      },
      completion: a.completion,
    };
  }

  /**
   * Starts an action on `owner` (a server, or a DMA cluster) that ends after `ms` (null: never by
   * itself). `finish` applies the effect and returns the final reply (default: 200 ok).
   */
  begin(
    owner: { activity?: Activity },
    receiver: SimServer,
    action: string,
    ms: number | null,
    finish: () => ActionReply | undefined,
    extra: { release?: string; mode?: string; interrupt?: () => void } = {},
  ): ActionReply {
    const startedAt = this.now();
    let resolveFn: (r: ActionReply) => void = () => {};
    const completion = new Promise<ActionReply>((r) => (resolveFn = r));
    const a: Activity = {
      action,
      startedAt,
      endsAt: ms === null ? null : startedAt + ms,
      waiters: [],
      completion,
      ...(extra.release ? { release: extra.release } : {}),
      ...(extra.mode ? { mode: extra.mode } : {}),
      ...(extra.interrupt ? { interrupt: extra.interrupt } : {}),
    };
    a.waiters.push(resolveFn);
    owner.activity = a;
    if (ms !== null) {
      a.handle = this.scheduler.after(ms, () => {
        if (owner.activity !== a) return;
        owner.activity = undefined;
        const reply = finish() ?? this.done(receiver, action);
        this.checkCapacity(receiver.cluster);
        for (const w of a.waiters) w(reply);
      });
    }
    return {
      status: 202,
      body: {
        ok: true,
        action,
        server: receiver.name,
        accepted: true,
        endsAt: a.endsAt === null ? null : this.iso(a.endsAt),
      },
      completion,
    };
  }

  /** Ends an activity early (a crash): its waiters are told the server went down. */
  interrupt(owner: { activity?: Activity }, s: SimServer, why: string): void {
    const a = owner.activity;
    if (!a) return;
    owner.activity = undefined;
    if (a.handle !== undefined) this.scheduler.cancel(a.handle);
    a.interrupt?.();
    const reply: ActionReply = {
      status: 503,
      body: { ok: false, code: "interrupted", message: `${a.action} on ${s.name} interrupted: ${why}` },
    };
    for (const w of a.waiters) w(reply);
  }

  // ── matrix membership (M3, M4, M6) ─────────────────────────────────────────────────

  running(c: SimCluster): SimServer[] {
    return c.servers.filter((s) => s.software === "running" && !s.down);
  }

  /** After any start, stop, crash or install in a matrix: floor (M4), mixed window, order (M3). */
  reevaluateMatrix(c: SimCluster): void {
    reevaluateMatrix(this, c);
  }

  // ── faults ────────────────────────────────────────────────────────────────────────

  fault(serverName: string, spec: FaultSpec): FaultReply {
    return injectFault(this, serverName, spec, (s) => this.emitReach(s));
  }

  // ── observation ───────────────────────────────────────────────────────────────────

  observe(serverName: string): ApplianceStatus | undefined {
    return observeServer(this, serverName);
  }

  /** Cancels every pending timer (the lab stops). */
  stop(): void {
    this.scheduler.clear();
  }
}

function describeArgs(req: ActionRequest): string {
  const parts: string[] = [];
  if (req.release) parts.push(req.release);
  if (req.filesystem) parts.push(req.filesystem);
  if (req.joins) parts.push(`joins ${req.joins}`);
  if (req.supercluster) parts.push(`supercluster ${req.supercluster}`);
  if (req.server) parts.push(`target ${req.server}`);
  if (req.unassigned?.length) parts.push(`unassigned ${req.unassigned.join(",")}`);
  if (req.territories?.length)
    parts.push(
      req.territories.map((t) => `${t.name}=${t.primary}${t.backup ? `/${t.backup}` : ""}`).join(","),
    );
  return parts.length ? ` ${parts.join(" ")}` : "";
}
