import { Document, isMap, isSeq, type YAMLMap, type YAMLSeq } from "yaml";
import type { Diagnostic } from "../model/errors.ts";
import { parseFleetText } from "../model/fleet-file.ts";
import type { FleetFile } from "../model/fleet-schema.ts";
import type { Inventory, InventoryGroup } from "./inventory.ts";
import type { ClusterSource } from "./to-fleet-clusters.ts";
import type { ImportOptions } from "./to-fleet-types.ts";

/** The fleet file's text: servers one a line, a comment on each cluster, supercluster and server saying where it came from. */
export function render(
  fleet: FleetFile,
  inv: Inventory,
  opts: ImportOptions,
  sources: ClusterSource[],
  superSources: InventoryGroup[],
): string {
  const doc = new Document(fleet);
  doc.commentBefore = [
    ` Imported by rollgate import ansible from ${inv.file} (${inv.format} inventory, --group-as ${opts.groupAs}).`,
    " Each cluster's comment names the group and line it came from. Check packs and releases,",
    " add drivers (docs/drivers.md) and territories before rollgate apply.",
  ].join("\n");
  const clusters = doc.get("clusters", true) as YAMLSeq;
  clusters.items.forEach((item, i) => {
    const src = sources[i]!;
    const m = item as YAMLMap;
    m.commentBefore = ` group ${src.group.name.replace(/\p{Cc}/gu, "?")}, ${inv.file}:${src.group.line}`;
    const servers = m.get("servers", true) as unknown as YAMLSeq;
    servers.items.forEach((s, j) => {
      if (isMap(s)) {
        s.flow = true;
        // a host whose inventory name is not a fleet name (`ünï` is `uni`) keeps it in the comment
        const name = src.hostNames[j]?.replace(/\p{Cc}/gu, "?");
        const renamed = name !== undefined && String(s.get("name")) !== name;
        s.comment = ` ${inv.file}:${src.hostLines[j]}${renamed ? `, host ${name}` : ""}`;
      }
    });
  });
  const scs = doc.get("superclusters", true);
  if (isSeq(scs))
    scs.items.forEach((item, i) => {
      const g = superSources[i]!;
      (item as YAMLMap).commentBefore = ` group ${g.name}, ${inv.file}:${g.line}`;
      const members = (item as YAMLMap).get("clusters", true);
      if (isSeq(members)) members.flow = true;
    });
  return doc.toString({ lineWidth: 0 });
}

/**
 * The fleet's findings as the fleet file's own checks make them, each at the inventory line of
 * the cluster, server or supercluster it comes from; none when the fleet file is valid.
 */
export function importedFleetFindings(
  out: string,
  file: string,
  sources: ClusterSource[],
  superSources: InventoryGroup[],
): Diagnostic[] {
  const diagnostics: Diagnostic[] = [];
  // the fleet must validate: what the checks above do not see (D1 sizes, names made alike) is
  // reported at the inventory line of the cluster, server or supercluster it comes from
  const check = parseFleetText(out, `${file} (imported)`);
  if (check.ok) return diagnostics;
  for (const d of check.diagnostics) {
    const path = d.path ?? "";
    const c = /^clusters\[(\d+)\](?:\.servers\[(\d+)\])?/.exec(path);
    const s = /^superclusters\[(\d+)\]/.exec(path);
    let line = 1;
    let origin = "";
    if (c) {
      const src = sources[Number(c[1])];
      line = (c[2] !== undefined ? src?.hostLines[Number(c[2])] : src?.group.line) ?? 1;
      origin = src ? ` (from group ${src.group.name})` : "";
    } else if (s) {
      const g = superSources[Number(s[1])];
      line = g?.line ?? 1;
      origin = g ? ` (from group ${g.name})` : "";
    }
    diagnostics.push({
      code: d.code,
      file,
      line,
      path: `fleet ${path}`,
      message: `${d.message}${origin}`,
      ...(d.expected ? { expected: d.expected } : {}),
    });
  }
  return diagnostics;
}
