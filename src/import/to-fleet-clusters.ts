import { canonicalAddress, isIPAddress } from "../model/address.ts";
import type { PackName } from "../model/fleet.ts";
import { type FleetFileCluster, MAX_CAPACITY } from "../model/fleet-schema.ts";
import { compareVersions, isVersionString } from "../model/version.ts";
import type { InventoryGroup, InventoryHost } from "./inventory.ts";
import type { ImportContext } from "./to-fleet-context.ts";
import { fleetName, text, VARS } from "./to-fleet-types.ts";

/** A leaf group that becomes a cluster: its pack and its hosts. */
export interface Planned {
  group: InventoryGroup;
  pack: PackName;
  hosts: { host: InventoryHost; line: number }[];
}

/** Where each cluster of the fleet file came from: its group and its hosts' lines. */
/** Where a cluster came from: its group, and each server's inventory line and name. */
export type ClusterSource = { group: InventoryGroup; hostLines: number[]; hostNames: string[] };

export const byLine = (a: InventoryGroup, b: InventoryGroup) => a.line - b.line;

/**
 * The clusters: the leaf groups (no children) with hosts, but all and ungrouped, each of one pack;
 * a host in two of them, or with a pack outside every one, is reported.
 */
export function plannedClusters(ctx: ImportContext): Planned[] {
  const { inv, notes, report, where, groupsOfHost, packOf } = ctx;
  const leaves = [...inv.groups.values()]
    .filter(
      (g) => g.name !== "all" && g.name !== "ungrouped" && g.children.length === 0 && g.hosts.length > 0,
    )
    .sort(byLine);
  const planned: Planned[] = [];
  const clusterOfHost = new Map<string, { group: string; line: number }>();
  for (const g of leaves) {
    const packs = g.hosts.map((h) => ({ h, pack: packOf(inv.hosts.get(h.value)!, g.name) }));
    const named = packs.filter((p) => p.pack !== undefined);
    if (named.length === 0) {
      notes.push(
        `group ${g.name} (${where(g.line)}) left out: its hosts have no ${VARS.pack} and no --pack was given`,
      );
      continue;
    }
    let ok = true;
    for (const p of packs)
      if (p.pack === undefined) {
        ok = false;
        report(
          "ROLLGATE_E_IMPORT_NO_PACK",
          p.h.line,
          `hosts["${p.h.value}"].${VARS.pack}`,
          `host ${p.h.value} of group ${g.name} has no pack, other hosts of the group have one`,
          `a ${VARS.pack} variable (or --pack)`,
        );
      } else if (p.pack === "bad") ok = false;
    const distinct = [...new Set(named.map((p) => p.pack).filter((p) => p !== "bad"))];
    if (distinct.length > 1) {
      ok = false;
      report(
        "ROLLGATE_E_IMPORT_PACK",
        g.line,
        `groups.${g.name}`,
        `the hosts of group ${g.name} use different packs (${distinct.join(", ")}); a cluster is of one pack`,
        "one pack for the hosts of a group",
      );
    }
    const hosts: Planned["hosts"] = [];
    for (const h of g.hosts) {
      const other = clusterOfHost.get(h.value);
      if (other) {
        ok = false;
        report(
          "ROLLGATE_E_IMPORT_SHARED",
          h.line,
          `groups.${g.name}.hosts`,
          `host ${h.value} is in group ${g.name} and in group ${other.group} (${where(other.line)}): a server is in one cluster`,
          "each host in one leaf group",
        );
        continue;
      }
      clusterOfHost.set(h.value, { group: g.name, line: h.line });
      hosts.push({ host: inv.hosts.get(h.value)!, line: h.line });
    }
    if (ok && distinct.length === 1) planned.push({ group: g, pack: distinct[0] as PackName, hosts });
  }
  // a host with a pack outside every cluster (listed only in a parent group, or ungrouped)
  for (const host of inv.hosts.values()) {
    if (clusterOfHost.has(host.name)) continue;
    const pack = packOf(host);
    if (pack === undefined || pack === "bad") continue;
    const listed = (groupsOfHost.get(host.name) ?? []).filter((g) => inv.groups.get(g)!.children.length > 0);
    report(
      "ROLLGATE_E_IMPORT_UNMAPPED",
      host.line,
      `hosts["${host.name}"]`,
      `host ${host.name} has pack ${pack} but is in no group that becomes a cluster (${listed.length === 0 ? "it is in no group" : `it is listed only in ${listed.join(", ")}, ${listed.length === 1 ? "a group" : "groups"} with children`})`,
      "the host in a group without children",
    );
  }
  return planned;
}

/** The servers and releases of each planned cluster: the fleet file's clusters, and where each came from. */
export function fleetClustersOf(
  ctx: ImportContext,
  planned: Planned[],
): { fleetClusters: FleetFileCluster[]; sources: ClusterSource[] } {
  const { report } = ctx;
  const fleetClusters: FleetFileCluster[] = [];
  const sources: ClusterSource[] = [];
  for (const p of planned) {
    const servers: FleetFileCluster["servers"] = [];
    const versions: { v: string; host: string; line: number }[] = [];
    let ok = true;
    const missingVersion: string[] = [];
    for (const { host, line } of p.hosts) {
      const s = serverOf(ctx, host, line);
      if (!s.ok) ok = false;
      if (s.version === undefined) missingVersion.push(host.name);
      else if (isVersionString(s.version)) versions.push({ v: s.version, host: host.name, line });
      servers.push(s.server);
    }
    if (missingVersion.length) {
      ok = false;
      report(
        "ROLLGATE_E_IMPORT_NO_VERSION",
        p.group.line,
        `groups.${p.group.name}.vars.${VARS.version}`,
        `group ${p.group.name} becomes a cluster, but ${missingVersion.length === p.hosts.length ? "its hosts have" : `host(s) ${missingVersion.join(", ")} have`} no release`,
        `a ${VARS.version} variable (or --version)`,
      );
    }
    if (!ok) continue;
    // the cluster's release: the lowest of its hosts'; a host on another one says so (Server.version)
    const lowest = versions.map((x) => x.v).sort(compareVersions)[0]!;
    servers.forEach((s, i) => {
      if (compareVersions(versions[i]!.v, lowest) !== 0) s.version = versions[i]!.v;
    });
    fleetClusters.push({ name: fleetName(p.group.name), pack: p.pack, version: lowest, servers });
    sources.push({
      group: p.group,
      hostLines: p.hosts.map((h) => h.line),
      hostNames: p.hosts.map((h) => h.host.name),
    });
  }
  return { fleetClusters, sources };
}

/**
 * A host's server in the fleet file: its address (ansible_host, or a name that is one), release,
 * capacity and role, each bad value reported. `version`: the host's release, undefined when none
 * is given (the cluster reports that once for its hosts); `ok` false when something was reported.
 */
function serverOf(
  ctx: ImportContext,
  host: InventoryHost,
  line: number,
): { server: FleetFileCluster["servers"][number]; ok: boolean; version: string | undefined } {
  const { opts, report, varsOf } = ctx;
  let ok = true;
  const vars = varsOf(host);
  const a = vars.get(VARS.address);
  let address: string | undefined;
  if (a) {
    // an IPv6 address may be written in brackets, as in a URL (`[fd00::3]`)
    const written = text(a.value);
    const inner = written?.match(/^\[([^\]]+)\]$/)?.[1];
    const t = inner?.includes(":") ? inner : written;
    if (t && isIPAddress(t)) address = canonicalAddress(t) ?? t;
    else {
      ok = false;
      report(
        "ROLLGATE_E_IMPORT_NO_ADDRESS",
        a.line,
        a.path,
        `${VARS.address} ${JSON.stringify(a.value)} of host ${host.name} is not an IP address (rollgate reaches servers by address: resolve the name)`,
        "an IPv4 or IPv6 address",
      );
    }
  } else if (isIPAddress(host.name)) address = canonicalAddress(host.name) ?? host.name;
  else {
    ok = false;
    report(
      "ROLLGATE_E_IMPORT_NO_ADDRESS",
      line,
      `hosts["${host.name}"].${VARS.address}`,
      `host ${host.name} has no ${VARS.address} and its name is not an IP address`,
      `an ${VARS.address} variable with an IPv4 or IPv6 address`,
    );
  }
  const vv = vars.get(VARS.version);
  const version = vv ? text(vv.value) : opts.version;
  if (version !== undefined && !isVersionString(version)) {
    ok = false;
    report(
      "ROLLGATE_E_IMPORT_BAD_VALUE",
      vv?.line ?? line,
      vv?.path ?? `hosts["${host.name}"].${VARS.version}`,
      `${VARS.version} ${JSON.stringify(vv?.value ?? version)} of host ${host.name} is not a release`,
      "a dotted numeric release such as 3.5.1 or 10.0.0.4",
    );
  }
  const server: FleetFileCluster["servers"][number] = {
    name: fleetName(host.name),
    address: address ?? "",
  };
  const cap = vars.get(VARS.capacity);
  if (cap) {
    const n = Number(text(cap.value));
    if (!(Number.isFinite(n) && n > 0 && n <= MAX_CAPACITY)) {
      ok = false;
      report(
        "ROLLGATE_E_IMPORT_BAD_VALUE",
        cap.line,
        cap.path,
        `${VARS.capacity} ${JSON.stringify(cap.value)} of host ${host.name} is not a positive number`,
        `a positive number of at most ${MAX_CAPACITY}`,
      );
    } else server.capacity = n;
  }
  const role = vars.get(VARS.role);
  if (role && text(role.value)) server.role = text(role.value)!;
  return { server, ok, version };
}
