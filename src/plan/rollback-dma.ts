import { RollgateError } from "../model/errors.ts";
import { type Cluster, type Fleet, type Supercluster, superclusterLineage } from "../model/fleet.ts";
import type { Step, StepAction, TerritoryAssignment } from "../model/step.ts";
import { compatibleIn } from "../rules/context.ts";
import { makeStep } from "./dma-steps.ts";
import { fmtPct } from "./rolling.ts";
import { cmpVersions } from "./versions.ts";

/**
 * D9, the rollback of a DMA cluster's last applied upgrade (docs/planning.md, "Rollback"): the
 * manual's procedure for a superclustered cluster, as steps of one cluster after `t0`:
 *
 * 1. reassign its territories to the other members of its supercluster (D4; the engine reads
 *    the change back from another cluster before it goes on, G5),
 * 2. take it out of service (busy out) and remove it from the supercluster (D4),
 * 3. roll back: the install of the release before the upgrade, as a rollback (`rollback: true`),
 *    which restores the data store to its state before the upgrade, so the data written since may
 *    be lost: a point of no return (G4), confirmed explicitly,
 * 4. verify it (D8), rejoin a supercluster of its lineage whose members run a release compatible
 *    with the one it returns to (D2), joining it (D10: its data store is replaced by the
 *    supercluster's), return it to service (D6) and restore its territories as they were.
 *
 * A cluster already out of its supercluster (its upgrade stopped after the install, D8) skips what
 * is done. Pure: `to` comes from the cluster itself (what it says a rollback returns to).
 */
export interface DmaRollback {
  steps: Step[];
  /** ms after t0 when its last step ends. */
  ms: number;
  finding: string;
  /** Where the territories it restores end (the others stay where they are now). */
  territoriesEnd: Map<string, TerritoryAssignment>;
}

const RULES: Partial<Record<StepAction, string[]>> = {
  "reassign-territories": ["D9", "D4", "G3"],
  "busy-out": ["D9", "G3"],
  "leave-supercluster": ["D9", "D4"],
  install: ["D9", "D4", "D7", "G4"],
  verify: ["D8"],
  "join-supercluster": ["D9", "D10", "D2"],
  "return-to-service": ["D9", "D6", "G3"],
  "restore-territories": ["D9", "D4"],
};

/** The supercluster a rolled-back cluster rejoins: one of its lineage it is compatible with. */
function hostFor(fleet: Fleet, c: Cluster, to: string, lineage: string): Supercluster | undefined {
  const byName = new Map(fleet.clusters.map((x) => [x.name, x]));
  const fits = (sc: Supercluster) =>
    superclusterLineage(sc.name) === lineage &&
    sc.clusters.some((m) => m !== c.name) &&
    sc.clusters
      .filter((m) => m !== c.name)
      .every((m) => byName.get(m)!.servers.every((s) => compatibleIn(fleet, c, s.version, to)));
  const own = fleet.superclusters.find((sc) => sc.name === c.supercluster);
  const left = fleet.superclusters.find((sc) => sc.name === c.leftSupercluster);
  for (const sc of [own, left]) if (sc && fits(sc)) return sc;
  return fleet.superclusters.find(fits);
}

export function planDmaRollback(fleet: Fleet, c: Cluster, to: string, t0: number): DmaRollback {
  const from = c.servers.reduce(
    (v, s) => (cmpVersions(s.version, v) > 0 ? s.version : v),
    c.servers[0]!.version,
  );
  if (cmpVersions(to, from) >= 0)
    throw new RollgateError(
      "ROLLGATE_E_ROLLBACK_NOTHING",
      `the fleet file says ${c.name} runs ${from}, and the cluster says a rollback of its last upgrade returns it to ${to}, which is not older: the file is out of date (rollgate fleet sync FLEET --write), or there is nothing to roll back (D9)`,
      { details: { cluster: c.name, from, to } },
    );
  const own = fleet.superclusters.find((sc) => sc.name === c.supercluster);
  const lineageName = own?.name ?? c.leftSupercluster;
  const lineage = lineageName === undefined ? undefined : superclusterLineage(lineageName);
  const host = lineage === undefined ? undefined : hostFor(fleet, c, to, lineage);
  if (lineage !== undefined && !host)
    throw new RollgateError(
      "ROLLGATE_E_ROLLBACK_UNSUPPORTED",
      `${c.name} rolled back to ${to} could rejoin no supercluster of ${lineage}: every other cluster of it runs a release incompatible with ${to} (D2). D9 rolls back one cluster and rejoins it; bring the whole supercluster back by hand (the manual), or leave ${c.name} on ${from}`,
      { details: { cluster: c.name, to } },
    );
  const floor = fleet.defaults.capacityFloor;
  // the capacity domain while it is out: its supercluster's lineage (or the cluster alone)
  const domain = fleet.clusters.filter((x) =>
    lineage === undefined
      ? x.name === c.name
      : [x.supercluster, x.leftSupercluster].some(
          (n) => n !== undefined && superclusterLineage(n) === lineage,
        ),
  );
  const total = domain.reduce((n, x) => n + x.capacity, 0);
  const left = (total - c.capacity) / (total || 1);
  if (floor > 0 && left + 1e-9 < floor)
    throw new RollgateError(
      "ROLLGATE_E_PLAN_FLOOR_UNREACHABLE",
      `the rollback takes ${c.name} out of service (D9), leaving ${fmtPct(left)} of ${lineage ?? c.name}'s capacity in service, below the floor ${fmtPct(floor)} (G3); lower defaults.capacityFloor for it`,
      { details: { cluster: c.name, floor } },
    );

  // its territories, as they are now, moved to the other members of its supercluster
  const moved: Array<{ now: TerritoryAssignment; away: TerritoryAssignment }> = [];
  if (own) {
    const others = own.clusters.filter((m) => m !== c.name);
    for (const t of own.territories) {
      const now = { name: t.name, primary: (t.assigned ?? t).primary, backup: (t.assigned ?? t).backup };
      if (now.primary !== c.name && now.backup !== c.name) continue;
      if (others.length === 0)
        throw new RollgateError(
          "ROLLGATE_E_ROLLBACK_UNSUPPORTED",
          `${c.name} is the only member of ${own.name} and serves territory ${t.name}: no other cluster can take it while ${c.name} is rolled back (D4, D9)`,
          { details: { cluster: c.name } },
        );
      const other = now.primary === c.name ? now.backup : now.primary;
      const primary = other !== undefined && others.includes(other) ? other : others[0]!;
      const backup = others.find((m) => m !== primary);
      moved.push({
        now: { name: now.name, primary: now.primary, ...(now.backup ? { backup: now.backup } : {}) },
        away: { name: t.name, primary, ...(backup ? { backup } : {}) },
      });
    }
  }

  // at the end, its territories go back to their design where every cluster of it is then a member
  // of its supercluster (a patch's, or the one it rejoins); else to where they stood
  const endMembers = new Set([...(host?.clusters ?? []), c.name]);
  const territoriesEnd = new Map<string, TerritoryAssignment>();
  const same = (a: TerritoryAssignment, b: TerritoryAssignment) =>
    a.primary === b.primary && (a.backup ?? "") === (b.backup ?? "");
  for (const sc of new Set([own, host].filter((x): x is Supercluster => x !== undefined)))
    for (const t of sc.territories) {
      const design: TerritoryAssignment = {
        name: t.name,
        primary: t.primary,
        ...(t.backup ? { backup: t.backup } : {}),
      };
      const away = moved.find((m) => m.now.name === t.name);
      const now = away?.now ?? {
        name: t.name,
        primary: (t.assigned ?? t).primary,
        ...((t.assigned ?? t).backup ? { backup: (t.assigned ?? t).backup } : {}),
      };
      if (design.primary !== c.name && design.backup !== c.name && !away) continue;
      const back = [design.primary, design.backup].every((n) => n === undefined || endMembers.has(n))
        ? design
        : now;
      if (away || !same(back, now)) territoriesEnd.set(t.name, back);
    }

  const steps: Step[] = [];
  let t = t0;
  let prev: string[] = [];
  const push = (action: StepAction): Step => {
    const st = makeStep("incremental", c, action, t, prev, "@rollback");
    st.rules = RULES[action] ?? [];
    steps.push(st);
    prev = [st.id];
    t = st.end;
    return st;
  };
  if (moved.length > 0) {
    const r = push("reassign-territories");
    r.territories = moved.map((m) => m.away);
  }
  push("busy-out");
  if (own) {
    const leave = push("leave-supercluster");
    // the last member leaving: the supercluster is gone with it (G4)
    if (own.clusters.every((m) => m === c.name)) {
      leave.pointOfNoReturn = true;
      leave.rules = [...leave.rules, "G4"];
    }
  }
  const install = push("install");
  install.release = to;
  install.rollback = true;
  install.pointOfNoReturn = true;
  push("verify");
  if (host) {
    const j = push("join-supercluster");
    j.joins = host.clusters.find((m) => m !== c.name)!;
    j.supercluster = host.name;
  }
  push("return-to-service");
  if (territoriesEnd.size > 0) {
    const r = push("restore-territories");
    r.territories = [...territoriesEnd.values()];
  }
  const finding = `${c.name}: the rollback of its last upgrade, ${from} → ${to} (D9): ${[
    moved.length > 0
      ? `territories ${moved.map((m) => m.now.name).join(", ")} go to ${[...new Set(moved.map((m) => m.away.primary))].join(", ")} first (D4)`
      : undefined,
    own ? `it leaves ${own.name}` : "it is in no supercluster already",
    `rolls back to ${to}: its data store returns to its state before the upgrade, and what was written since may be lost (a point of no return, G4)`,
    host
      ? `rejoins ${host.name} through ${steps.find((s) => s.action === "join-supercluster")!.joins} (its data store replaced by the supercluster's, D10)`
      : undefined,
    territoriesEnd.size > 0
      ? `territories ${[...territoriesEnd.keys()].join(", ")} come back as designed where they can (D4)`
      : undefined,
  ]
    .filter((x) => x !== undefined)
    .join("; ")}`;
  return { steps, ms: t - t0, finding, territoriesEnd };
}
