import type { FleetFile } from "../model/fleet-schema.ts";
import type { Inventory } from "./inventory.ts";
import { fleetClustersOf, plannedClusters } from "./to-fleet-clusters.ts";
import { importContext, importFindings, reportLoops } from "./to-fleet-context.ts";
import { importedFleetFindings, render } from "./to-fleet-render.ts";
import { superclustersOf } from "./to-fleet-superclusters.ts";
import { type ImportOptions, type ImportResult, NAME, fleetName, text, VARS } from "./to-fleet-types.ts";

/**
 * An Ansible inventory → a rollgate fleet file (docs/import.md). Pure: takes the parsed
 * inventory and the options, returns the fleet file's text (with comments saying where each
 * cluster, supercluster and server came from) or every finding, each with the inventory's file,
 * line and field. Its parts: the findings and each host's variables (to-fleet-context.ts), the
 * clusters and their servers (to-fleet-clusters.ts), the superclusters (to-fleet-superclusters.ts),
 * the text and its check (to-fleet-render.ts).
 */
export type { ImportOptions, ImportResult } from "./to-fleet-types.ts";
export { fleetName, VARS } from "./to-fleet-types.ts";

export function inventoryToFleet(inv: Inventory, opts: ImportOptions): ImportResult {
  const findings = importFindings(inv);
  const { file, diagnostics, notes, report } = findings;
  reportLoops(inv, report);
  if (diagnostics.length) return { ok: false, diagnostics, notes };
  const ctx = importContext(inv, opts, findings);
  const planned = plannedClusters(ctx);
  const { fleetClusters, sources } = fleetClustersOf(ctx, planned);
  const { superclusters, superSources } = superclustersOf(ctx, planned);

  if (diagnostics.length) return { ok: false, diagnostics, notes };
  if (fleetClusters.length === 0) {
    report(
      "ROLLGATE_E_IMPORT_EMPTY",
      1,
      undefined,
      `no group of the inventory becomes a cluster (a group without children, whose hosts have a ${VARS.pack} or --pack)`,
      `a ${VARS.pack} variable on the groups to import, or --pack`,
    );
    return { ok: false, diagnostics, notes };
  }

  // ── the fleet's name
  let name = opts.fleet;
  if (name === undefined) {
    const v = inv.groups.get("all")!.vars.get(VARS.fleet);
    if (v) {
      name = text(v.value);
      if (!name || !NAME.test(name)) {
        report(
          "ROLLGATE_E_IMPORT_BAD_VALUE",
          v.line,
          `groups.all.vars.${VARS.fleet}`,
          `${VARS.fleet} ${JSON.stringify(v.value)} is not a name`,
          "letters, digits, '.', '_' and '-', starting with a letter or digit",
        );
        return { ok: false, diagnostics, notes };
      }
    } else name = fleetName((file.split(/[\\/]/).pop() ?? file).replace(/\.[^.]*$/, ""));
  }

  const fleet: FleetFile = { apiVersion: "rollgate/v1", fleet: name, clusters: fleetClusters };
  if (superclusters.length) fleet.superclusters = superclusters;
  const out = render(fleet, inv, opts, sources, superSources);

  const found = importedFleetFindings(out, file, sources, superSources);
  if (found.length) {
    diagnostics.push(...found);
    return { ok: false, diagnostics, notes };
  }
  return { ok: true, text: out, fleet, notes };
}
