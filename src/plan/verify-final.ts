import type { RuleContext } from "../rules/context.ts";
import type { FleetState } from "../rules/state.ts";
import type { Report } from "./verify-report.ts";

/** After the last step: everything upgraded is on its target, in service, territories restored. */
export function finalChecks(state: FleetState, ctx: RuleContext, report: Report): number {
  let states = 0;
  for (const [name, target] of ctx.targets) {
    states++;
    const c = state.clusters.get(name)!;
    if (c.pack === "polycom-dma") {
      if (c.release !== target || c.installing !== undefined)
        report(
          { rule: "D6", detail: `${name} ends on ${c.release}, not on the target ${target}` },
          undefined,
          "after",
        );
      else if (!c.inService)
        report({ rule: "G3", detail: `${name} ends out of service` }, undefined, "after");
      else if (c.lineage !== undefined && c.supercluster === undefined)
        report({ rule: "D6", detail: `${name} ends in no supercluster` }, undefined, "after");
    } else {
      for (const r of state.serversOf.get(name) ?? []) {
        if (r.release !== target)
          report(
            { rule: "M6", detail: `${r.name} ends on ${r.release}, not on the target ${target}` },
            undefined,
            "after",
          );
        else if (!r.running || r.disabled)
          report({ rule: "G3", detail: `${r.name} ends out of service` }, undefined, "after");
      }
    }
  }
  for (const t of state.territories.values()) {
    if (!ctx.targets.has(t.original.primary)) continue;
    if (t.primary !== t.original.primary || t.backup !== t.original.backup)
      report(
        {
          rule: "D4",
          detail: `territory ${t.name} ends on ${t.primary ?? "nobody"}/${t.backup ?? "-"}, not restored to ${t.original.primary}/${t.original.backup ?? "-"}`,
        },
        undefined,
        "after",
      );
  }
  return states;
}
