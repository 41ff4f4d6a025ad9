import type { ServerObservation } from "../drivers/driver.ts";
import type { Cluster } from "../model/fleet.ts";
import { compareVersions } from "../model/version.ts";
import type { Plan } from "../plan/types.ts";
import type { Problem } from "./effects.ts";

/**
 * What a finished plan leaves behind, against what the servers say once every step is done: every
 * server on its target (D8c, M9; G5 when it cannot be read), every DMA cluster in the supercluster
 * its steps put it in and seeing every other member of it (D10: a join lost to a race, a cluster
 * left outside), and every matrix server with the shared filesystems the fleet file mounts on it
 * (M5: PSFS mounts as the fleet file has them, none missing, none extra). Empty: the run may be
 * reported completed. Pure, like effects.ts.
 */

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
