import { fmtTerritory } from "./dma-cluster.ts";
import type { SimCluster, SimSupercluster } from "./types.ts";
import type { LabWorld } from "./world.ts";

type Lineage = LabWorld["lineages"][number];

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
  judgeMemberLists(w);
  for (const l of w.lineages) judgeLineage(w, l);
}

/** D10: a cluster's own view of its supercluster and the supercluster's member list agree. */
function judgeMemberLists(w: LabWorld): void {
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
}

/** D5/D6 at the end of the upgrade of one fleet file's supercluster. */
function judgeLineage(w: LabWorld, l: Lineage): void {
  const cs = l.clusters.map((n) => w.clusters.get(n)).filter((c): c is SimCluster => c !== undefined);
  if (cs.length === 0) return;
  if (cs.every((c) => !c.inService)) l.outage = true;
  if (!cs.every((c) => c.inService && !c.busiedOut && !c.activity)) return;
  const releases = new Set(cs.flatMap((c) => c.servers.map((x) => x.release)));
  if (releases.size !== 1) return;
  const release = [...releases][0]!;
  if (release === l.judged) return;
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
  if (!window || !sc) return;
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
