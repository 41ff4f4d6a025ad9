import type { TerritoryAssignment } from "../model/step.ts";
import { fmtTerritory, journalCluster } from "./dma-cluster.ts";
import { judgeSuperclusters } from "./dma-judge.ts";
import type { ActionReply, ActionRequest, SimCluster, SimServer, SimSupercluster } from "./types.ts";
import type { LabWorld } from "./world.ts";

/** reassign-territories and restore-territories (D5, D6): who serves which territory. */
export function territories(w: LabWorld, s: SimServer, req: ActionRequest): ActionReply {
  const c = s.cluster;
  const action = req.action;
  const list = req.territories ?? [];
  const unassigned = req.unassigned ?? [];
  if (!wellFormed(action, list, unassigned))
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
  const refused = refusal(w, s, action, sc, list, unassigned);
  if (refused) return refused;
  const toDrop = sc.territories.filter((t) => unassigned.includes(t.name));
  const same = (a: TerritoryAssignment, b: TerritoryAssignment) =>
    a.primary === b.primary && (a.backup ?? null) === (b.backup ?? null);
  if (toDrop.length === 0 && list.every((t) => sc.territories.some((x) => x.name === t.name && same(x, t))))
    return w.done(s, action, "the territories are already assigned so", true);
  return w.begin(c, s, action, w.ms(c, action), () => {
    assign(w, c, sc, list, unassigned);
    return undefined;
  });
}

function wellFormed(action: string, list: TerritoryAssignment[], unassigned: string[]): boolean {
  return !(
    !Array.isArray(list) ||
    !Array.isArray(unassigned) ||
    (list.length === 0 && unassigned.length === 0) ||
    list.some((t) => !t || typeof t.name !== "string") ||
    unassigned.some((n) => typeof n !== "string") ||
    (action === "restore-territories" && unassigned.length > 0)
  );
}

/** A territory given to a cluster outside the supercluster, or dropped while a member serves (D5). */
function refusal(
  w: LabWorld,
  s: SimServer,
  action: string,
  sc: SimSupercluster,
  list: TerritoryAssignment[],
  unassigned: string[],
): ActionReply | undefined {
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
  if (toDrop.length === 0) return undefined;
  const serving = sc.members.filter((m) => w.clusters.get(m)?.inService);
  if (serving.length === 0) return undefined;
  return w.refuse(
    s,
    action,
    409,
    "members-in-service",
    `cannot take ${toDrop.map((t) => t.name).join(", ")} off ${sc.name} while ${serving.join(", ")} ${serving.length === 1 ? "is" : "are"} in service: territories are recorded and left unassigned only in a maintenance window, with the whole supercluster out of service`,
    "D5",
  );
}

/** The effect, once the action's time has passed. */
function assign(
  w: LabWorld,
  c: SimCluster,
  sc: SimSupercluster,
  list: TerritoryAssignment[],
  unassigned: string[],
): void {
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
    handOver(w, c, sc, t.name);
  }
  journalCluster(w, c, `${sc.name} territories: ${sc.territories.map(fmtTerritory).join(", ") || "none"}`);
  judgeSuperclusters(w);
}

/** A territory is served by one supercluster at a time: taking it over hands it over (D6). */
function handOver(w: LabWorld, c: SimCluster, sc: SimSupercluster, territory: string): void {
  for (const other of w.superclusters.values()) {
    if (other === sc) continue;
    const j = other.territories.findIndex((x) => x.name === territory);
    if (j >= 0) {
      other.territories.splice(j, 1);
      journalCluster(w, c, `territory ${territory} handed over from ${other.name} to ${sc.name}`);
    }
  }
}
