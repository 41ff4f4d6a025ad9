import { isRelease, releasesMayMeet } from "./judge.ts";
import type { TerritoryAssignment } from "../model/step.ts";
import { installEffect } from "./faults.ts";
import { performServerAction } from "./server-procedure.ts";
import type {
  ActionReply,
  ActionRequest,
  ApplianceStatus,
  SimCluster,
  SimServer,
  SimSupercluster,
} from "./types.ts";
import type { LabWorld } from "./world.ts";

/**
 * How a Polycom DMA cluster behaves (Operations Guide, rules.md D1–D10), written for the lab and
 * independent of rules/. Cluster-wide actions may be sent to any server of the cluster and act on
 * the whole cluster; the install runs on every server, and login comes back after install + settle.
 */
export const DMA_CLUSTER_ACTIONS = [
  "busy-out",
  "return-to-service",
  "reassign-territories",
  "restore-territories",
  "leave-supercluster",
  "join-supercluster",
  "install",
  "verify",
] as const;
const SERVER_LEVEL = ["stop", "start", "backup"];

/** At most five clusters in a supercluster (D1). */
export const SUPERCLUSTER_MAX = 5;

function up(s: SimServer): boolean {
  return !s.down && s.software === "running";
}

function online(s: SimServer): boolean {
  return up(s) && s.net === "ok";
}

export function login(w: LabWorld, s: SimServer): boolean {
  return up(s) && w.now() >= s.loginAt;
}

function releasesOf(c: SimCluster): string[] {
  return [...new Set(c.servers.map((s) => s.release))];
}

function compatible(a: SimCluster, b: SimCluster): boolean {
  return releasesOf(a).every((x) => releasesOf(b).every((y) => releasesMayMeet(x, y, a.policy)));
}

export function performDmaAction(w: LabWorld, s: SimServer, req: ActionRequest): ActionReply {
  const c = s.cluster;
  const action = req.action;
  if (SERVER_LEVEL.includes(action)) {
    if (c.activity)
      return w.refuse(s, action, 503, "busy", `${c.name} is busy: ${c.activity.action} in progress`);
    return performServerAction(w, s, req);
  }
  if (!(DMA_CLUSTER_ACTIONS as readonly string[]).includes(action))
    return w.refuse(
      s,
      action,
      400,
      "unknown-action",
      `a polycom-dma cluster has no action "${action}" (actions: ${[...DMA_CLUSTER_ACTIONS, ...SERVER_LEVEL].join(", ")})`,
    );
  if (c.activity) {
    const a = c.activity;
    if (a.action === action && (action !== "install" || a.release === req.release))
      return w.joinActivity(s, a);
    return w.refuse(
      s,
      action,
      503,
      a.action === "install" ? "installing" : "busy",
      `${c.name} is busy: ${a.action}${a.release ? ` ${a.release}` : ""} in progress`,
    );
  }
  if (s.software !== "running")
    return w.refuse(s, action, 503, "not-running", `${s.name} is ${s.software}: it cannot manage ${c.name}`);
  if (!login(w, s))
    return w.refuse(
      s,
      action,
      503,
      "settling",
      `${s.name} is still settling after its install: log in later`,
    );
  switch (action) {
    case "busy-out":
      if (c.busiedOut && !c.inService) return w.done(s, action, `${c.name} is already busied out`, true);
      return w.begin(c, s, action, w.ms(c, action), () => {
        c.busiedOut = true;
        c.inService = false;
        journalCluster(w, c, `${c.name} busied out and out of service`);
        judgeSuperclusters(w);
        return undefined;
      });
    case "return-to-service":
      if (!c.busiedOut && c.inService) return w.done(s, action, `${c.name} is already in service`, true);
      // D6: a cluster that left its supercluster serves again as a member of one (the new one it
      // joined or founded), not on its own beside both
      if (c.supercluster === null && c.leftSupercluster !== null)
        return w.refuse(
          s,
          action,
          409,
          "outside-supercluster",
          `${c.name} left ${c.leftSupercluster} and is a member of no supercluster: it returns to service once it has joined or founded the new one`,
          "D6",
        );
      return w.begin(c, s, action, w.ms(c, action), () => {
        c.busiedOut = false;
        c.inService = true;
        journalCluster(w, c, `${c.name} back in service`);
        judgeSuperclusters(w);
        return undefined;
      });
    case "reassign-territories":
    case "restore-territories":
      return territories(w, s, req);
    case "leave-supercluster":
      return leave(w, s);
    case "join-supercluster":
      return join(w, s, req);
    case "install":
      return install(w, s, req);
    default:
      return verify(w, s, req);
  }
}

function journalCluster(w: LabWorld, c: SimCluster, detail: string): void {
  w.journal.add({ kind: "state", cluster: c.name, detail });
}

function territories(w: LabWorld, s: SimServer, req: ActionRequest): ActionReply {
  const c = s.cluster;
  const action = req.action;
  const list = req.territories ?? [];
  const unassigned = req.unassigned ?? [];
  if (
    !Array.isArray(list) ||
    !Array.isArray(unassigned) ||
    (list.length === 0 && unassigned.length === 0) ||
    list.some((t) => !t || typeof t.name !== "string") ||
    unassigned.some((n) => typeof n !== "string") ||
    (action === "restore-territories" && unassigned.length > 0)
  )
    return w.refuse(
      s,
      action,
      400,
      "bad-request",
      action === "restore-territories"
        ? `${action} needs territories: [{ name, primary, backup? }]`
        : `${action} needs territories: [{ name, primary, backup? }], or unassigned: [NAME, …] (D5: recorded and taken off the supercluster while it is out of service)`,
    );
  const sc = c.supercluster ? w.superclusters.get(c.supercluster) : undefined;
  if (!sc) return w.refuse(s, action, 409, "not-member", `${c.name} is not a member of a supercluster`);
  for (const t of list) {
    for (const who of [t.primary, t.backup]) {
      if (who !== undefined && !sc.members.includes(who))
        return w.refuse(
          s,
          action,
          409,
          "not-member",
          `territory ${t.name}: ${who} is not a member of ${sc.name} (${sc.members.join(", ")})`,
        );
    }
  }
  // D5: a territory is left without a cluster only in a maintenance window, once the whole
  // supercluster is out of service (a cluster still in service would take calls nobody routes)
  const toDrop = sc.territories.filter((t) => unassigned.includes(t.name));
  if (toDrop.length > 0) {
    const serving = sc.members.filter((m) => w.clusters.get(m)?.inService);
    if (serving.length)
      return w.refuse(
        s,
        action,
        409,
        "members-in-service",
        `cannot take ${toDrop.map((t) => t.name).join(", ")} off ${sc.name} while ${serving.join(", ")} ${serving.length === 1 ? "is" : "are"} in service: territories are recorded and left unassigned only in a maintenance window, with the whole supercluster out of service`,
        "D5",
      );
  }
  const same = (a: TerritoryAssignment, b: TerritoryAssignment) =>
    a.primary === b.primary && (a.backup ?? null) === (b.backup ?? null);
  if (toDrop.length === 0 && list.every((t) => sc.territories.some((x) => x.name === t.name && same(x, t))))
    return w.done(s, action, "the territories are already assigned so", true);
  return w.begin(c, s, action, w.ms(c, action), () => {
    // Recorded (D5): the journal keeps each one's primary and backup; the restore brings them back.
    const dropped = sc.territories.filter((t) => unassigned.includes(t.name));
    if (dropped.length) {
      sc.territories = sc.territories.filter((t) => !unassigned.includes(t.name));
      journalCluster(
        w,
        c,
        `${sc.name} territories recorded and unassigned until restored: ${dropped.map(fmtTerritory).join(", ")}`,
      );
    }
    for (const t of list) {
      const next: TerritoryAssignment = {
        name: t.name,
        primary: t.primary,
        ...(t.backup ? { backup: t.backup } : {}),
      };
      const i = sc.territories.findIndex((x) => x.name === t.name);
      if (i >= 0) sc.territories[i] = next;
      else sc.territories.push(next);
      // A territory is served by one supercluster at a time: taking it over hands it over (D6).
      for (const other of w.superclusters.values()) {
        if (other === sc) continue;
        const j = other.territories.findIndex((x) => x.name === t.name);
        if (j >= 0) {
          other.territories.splice(j, 1);
          journalCluster(w, c, `territory ${t.name} handed over from ${other.name} to ${sc.name}`);
        }
      }
    }
    journalCluster(w, c, `${sc.name} territories: ${sc.territories.map(fmtTerritory).join(", ") || "none"}`);
    judgeSuperclusters(w);
    return undefined;
  });
}

function fmtTerritory(t: TerritoryAssignment): string {
  return `${t.name}=${t.primary}${t.backup ? `/${t.backup}` : ""}`;
}

function leave(w: LabWorld, s: SimServer): ActionReply {
  const c = s.cluster;
  const sc = c.supercluster ? w.superclusters.get(c.supercluster) : undefined;
  if (!sc) return w.done(s, "leave-supercluster", `${c.name} is not a member of a supercluster`, true);
  const others = sc.members.filter((m) => m !== c.name);
  const problems: string[] = [];
  if (others.length > 0) {
    const held = sc.territories.filter((t) => t.primary === c.name || t.backup === c.name).map((t) => t.name);
    if (held.length)
      problems.push(`its territories (${held.join(", ")}) are not reassigned to other clusters`);
  }
  if (!c.busiedOut || c.inService) problems.push("it is not busied out and out of service");
  const offline = c.servers.filter((x) => !online(x)).map((x) => x.name);
  if (offline.length) problems.push(`not all its servers are online (${offline.join(", ")})`);
  if (problems.length)
    return w.refuse(
      s,
      "leave-supercluster",
      409,
      "leave-refused",
      `${c.name} cannot leave ${sc.name}: ${problems.join("; ")}`,
      "D4",
    );
  return w.begin(c, s, "leave-supercluster", w.ms(c, "leave-supercluster"), () => {
    sc.members = sc.members.filter((m) => m !== c.name);
    c.supercluster = null;
    c.leftSupercluster = sc.name;
    if (sc.members.length === 0) w.superclusters.delete(sc.name);
    else if (sc.founder === c.name) sc.founder = sc.members[0]!;
    journalCluster(
      w,
      c,
      `${c.name} left ${sc.name}${sc.members.length ? ` (${sc.members.join(", ")} remain)` : " (dissolved)"}`,
    );
    judgeSuperclusters(w);
    return undefined;
  });
}

function join(w: LabWorld, s: SimServer, req: ActionRequest): ActionReply {
  const x = s.cluster;
  const action = "join-supercluster";
  if (!req.joins) return w.refuse(s, action, 400, "bad-request", "join-supercluster needs joins: CLUSTER");
  const y = w.clusters.get(req.joins);
  if (y?.pack !== "polycom-dma")
    return w.refuse(s, action, 404, "unknown-cluster", `no polycom-dma cluster named ${req.joins}`);
  if (y === x) return w.refuse(s, action, 400, "bad-request", `${x.name} cannot join itself`);
  const target = y.supercluster ? w.superclusters.get(y.supercluster) : undefined;
  if (x.supercluster) {
    if (x.supercluster === y.supercluster)
      return w.done(s, action, `${x.name} is already a member of ${x.supercluster}`, true);
    return w.refuse(
      s,
      action,
      409,
      "member",
      `${x.name} is a member of ${x.supercluster}: it must leave first`,
      "D1",
    );
  }
  if (target && target.members.length >= SUPERCLUSTER_MAX)
    return w.refuse(
      s,
      action,
      409,
      "supercluster-full",
      `${target.name} already has ${SUPERCLUSTER_MAX} clusters (${target.members.join(", ")})`,
      "D1",
    );
  const peers = target ? target.members.map((m) => w.clusters.get(m)!) : [y];
  const bad = peers.filter((p) => !compatible(x, p));
  if (bad.length)
    return w.refuse(
      s,
      action,
      409,
      "incompatible",
      `${x.name} (${releasesOf(x).join(", ")}) is not compatible with ${bad.map((p) => `${p.name} (${releasesOf(p).join(", ")})`).join(", ")}: clusters of one supercluster run compatible releases`,
      "D2",
    );
  const offline = [...x.servers, ...y.servers].filter((v) => !online(v)).map((v) => v.name);
  if (offline.length)
    return w.refuse(s, action, 409, "server-offline", `servers offline: ${offline.join(", ")}`);
  const name = target?.name ?? req.supercluster ?? uniqueName(w, `sc-${y.name}`);
  if (!target && w.superclusters.has(name))
    return w.refuse(s, action, 409, "supercluster-exists", `a supercluster named ${name} already exists`);
  return w.begin(x, s, action, w.ms(x, action), () => {
    // Membership as it is now, not as it was when the join was asked for: joins that ran side by
    // side all land in one supercluster, none overwrites another's.
    let sc = y.supercluster ? w.superclusters.get(y.supercluster) : undefined;
    // D10, joining a cluster that is in no supercluster (the two found one): the earlier upgraded
    // should have been the one joined. Joining a founded supercluster is the right direction.
    if (!sc && x.upgradedAt !== null && (y.upgradedAt === null || x.upgradedAt < y.upgradedAt)) {
      w.journal.violation(
        "D10",
        `join in the wrong direction: ${x.name} was upgraded before ${y.name} (it founds the new supercluster), yet it joined ${y.name}; its data store was replaced by a copy of ${y.name}'s`,
        { cluster: x.name },
      );
    }
    x.dataStore = {
      origin: y.dataStore.origin,
      lineage: [
        ...x.dataStore.lineage,
        `replaced by a copy of ${y.name}'s data store (origin ${y.dataStore.origin}) at ${w.iso()}`,
      ],
    };
    if (!sc) {
      sc = { name: uniqueName(w, name), members: [y.name], founder: y.name, territories: [] };
      w.superclusters.set(sc.name, sc);
      y.supercluster = sc.name;
      y.leftSupercluster = null;
    }
    // One membership change at a time (this runs in the lab's single timer thread): the member
    // list as it is now, with x added, never a copy taken when the join was asked for.
    const lost = x.servers.find((v) => v.faults.has("join-lost"));
    if (lost) lost.faults.delete("join-lost");
    else if (!sc.members.includes(x.name)) sc.members.push(x.name);
    x.supercluster = sc.name;
    x.leftSupercluster = null;
    journalCluster(
      w,
      x,
      `${x.name} joined ${sc.name} through ${y.name} (members: ${sc.members.join(", ")})${lost ? ` (fault join-lost on ${lost.name}: the join was not replicated to ${sc.name})` : ""}`,
    );
    judgeSuperclusters(w);
    return undefined;
  });
}

function uniqueName(w: LabWorld, base: string): string {
  let n = base;
  for (let i = 2; w.superclusters.has(n); i++) n = `${base}-${i}`;
  return n;
}

function install(w: LabWorld, s: SimServer, req: ActionRequest): ActionReply {
  const c = s.cluster;
  const release = req.release;
  if (!release || !isRelease(release))
    return w.refuse(s, "install", 400, "bad-request", "install needs a release such as 10.1.0");
  if (c.servers.every((x) => x.release === release))
    return w.done(s, "install", `${c.name} already runs ${release}`, true);
  if (c.supercluster) {
    const incompatible = releasesOf(c).filter((r) => !releasesMayMeet(r, release, c.policy));
    if (incompatible.length)
      return w.refuse(
        s,
        "install",
        409,
        "member-incompatible",
        `${c.name} is a member of ${c.supercluster}: it cannot install ${release}, incompatible with ${incompatible.join(", ")}, while a member of a supercluster`,
        "D4",
      );
  }
  const offline = c.servers.filter((x) => !up(x)).map((x) => x.name);
  if (offline.length)
    return w.refuse(
      s,
      "install",
      409,
      "server-offline",
      `the install runs on every server; offline: ${offline.join(", ")}`,
    );
  const faults = c.servers.flatMap((x) => [...x.faults.values()]);
  const effect = installEffect(faults);
  for (const x of c.servers)
    for (const f of [...x.faults.values()])
      if (f.once && ["install-fails", "install-hangs", "slow-install"].includes(f.kind))
        x.faults.delete(f.kind);
  const from = new Map(c.servers.map((x) => [x.name, x.release]));
  for (const x of c.servers) {
    x.installs++;
    x.backups++; // D7: the install takes a backup by itself
    x.software = "installing";
    x.lastInstall = { release, result: "running", at: w.iso() };
    w.note(x, `installing ${release}`);
  }
  const settle = w.ms(c, "settle");
  return w.begin(
    c,
    s,
    "install",
    effect.hangs ? null : w.ms(c, "install", effect.factor),
    () => {
      const now = w.now();
      for (const x of c.servers) {
        x.software = "running";
        x.loginAt = now + settle;
        if (effect.fails) {
          x.lastInstall = { release, result: "failed", at: w.iso() };
        } else {
          if (!x.faults.has("package-mismatch")) {
            x.release = release;
            x.package = release;
          }
          x.lastInstall = { release, result: "ok", at: w.iso() };
          if (x.faults.has("dashboard-missing")) c.dashboardMissing.add(x.name);
        }
        w.note(x, effect.fails ? `install of ${release} failed` : `installed ${release}`);
      }
      if (effect.fails)
        return {
          status: 409,
          body: {
            ok: false,
            code: "install-failed",
            message: `the install of ${release} on ${c.name} failed; it still has ${[...new Set(from.values())].join(", ")}`,
          },
        };
      c.upgradedAt = now;
      return undefined;
    },
    {
      release,
      interrupt: () => {
        for (const x of c.servers) {
          x.lastInstall = { release, result: "interrupted", at: w.iso() };
          if (!x.down) {
            x.software = "running";
            x.loginAt = w.now() + settle;
          }
          w.note(x, "install interrupted");
        }
      },
    },
  );
}

/**
 * D8's verification. With `supercluster`, a verified cluster that is in no supercluster founds
 * that one as its first member (D6: "the first upgraded cluster founds it"; the others join it).
 */
function verify(w: LabWorld, s: SimServer, req: ActionRequest): ActionReply {
  const c = s.cluster;
  const founds =
    typeof req.supercluster === "string" && req.supercluster !== "" ? req.supercluster : undefined;
  if (founds && c.supercluster === null && w.superclusters.has(founds))
    return w.refuse(s, "verify", 409, "supercluster-exists", `a supercluster named ${founds} already exists`);
  return w.begin(c, s, "verify", w.ms(c, "verify"), () => {
    const obs = dmaObservation(w, s);
    const fail = (rule: string, message: string): ActionReply => ({
      status: 409,
      body: { ok: false, code: "verify-failed", rule, message },
    });
    if (!obs.login) return fail("D8a", `cannot log in to ${c.name}`);
    if ((obs.dashboard?.length ?? 0) < c.servers.length)
      return fail(
        "D8b",
        `the dashboard shows ${obs.dashboard?.join(", ") || "no server"} of ${c.servers.map((x) => x.name).join(", ")}`,
      );
    const versions = new Set(Object.values(obs.packages ?? {}));
    if (versions.size > 1)
      return fail(
        "D8c",
        `package versions differ: ${Object.entries(obs.packages ?? {})
          .map(([k, v]) => `${k} ${v}`)
          .join(", ")}`,
      );
    if (founds && c.supercluster === null && !w.superclusters.has(founds)) {
      w.superclusters.set(founds, { name: founds, members: [c.name], founder: c.name, territories: [] });
      c.supercluster = founds;
      c.leftSupercluster = null;
      journalCluster(w, c, `${c.name} founded ${founds} (members: ${c.name})`);
      judgeSuperclusters(w);
    }
    return w.done(s, "verify", `${c.name} runs ${releasesOf(c).join(", ")}, clustered`);
  });
}

/** What a DMA server reports about itself, its cluster and its supercluster. */
export function dmaObservation(w: LabWorld, s: SimServer): Partial<ApplianceStatus> {
  const c = s.cluster;
  const sc = c.supercluster ? w.superclusters.get(c.supercluster) : undefined;
  const ok = login(w, s);
  const upServers = c.servers.filter(up);
  const dashboard = ok ? upServers.filter((x) => !c.dashboardMissing.has(x.name)).map((x) => x.name) : [];
  const packages: Record<string, string> = {};
  if (ok) for (const x of upServers) packages[x.name] = x.package;
  return {
    members: upServers.map((x) => x.name),
    login: ok,
    dashboard,
    packages,
    clustered:
      c.servers.length < 2
        ? ok
        : ok &&
          upServers.length === c.servers.length &&
          c.dashboardMissing.size === 0 &&
          !c.servers.some((x) => x.faults.has("private-link-down")),
    supercluster: sc?.name ?? null,
    // a lost member (its join not replicated) still counts itself in: its own view
    superclusterMembers: sc ? (sc.members.includes(c.name) ? [...sc.members] : [...sc.members, c.name]) : [],
    inService: c.inService && upServers.length > 0,
    busiedOut: c.busiedOut,
    territories: sc ? sc.territories.map((t) => ({ ...t })) : [],
    dataStore: { origin: c.dataStore.origin, lineage: [...c.dataStore.lineage] },
  };
}

/**
 * The lab as judge of supercluster membership, after every membership or service change:
 *
 * - every cluster that sees itself a member of a supercluster is on that supercluster's member
 *   list, and every listed member sees itself in it (D10: a join that was not replicated, a lost
 *   member);
 * - at the end of an upgrade of a fleet file's supercluster (every one of its clusters back in
 *   service, none busy, all on one new release): every cluster of it is a member of one
 *   supercluster (D5 after a maintenance window, i.e. once all of them were out of service at
 *   once; D6 otherwise), and after a maintenance window every territory is back on its recorded
 *   primary and backup (D5 restores them before the return to service; an incremental upgrade
 *   restores them after it, so the lab cannot tell when that journey ends and leaves them be).
 *
 * Each problem is recorded once as a violation.
 */
export function judgeSuperclusters(w: LabWorld): void {
  const once = (key: string, rule: string, detail: string, cluster: string) => {
    if (w.judged.has(key)) return;
    w.judged.add(key);
    w.journal.violation(rule, detail, { cluster });
  };
  for (const c of w.clusters.values()) {
    if (c.pack !== "polycom-dma" || c.supercluster === null) continue;
    const sc = w.superclusters.get(c.supercluster);
    if (!sc?.members.includes(c.name))
      once(
        `lost ${c.name} ${c.supercluster} ${c.upgradedAt}`,
        "D10",
        `lost member: ${c.name} sees itself a member of ${c.supercluster}, whose member list (${sc?.members.join(", ") || "none"}) lacks it`,
        c.name,
      );
  }
  for (const sc of w.superclusters.values())
    for (const m of sc.members) {
      const c = w.clusters.get(m);
      if (c && c.supercluster !== sc.name)
        once(
          `listed ${m} ${sc.name} ${c.upgradedAt}`,
          "D10",
          `${sc.name} lists ${m} as a member, but ${m} sees itself in ${c.supercluster ?? "no supercluster"}`,
          m,
        );
    }
  for (const l of w.lineages) {
    const cs = l.clusters.map((n) => w.clusters.get(n)).filter((c): c is SimCluster => c !== undefined);
    if (cs.length === 0) continue;
    if (cs.every((c) => !c.inService)) l.outage = true;
    if (!cs.every((c) => c.inService && !c.busiedOut && !c.activity)) continue;
    const releases = new Set(cs.flatMap((c) => c.servers.map((x) => x.release)));
    if (releases.size !== 1) continue;
    const release = [...releases][0]!;
    if (release === l.judged) continue;
    l.judged = release;
    const window = l.outage;
    l.outage = false;
    const rule = window ? "D5" : "D6";
    // the supercluster the upgrade formed: the one that lists most of them
    const scs = [...w.superclusters.values()];
    const count = (sc: SimSupercluster) => cs.filter((c) => sc.members.includes(c.name)).length;
    const sc = scs.reduce<SimSupercluster | undefined>(
      (b, x) => (!b || count(x) > count(b) ? x : b),
      undefined,
    );
    const names = l.clusters.join(", ");
    for (const c of cs) {
      if (sc?.members.includes(c.name) && c.supercluster === sc.name) continue;
      w.journal.violation(
        rule,
        `after the upgrade of ${names} to ${release}, ${c.name} is not a member of ${sc?.name ?? "any supercluster"} (members: ${sc?.members.join(", ") || "none"}; ${c.name} sees itself in ${c.supercluster ?? "no supercluster"}): every cluster of the supercluster belongs to the new one`,
        { cluster: c.name },
      );
    }
    if (!window || !sc) continue;
    for (const t of l.territories) {
      const now = sc.territories.find((x) => x.name === t.name);
      if (now && now.primary === t.primary && (now.backup ?? null) === (t.backup ?? null)) continue;
      w.journal.violation(
        "D5",
        `after the maintenance window, territory ${t.name} is ${now ? `on ${fmtTerritory(now)}` : "unassigned"} in ${sc.name}, not restored to its recorded ${fmtTerritory(t)}`,
        { cluster: t.primary },
      );
    }
  }
}
