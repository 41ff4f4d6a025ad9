import type { ServerState } from "../model/appliance.ts";
import type { CompatibilityPolicy } from "../model/compatibility.ts";
import type { Fleet } from "../model/fleet.ts";
import type { TerritoryAssignment } from "../model/step.ts";
import { estimateFor } from "../model/estimates.ts";
import { compareReleases } from "./judge.ts";
import type { AddressMapping } from "./address-map.ts";
import type { Scheduler } from "./clock.ts";
import { performDmaAction, dmaObservation } from "./dma.ts";
import { type FaultSpec, isFaultKind } from "./faults.ts";
import type { LabJournal } from "./journal.ts";
import { highestRelease, isMixed, lowestRelease, outOfOrder } from "./matrix-rules.ts";
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

/** Durations of lab-only actions the estimates table does not list, in seconds. */
const LAB_ESTIMATES: Record<string, number> = { mount: 5, unmount: 5, enable: 30 };

/** A territory as the appliance holds it: its name, primary and backup, nothing else. */
function assignment(name: string, t: { primary: string; backup?: string }): TerritoryAssignment {
  return { name, primary: t.primary, ...(t.backup ? { backup: t.backup } : {}) };
}

export type Reachability = "open" | "refuse" | "drop";

/**
 * The simulated fleet: every server's and cluster's state, the actions that change it, and the
 * observation each appliance reports. No I/O: time comes from the Scheduler, events go to the
 * journal and to the reachability listener (the HTTP layer opens and closes listeners on it).
 */
export class LabWorld {
  readonly servers = new Map<string, SimServer>();
  readonly clusters = new Map<string, SimCluster>();
  readonly superclusters = new Map<string, SimSupercluster>();
  /**
   * The fleet file's superclusters, as the lab judges their upgrades (dma.ts judgeSuperclusters):
   * their clusters and territories as the file has them, the release last judged, and whether all
   * of them were out of service at once since (a maintenance window, D5).
   */
  readonly lineages: Array<{
    clusters: string[];
    territories: TerritoryAssignment[];
    judged: string;
    outage: boolean;
  }> = [];
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
    const loopbackOf = new Map(mapping.map((m) => [m.server, m.loopback]));
    for (const c of fleet.clusters) {
      const policy: CompatibilityPolicy = c.compatibility ??
        fleet.defaults.compatibility ?? { kind: "same-major-minor" };
      const sc: SimCluster = {
        name: c.name,
        pack: c.pack,
        spec: c,
        servers: [],
        policy,
        filesystems: c.filesystems.map((f) => f.name),
        floor: c.version,
        mixedSince: null,
        outOfOrder: false,
        supercluster: c.supercluster ?? null,
        busiedOut: false,
        inService: true,
        dataStore: { origin: c.name, lineage: [`created on ${c.name}`] },
        upgradedAt: null,
        leftSupercluster: null,
        dashboardMissing: new Set(),
      };
      for (const s of c.servers) {
        const mounts = new Set(c.filesystems.filter((f) => f.mountedOn.includes(s.name)).map((f) => f.name));
        const server: SimServer = {
          name: s.name,
          address: s.address,
          loopback: loopbackOf.get(s.name) ?? "",
          cluster: sc,
          release: s.version,
          package: s.version,
          software: "running",
          down: false,
          net: "ok",
          autostart: false,
          disabled: false,
          backups: 0,
          mounts,
          wantMounts: new Set(mounts),
          isolated: false,
          outSince: null,
          loginAt: 0,
          installs: 0,
          faults: new Map(),
        };
        sc.servers.push(server);
        this.servers.set(s.name, server);
      }
      sc.floor = lowestRelease(sc.servers) ?? c.version;
      this.clusters.set(c.name, sc);
    }
    for (const s of fleet.superclusters) {
      this.superclusters.set(s.name, {
        name: s.name,
        members: [...s.clusters],
        founder: s.clusters[0]!,
        // Where each territory is assigned now (mid-upgrade, D4/D6), else its design: the
        // appliance reports only { name, primary, backup }.
        territories: s.territories.map((t) => assignment(t.name, t.assigned ?? t)),
      });
      const releases = new Set(
        s.clusters.flatMap((n) => this.clusters.get(n)?.servers.map((x) => x.release) ?? []),
      );
      this.lineages.push({
        clusters: [...s.clusters],
        // The design: what a maintenance window restores (D5), whatever `assigned` says now.
        territories: s.territories.map((t) => assignment(t.name, t)),
        judged: releases.size === 1 ? [...releases][0]! : "",
        outage: false,
      });
    }
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
      this.checkCapacity();
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
    this.checkCapacity();
  }

  // ── capacity (G3) ─────────────────────────────────────────────────────────────────

  /**
   * G3 as the lab sees it: the share of each capacity domain in service, against the fleet file's
   * `capacityFloor`, after every change. A domain is a supercluster of the fleet file (its clusters,
   * wherever they are now), else a cluster. A matrix or generic server serves while it is up, its
   * software runs and it is not disabled; a DMA cluster while it is in service, not busied out, has
   * a server up, no install under way, and is a member of a supercluster if it was one. Going below
   * the floor is recorded once per dip, as a violation of G3.
   */
  checkCapacity(): void {
    const floor = this.fleet.defaults.capacityFloor;
    if (!(floor > 0)) return;
    const domains = new Map<string, SimCluster[]>();
    for (const sc of this.fleet.superclusters)
      domains.set(
        sc.name,
        sc.clusters.map((n) => this.clusters.get(n)).filter((c): c is SimCluster => c !== undefined),
      );
    for (const c of this.clusters.values())
      if (!this.fleet.superclusters.some((sc) => sc.clusters.includes(c.name))) domains.set(c.name, [c]);
    for (const [domain, clusters] of domains) {
      let total = 0;
      let serving = 0;
      const out: string[] = [];
      for (const c of clusters) {
        if (c.pack === "polycom-dma") {
          total += c.spec.capacity;
          const serves =
            c.inService &&
            !c.busiedOut &&
            c.servers.some((s) => !s.down) &&
            c.activity?.action !== "install" &&
            (c.spec.supercluster === undefined || c.supercluster !== null);
          if (serves) serving += c.spec.capacity;
          else out.push(c.name);
        } else {
          for (const s of c.servers) {
            const weight = c.spec.servers.find((x) => x.name === s.name)?.capacity ?? 1;
            total += weight;
            if (!s.down && s.software === "running" && !s.disabled) serving += weight;
            else out.push(s.name);
          }
        }
      }
      const share = total === 0 ? 1 : serving / total;
      if (share + 1e-9 < floor) {
        if (this.belowFloor.has(domain)) continue;
        this.belowFloor.add(domain);
        this.journal.violation(
          "G3",
          `${domain} has ${Math.floor(share * 100 + 1e-9)}% of its capacity in service, below the floor ${Math.round(floor * 100)}% (out of service: ${out.join(", ")})`,
          clusters.length === 1 ? { cluster: clusters[0]!.name } : {},
        );
      } else this.belowFloor.delete(domain);
    }
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
    this.checkCapacity();
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
    extra: { release?: string; interrupt?: () => void } = {},
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
      ...(extra.interrupt ? { interrupt: extra.interrupt } : {}),
    };
    a.waiters.push(resolveFn);
    owner.activity = a;
    if (ms !== null) {
      a.handle = this.scheduler.after(ms, () => {
        if (owner.activity !== a) return;
        owner.activity = undefined;
        const reply = finish() ?? this.done(receiver, action);
        this.checkCapacity();
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
    const running = this.running(c);
    const lo = lowestRelease(running);
    if (lo !== undefined && compareReleases(lo, c.floor) > 0) {
      c.floor = lo;
      this.journal.add({
        kind: "state",
        cluster: c.name,
        detail: `${c.name}: the last server on a release older than ${lo} has left; only ${lo} or later may join (M4)`,
      });
    }
    const hiAll = highestRelease(c.servers);
    if (isMixed(running)) c.mixedSince ??= this.now();
    else if (lo === undefined || (hiAll !== undefined && compareReleases(lo, hiAll) === 0))
      c.mixedSince = null;

    const ooo = outOfOrder(running);
    if (ooo) {
      const newest = highestRelease(running)!;
      const reason = `${ooo.offender.name} (${ooo.offender.release}, ${ooo.offender.address}) runs while ${ooo.higher
        .map((h) => `${h.name} (${h.release}, ${h.address})`)
        .join(", ")} with a higher address still run${ooo.higher.length === 1 ? "s" : ""} the old release`;
      for (const s of running) {
        if (compareReleases(s.release, newest) < 0 && !s.isolated) {
          s.isolated = true;
          s.isolatedReason = `${reason}: ${s.name} believes it must leave the matrix and sends no updates (M3)`;
        }
      }
      if (!c.outOfOrder) this.journal.violation("M3", `out-of-order upgrade: ${reason}`, { cluster: c.name });
      c.outOfOrder = true;
    } else c.outOfOrder = false;
    for (const s of c.servers) this.note(s);
  }

  // ── faults ────────────────────────────────────────────────────────────────────────

  fault(
    serverName: string,
    spec: FaultSpec,
  ): { ok: true; server: string; kind: string } | { ok: false; code: string; message: string } {
    const s = this.servers.get(serverName);
    if (!s) return { ok: false, code: "unknown-server", message: `no server named ${serverName}` };
    if (!isFaultKind(spec.kind))
      return { ok: false, code: "unknown-fault", message: `no fault ${spec.kind}` };
    this.journal.add({
      kind: "fault",
      server: s.name,
      cluster: s.cluster.name,
      detail: `fault ${spec.kind}${spec.factor ? ` ×${spec.factor}` : ""}${spec.once ? " (once)" : ""} on ${s.name}`,
    });
    switch (spec.kind) {
      case "crash":
        this.crash(s, spec.factor ?? 1);
        break;
      case "clear":
        s.faults.clear();
        s.net = "ok";
        s.cluster.dashboardMissing.delete(s.name);
        if (s.down) {
          if (s.rebootHandle !== undefined) this.scheduler.cancel(s.rebootHandle);
          this.reboot(s);
        }
        this.emitReach(s);
        break;
      case "unreachable-refuse":
      case "unreachable-drop":
        s.net = spec.kind === "unreachable-refuse" ? "refuse" : "drop";
        s.faults.set(spec.kind, { kind: spec.kind, since: this.now() });
        s.faults.delete(spec.kind === "unreachable-refuse" ? "unreachable-drop" : "unreachable-refuse");
        this.emitReach(s);
        break;
      default:
        s.faults.set(spec.kind, {
          kind: spec.kind,
          since: this.now(),
          ...(spec.factor !== undefined ? { factor: spec.factor } : {}),
          ...(spec.once ? { once: true } : {}),
        });
    }
    this.note(s, `fault ${spec.kind}`);
    return { ok: true, server: s.name, kind: spec.kind };
  }

  private crash(s: SimServer, factor: number): void {
    if (s.down) return;
    const c = s.cluster;
    // An interrupted matrix install leaves the software stopped; a DMA appliance boots its services.
    s.autostart = s.software === "running" || (c.pack === "polycom-dma" && s.software === "installing");
    if (s.activity) this.interrupt(s, s, "the server crashed");
    if (c.activity) this.interrupt(c, s, `${s.name} crashed`);
    s.down = true;
    s.software = "stopped";
    s.mounts.clear();
    s.isolated = false;
    s.isolatedReason = undefined;
    s.outSince = this.now();
    this.emitReach(s);
    this.note(s, "crashed");
    if (c.pack === "polyserve-matrix") this.reevaluateMatrix(c);
    const rebootMs = this.ms(c, "start", factor);
    s.rebootHandle = this.scheduler.after(rebootMs, () => this.reboot(s));
  }

  private reboot(s: SimServer): void {
    s.rebootHandle = undefined;
    s.down = false;
    this.emitReach(s);
    this.note(s, "rebooted");
    if (!s.autostart) return;
    s.autostart = false;
    // The software starts by itself, as after any reboot (M4: it may be refused).
    this.perform(s.name, { action: "start" }, "console");
  }

  // ── observation ───────────────────────────────────────────────────────────────────

  observe(serverName: string): ApplianceStatus | undefined {
    const s = this.servers.get(serverName);
    if (!s) return undefined;
    const c = s.cluster;
    const a = s.activity ?? c.activity;
    const base: ApplianceStatus = {
      server: s.name,
      cluster: c.name,
      address: s.address,
      pack: c.pack,
      state: this.stateOf(s),
      release: s.release,
      backups: s.backups,
      activity: a
        ? {
            action: a.action,
            ...(a.release ? { release: a.release } : {}),
            startedAt: this.iso(a.startedAt),
            endsAt: a.endsAt === null ? null : this.iso(a.endsAt),
          }
        : null,
      ...(s.lastInstall ? { lastInstall: { ...s.lastInstall } } : {}),
    };
    if (c.pack === "polycom-dma") return { ...base, ...dmaObservation(this, s) };
    const running = this.running(c);
    const members =
      s.software !== "running" || s.down
        ? []
        : s.isolated
          ? [s.name]
          : running.filter((m) => !m.isolated).map((m) => m.name);
    return {
      ...base,
      disabled: s.disabled,
      members,
      mounts: [...s.mounts].sort(),
      ...(s.isolatedReason && s.isolated ? { isolatedReason: s.isolatedReason } : {}),
    };
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
