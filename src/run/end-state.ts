import type { ServerObservation } from "../drivers/driver.ts";
import type { Cluster, Fleet, Territory } from "../model/fleet.ts";
import { compareVersions } from "../model/version.ts";
import type { Plan } from "../plan/types.ts";
import type { Problem } from "./effects.ts";

/**
 * What a finished plan leaves behind, against what the servers say once every step is done: every
 * server on its target (D8c, M9; G5 when it cannot be read) and, after a mode pass, in its mode
 * (M11), every DMA cluster in the supercluster
 * its steps put it in and seeing every other member of it (D10: a join lost to a race, a cluster
 * left outside), and every matrix server with the shared filesystems the fleet file mounts on it
 * (M5: PSFS mounts as the fleet file has them, none missing, none extra), and every supercluster's
 * territories, as its members report them, where the plan leaves them (the fleet file's
 * assignment, changed by the plan's reassign and restore steps: D5 in a maintenance window, D6 in
 * an incremental upgrade, D4 otherwise). Empty: the run may be reported completed. Pure, like
 * effects.ts.
 */

/**
 * The territory assignment a plan leaves, by territory name: the fleet file's superclusters'
 * territories, then each reassign/restore step's assignment in the plan's order (a territory it
 * lists `unassigned` is taken off until a later step assigns it again).
 */
export function plannedTerritories(plan: Plan, fleet?: Pick<Fleet, "superclusters">): Map<string, Territory> {
  const out = new Map<string, Territory>();
  for (const sc of fleet?.superclusters ?? [])
    for (const t of sc.territories ?? []) out.set(t.name, { ...t });
  const steps = plan.steps
    .map((s, i) => ({ s, i }))
    .filter(({ s }) => s.action === "reassign-territories" || s.action === "restore-territories")
    .sort((a, b) => a.s.end - b.s.end || a.i - b.i);
  for (const { s } of steps) {
    for (const name of s.unassigned ?? []) out.delete(name);
    for (const t of s.territories ?? []) out.set(t.name, { ...t });
  }
  return out;
}

const fmtTerritory = (t: Territory) => `${t.name}=${t.primary}${t.backup ? `/${t.backup}` : ""}`;

/** The rule a territory left elsewhere than the plan leaves it breaks, by strategy. */
function territoryRule(plan: Plan): string {
  if (plan.strategy === "maintenance-window") return "D5";
  if (plan.steps.some((s) => s.action === "reassign-territories" || s.action === "restore-territories"))
    return "D6";
  return "D4";
}

/** The supercluster a plan leaves a DMA cluster in: the one it joins or founds, none if it only leaves, else its own. */
export function plannedSupercluster(plan: Plan, cluster: Cluster): string | undefined {
  const own = plan.steps.filter((s) => s.cluster === cluster.name);
  const joined = own.find((s) => s.action === "join-supercluster")?.supercluster;
  const founded = own.find((s) => s.action === "verify" && s.founds)?.founds;
  const left = own.some((s) => s.action === "leave-supercluster");
  return joined ?? founded ?? (left ? undefined : cluster.supercluster);
}

export function endStateProblems(
  plan: Plan,
  observed: { cluster: Cluster; observations: ServerObservation[] }[],
  fleet?: Pick<Fleet, "superclusters">,
): Problem[] {
  const expected = new Map<string, string | undefined>();
  for (const { cluster } of observed)
    if (cluster.pack === "polycom-dma") expected.set(cluster.name, plannedSupercluster(plan, cluster));
  const problems: Problem[] = [];
  for (const { cluster, observations: obs } of observed) {
    const target = plan.targets[cluster.name] ?? plan.target;
    const unreachable = obs.filter((o) => o.state === "unreachable");
    if (unreachable.length)
      problems.push({ rule: "G5", detail: `cannot read ${unreachable.map((o) => o.server).join(", ")}` });
    const behind = obs.filter((o) => o.state !== "unreachable" && compareVersions(o.release, target) !== 0);
    if (behind.length)
      problems.push({
        rule: cluster.pack === "polycom-dma" ? "D8c" : "M9",
        detail: `${behind.map((o) => `${o.server} runs ${o.release}`).join(", ")}, not ${target}`,
      });
    // M11: a plan with a mode pass leaves every server of the matrix in the last pass's mode
    const mode = plan.steps.filter((x) => x.cluster === cluster.name && x.action === "set-mode").at(-1)?.mode;
    const otherMode = obs.filter((o) => o.state !== "unreachable" && mode !== undefined && o.mode !== mode);
    if (otherMode.length)
      problems.push({
        rule: "M11",
        detail: `${otherMode.map((o) => `${o.server} runs in mode ${o.mode ?? "(none reported)"}`).join(", ")}, not ${mode}`,
      });
    problems.push(...mountProblems(cluster, obs));
    if (!expected.has(cluster.name)) continue;
    const sc = expected.get(cluster.name);
    const peers = [...expected].filter(([, v]) => v !== undefined && v === sc).map(([k]) => k);
    for (const o of obs) {
      if (o.state === "unreachable" || o.supercluster === undefined) continue;
      if ((o.supercluster ?? undefined) !== sc) {
        problems.push({
          rule: "D10",
          detail: `${o.server} sees ${cluster.name} in ${o.supercluster ? `supercluster ${o.supercluster}` : "no supercluster"}, not ${sc ?? "none"}`,
        });
        break;
      }
      const missing = sc ? peers.filter((p) => !(o.superclusterMembers ?? []).includes(p)) : [];
      if (missing.length) {
        problems.push({
          rule: "D10",
          detail: `${o.server} sees ${sc} without ${missing.join(", ")} (members: ${(o.superclusterMembers ?? []).join(", ") || "none"})`,
        });
        break;
      }
    }
  }
  problems.push(...territoryProblems(plan, observed, expected, fleet));
  return problems;
}

/**
 * Each supercluster the plan leaves (D5, D6, D4): the territories its members report against the
 * plan's final assignment of the territories whose primary is one of its clusters. Only when the
 * fleet file or the plan names territories; reported once per supercluster, by the first member
 * that answers with its territories.
 */
function territoryProblems(
  plan: Plan,
  observed: { cluster: Cluster; observations: ServerObservation[] }[],
  expected: Map<string, string | undefined>,
  fleet?: Pick<Fleet, "superclusters">,
): Problem[] {
  const named =
    (fleet?.superclusters ?? []).some((sc) => (sc.territories ?? []).length > 0) ||
    plan.steps.some((s) => (s.territories ?? []).length > 0 || (s.unassigned ?? []).length > 0);
  if (!named) return [];
  const final = [...plannedTerritories(plan, fleet).values()];
  const rule = territoryRule(plan);
  // a cluster the plan does not act on stays in the supercluster the fleet file has it in
  const supercluster = (c: string) =>
    expected.has(c) ? expected.get(c) : fleet?.superclusters.find((x) => x.clusters.includes(c))?.name;
  const problems: Problem[] = [];
  const judged = new Set<string>();
  for (const { cluster, observations: obs } of observed) {
    const sc = expected.get(cluster.name);
    if (sc === undefined || judged.has(sc)) continue;
    const o = obs.find(
      (x) => x.state !== "unreachable" && x.territories !== undefined && x.supercluster === sc,
    );
    if (!o) continue;
    judged.add(sc);
    const want = final
      .filter((t) => supercluster(t.primary) === sc)
      .map(fmtTerritory)
      .sort();
    const have = (o.territories ?? []).map(fmtTerritory).sort();
    const missing = want.filter((t) => !have.includes(t));
    const extra = have.filter((t) => !want.includes(t));
    if (missing.length || extra.length)
      problems.push({
        rule,
        detail: `${o.server} sees ${sc} with territories ${have.length ? have.join(", ") : "none"}, the plan leaves ${want.length ? want.join(", ") : "none"}${missing.length ? ` (not so: ${missing.join(", ")})` : ""}${extra.length ? ` (not in the plan: ${extra.join(", ")})` : ""}`,
      });
  }
  return problems;
}

/** M5: each server's mounts (as it reports them) against the fleet file's `filesystems[].mountedOn`. */
export function mountProblems(cluster: Cluster, obs: ServerObservation[]): Problem[] {
  if (cluster.pack === "polycom-dma") return [];
  const problems: Problem[] = [];
  for (const o of obs) {
    if (o.state === "unreachable" || o.mounts === undefined) continue;
    const want = cluster.filesystems.filter((f) => f.mountedOn.includes(o.server)).map((f) => f.name);
    const missing = want.filter((f) => !o.mounts!.includes(f));
    const extra = o.mounts.filter((f) => !want.includes(f));
    if (missing.length || extra.length)
      problems.push({
        rule: "M5",
        detail: `${o.server} has ${o.mounts.length ? o.mounts.join(", ") : "nothing"} mounted, the fleet file says ${want.length ? want.join(", ") : "nothing"}${missing.length ? ` (missing ${missing.join(", ")})` : ""}${extra.length ? ` (not in the fleet file: ${extra.join(", ")})` : ""}`,
      });
  }
  return problems;
}
