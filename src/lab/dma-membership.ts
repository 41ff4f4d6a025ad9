import { compatible, journalCluster, online, releasesOf } from "./dma-cluster.ts";
import { judgeSuperclusters } from "./dma-judge.ts";
import type { ActionReply, ActionRequest, SimCluster, SimServer, SimSupercluster } from "./types.ts";
import type { LabWorld } from "./world.ts";

/** At most five clusters in a supercluster (D1). */
export const SUPERCLUSTER_MAX = 5;

/** leave-supercluster (D4): only a busied-out cluster, all of it online, its territories handed on. */
export function leave(w: LabWorld, s: SimServer): ActionReply {
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

const JOIN = "join-supercluster";

/** join-supercluster (D1, D2, D10): x joins y's supercluster, or founds one with y. */
export function join(w: LabWorld, s: SimServer, req: ActionRequest): ActionReply {
  const x = s.cluster;
  if (!req.joins) return w.refuse(s, JOIN, 400, "bad-request", "join-supercluster needs joins: CLUSTER");
  const y = w.clusters.get(req.joins);
  if (y?.pack !== "polycom-dma")
    return w.refuse(s, JOIN, 404, "unknown-cluster", `no polycom-dma cluster named ${req.joins}`);
  if (y === x) return w.refuse(s, JOIN, 400, "bad-request", `${x.name} cannot join itself`);
  const target = y.supercluster ? w.superclusters.get(y.supercluster) : undefined;
  if (x.supercluster) {
    if (x.supercluster === y.supercluster)
      return w.done(s, JOIN, `${x.name} is already a member of ${x.supercluster}`, true);
    return w.refuse(
      s,
      JOIN,
      409,
      "member",
      `${x.name} is a member of ${x.supercluster}: it must leave first`,
      "D1",
    );
  }
  const refused = joinRefusal(w, s, x, y, target);
  if (refused) return refused;
  const name = target?.name ?? req.supercluster ?? uniqueName(w, `sc-${y.name}`);
  if (!target && w.superclusters.has(name))
    return w.refuse(s, JOIN, 409, "supercluster-exists", `a supercluster named ${name} already exists`);
  return w.begin(x, s, JOIN, w.ms(x, JOIN), () => {
    completeJoin(w, x, y, name);
    return undefined;
  });
}

/** A full supercluster (D1), incompatible releases (D2), or a server offline. */
function joinRefusal(
  w: LabWorld,
  s: SimServer,
  x: SimCluster,
  y: SimCluster,
  target: SimSupercluster | undefined,
): ActionReply | undefined {
  if (target && target.members.length >= SUPERCLUSTER_MAX)
    return w.refuse(
      s,
      JOIN,
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
      JOIN,
      409,
      "incompatible",
      `${x.name} (${releasesOf(x).join(", ")}) is not compatible with ${bad.map((p) => `${p.name} (${releasesOf(p).join(", ")})`).join(", ")}: clusters of one supercluster run compatible releases`,
      "D2",
    );
  const offline = [...x.servers, ...y.servers].filter((v) => !online(v)).map((v) => v.name);
  if (offline.length)
    return w.refuse(s, JOIN, 409, "server-offline", `servers offline: ${offline.join(", ")}`);
  return undefined;
}

/** The join's effect, once its time has passed. */
function completeJoin(w: LabWorld, x: SimCluster, y: SimCluster, name: string): void {
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
}

function uniqueName(w: LabWorld, base: string): string {
  let n = base;
  for (let i = 2; w.superclusters.has(n); i++) n = `${base}-${i}`;
  return n;
}
