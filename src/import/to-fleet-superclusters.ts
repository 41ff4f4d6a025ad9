import type { FleetFile } from "../model/fleet-schema.ts";
import type { InventoryGroup } from "./inventory.ts";
import { byLine, type Planned } from "./to-fleet-clusters.ts";
import type { ImportContext } from "./to-fleet-context.ts";
import { fleetName } from "./to-fleet-types.ts";

/** With --group-as supercluster: a parent of leaf groups, of DMA clusters, becomes a supercluster. */
export function superclustersOf(
  ctx: ImportContext,
  planned: Planned[],
): { superclusters: NonNullable<FleetFile["superclusters"]>; superSources: InventoryGroup[] } {
  const { inv, opts, notes, report, where } = ctx;
  const superclusters: NonNullable<FleetFile["superclusters"]> = [];
  const superSources: InventoryGroup[] = [];
  if (opts.groupAs === "supercluster") {
    const clusterByGroup = new Map(planned.map((p) => [p.group.name, p]));
    const scOf = new Map<string, { group: string; line: number }>();
    const candidates = [...inv.groups.values()]
      .filter((g) => g.name !== "all" && g.name !== "ungrouped" && g.children.length > 0)
      .sort(byLine);
    for (const g of candidates) {
      const childGroups = g.children.map((c) => ({ c, g: inv.groups.get(c.value)! }));
      if (childGroups.some((x) => x.g.children.length > 0)) {
        notes.push(
          `group ${g.name} (${where(g.line)}) is not a supercluster: its children have children (a supercluster's members are clusters)`,
        );
        continue;
      }
      const members = childGroups.filter((x) => clusterByGroup.has(x.c.value));
      if (members.length === 0) {
        notes.push(
          `group ${g.name} (${where(g.line)}) is not a supercluster: none of its children is a cluster`,
        );
        continue;
      }
      let ok = true;
      for (const m of members) {
        const pack = clusterByGroup.get(m.c.value)!.pack;
        if (pack !== "polycom-dma") {
          ok = false;
          report(
            "ROLLGATE_E_IMPORT_PACK",
            m.c.line,
            `groups.${g.name}.children`,
            `group ${g.name} would be a supercluster, but its child ${m.c.value} is a ${pack} cluster (superclusters are of polycom-dma clusters, D1)`,
            "polycom-dma clusters under a supercluster group",
          );
        }
        const other = scOf.get(m.c.value);
        if (other) {
          ok = false;
          report(
            "ROLLGATE_E_IMPORT_SHARED",
            m.c.line,
            `groups.${g.name}.children`,
            `cluster ${m.c.value} is a child of group ${g.name} and of group ${other.group} (${where(other.line)}): a cluster is in one supercluster (D1)`,
            "each cluster group the child of one parent group",
          );
        } else scOf.set(m.c.value, { group: g.name, line: m.c.line });
      }
      if (!ok) continue;
      superclusters.push({
        name: fleetName(g.name),
        pack: "polycom-dma",
        clusters: members.map((m) => fleetName(m.c.value)),
      });
      superSources.push(g);
    }
  }
  return { superclusters, superSources };
}
