import { Document, isMap, isSeq, type YAMLMap, type YAMLSeq } from "yaml";
import { canonicalAddress, isIPAddress } from "../model/address.ts";
import type { Diagnostic, ErrorCode } from "../model/errors.ts";
import { PACK_NAMES, type PackName } from "../model/fleet.ts";
import { parseFleetText } from "../model/fleet-file.ts";
import { type FleetFile, type FleetFileCluster, MAX_CAPACITY } from "../model/fleet-schema.ts";
import { compareVersions, isVersionString } from "../model/version.ts";
import type { Inventory, InventoryGroup, InventoryHost, Located } from "./inventory.ts";

/**
 * An Ansible inventory → a rollgate fleet file (docs/import.md). Pure: takes the parsed
 * inventory and the options, returns the fleet file's text (with comments saying where each
 * cluster, supercluster and server came from) or every finding, each with the inventory's file,
 * line and field.
 */
export interface ImportOptions {
  /** cluster: each leaf group becomes a cluster; supercluster: also each parent of leaf groups a DMA supercluster. */
  groupAs: "cluster" | "supercluster";
  /** The pack of hosts whose variables name none (rollgate_pack wins). */
  pack?: PackName;
  /** The release of hosts whose variables name none (rollgate_version wins). */
  version?: string;
  /** The fleet's name (else the `all` group's rollgate_fleet, else the file's base name). */
  fleet?: string;
}

export type ImportResult =
  | { ok: true; text: string; fleet: FleetFile; notes: string[] }
  | { ok: false; diagnostics: Diagnostic[]; notes: string[] };

/** The variables rollgate reads (docs/import.md). */
export const VARS = {
  pack: "rollgate_pack",
  version: "rollgate_version",
  capacity: "rollgate_capacity",
  role: "rollgate_role",
  fleet: "rollgate_fleet",
  address: "ansible_host",
} as const;

/** A variable as a host sees it: its value, the line that set it, and the field (path) named in a finding. */
interface Resolved {
  value: unknown;
  line: number;
  path: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** A name rollgate accepts: other characters become '-', leading ones dropped. */
export function fleetName(text: string): string {
  const s = text.replace(/[^A-Za-z0-9._-]/g, "-").replace(/^[^A-Za-z0-9]+/, "");
  return s || "imported";
}

export function inventoryToFleet(inv: Inventory, opts: ImportOptions): ImportResult {
  const file = inv.file;
  const diagnostics: Diagnostic[] = [];
  const notes: string[] = [];
  const reported = new Set<string>();
  const report = (
    code: ErrorCode,
    line: number,
    path: string | undefined,
    message: string,
    expected?: string,
  ) => {
    const key = `${code}|${line}|${path}`; // a group's variable is reported once, not once a host
    if (reported.has(key)) return;
    reported.add(key);
    diagnostics.push({
      code,
      file,
      line: Math.max(1, line),
      message,
      ...(path ? { path } : {}),
      ...(expected ? { expected } : {}),
    });
  };
  const where = (line: number) => (line > 0 ? `${file}:${line}` : file);

  // ── the group tree: parents, depths (Ansible: a child is deeper than each of its parents), cycles
  const parents = new Map<string, string[]>();
  for (const g of inv.groups.values())
    for (const c of g.children) parents.set(c.value, [...(parents.get(c.value) ?? []), g.name]);
  // a loop of :children (Ansible refuses one): found by a depth-first walk, reported at the child line closing it
  const state = new Map<string, "open" | "done">();
  const visit = (name: string) => {
    state.set(name, "open");
    for (const c of inv.groups.get(name)?.children ?? []) {
      const st = state.get(c.value);
      if (st === "open")
        report(
          "ROLLGATE_E_IMPORT_SYNTAX",
          c.line,
          `groups.${name}.children`,
          `group ${c.value} is its own ancestor (a loop of children through ${name})`,
          "a tree of groups",
        );
      else if (st === undefined) visit(c.value);
    }
    state.set(name, "done");
  };
  for (const g of inv.groups.values()) if (!state.has(g.name)) visit(g.name);
  if (diagnostics.length) return { ok: false, diagnostics, notes };
  const depth = new Map<string, number>();
  const depthOf = (name: string): number => {
    const known = depth.get(name);
    if (known !== undefined) return known;
    const ps = parents.get(name) ?? [];
    const d = ps.length ? Math.max(...ps.map(depthOf)) + 1 : 0;
    depth.set(name, d);
    return d;
  };
  for (const g of inv.groups.values()) depthOf(g.name);

  const ancestors = (name: string): string[] => {
    const out = new Set<string>();
    const walk = (n: string) => {
      for (const p of parents.get(n) ?? [])
        if (!out.has(p)) {
          out.add(p);
          walk(p);
        }
    };
    walk(name);
    return [...out];
  };
  const groupsOfHost = new Map<string, string[]>();
  for (const g of inv.groups.values())
    for (const h of g.hosts) groupsOfHost.set(h.value, [...(groupsOfHost.get(h.value) ?? []), g.name]);

  /**
   * A host's variables as Ansible merges them: `all`, then groups by depth then name, then the
   * host's own. `through` a group: only that group's branch (it, its ancestors, `all`), as the
   * host's pack is read for that group (a pack the host has through another group does not make
   * this one a cluster).
   */
  const resolvedVars = new Map<string, Map<string, Resolved>>();
  const varsOf = (host: InventoryHost, through?: string): Map<string, Resolved> => {
    const cacheKey = `${through ?? ""}\u0000${host.name}`;
    const cached = resolvedVars.get(cacheKey);
    if (cached) return cached;
    const direct = through !== undefined ? [through] : (groupsOfHost.get(host.name) ?? []);
    const all = new Set<string>(["all"]);
    for (const g of direct) {
      all.add(g);
      for (const a of ancestors(g)) all.add(a);
    }
    const ordered = [...all].sort((a, b) =>
      a === "all" ? -1 : b === "all" ? 1 : depth.get(a)! - depth.get(b)! || (a < b ? -1 : a > b ? 1 : 0),
    );
    const out = new Map<string, Resolved>();
    const put = (vars: Map<string, Located<unknown>>, path: (k: string) => string) => {
      for (const [k, v] of vars) out.set(k, { value: v.value, line: v.line, path: path(k) });
    };
    for (const gn of ordered) put(inv.groups.get(gn)!.vars, (k) => `groups.${gn}.vars.${k}`);
    put(host.vars, (k) => `hosts["${host.name}"].${k}`);
    resolvedVars.set(cacheKey, out);
    return out;
  };
  const text = (v: unknown): string | undefined =>
    typeof v === "string" ? v.trim() : typeof v === "number" ? String(v) : undefined;

  /** The pack of a host, undefined for none; an unknown pack is reported at the line naming it. */
  const packOf = (host: InventoryHost, through?: string): PackName | undefined | "bad" => {
    const v = varsOf(host, through).get(VARS.pack);
    if (!v) return opts.pack;
    const p = text(v.value);
    const known = PACK_NAMES.find((k) => k === p);
    if (!known) {
      report(
        "ROLLGATE_E_IMPORT_PACK",
        v.line,
        v.path,
        `${VARS.pack} ${JSON.stringify(v.value)} is not a rollgate pack`,
        `one of ${PACK_NAMES.join(", ")}`,
      );
      return "bad";
    }
    return known;
  };

  // ── clusters: the leaf groups (no children) with hosts, but all and ungrouped
  const byLine = (a: InventoryGroup, b: InventoryGroup) => a.line - b.line;
  const leaves = [...inv.groups.values()]
    .filter(
      (g) => g.name !== "all" && g.name !== "ungrouped" && g.children.length === 0 && g.hosts.length > 0,
    )
    .sort(byLine);
  interface Planned {
    group: InventoryGroup;
    pack: PackName;
    hosts: { host: InventoryHost; line: number }[];
  }
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

  // ── servers and versions
  const fleetClusters: FleetFileCluster[] = [];
  const sources: { group: InventoryGroup; hostLines: number[] }[] = [];
  for (const p of planned) {
    const servers: FleetFileCluster["servers"] = [];
    const versions: { v: string; host: string; line: number }[] = [];
    let ok = true;
    const missingVersion: string[] = [];
    for (const { host, line } of p.hosts) {
      const vars = varsOf(host);
      const a = vars.get(VARS.address);
      let address: string | undefined;
      if (a) {
        const t = text(a.value);
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
      if (version === undefined) missingVersion.push(host.name);
      else if (!isVersionString(version)) {
        ok = false;
        report(
          "ROLLGATE_E_IMPORT_BAD_VALUE",
          vv?.line ?? line,
          vv?.path ?? `hosts["${host.name}"].${VARS.version}`,
          `${VARS.version} ${JSON.stringify(vv?.value ?? version)} of host ${host.name} is not a release`,
          "a dotted numeric release such as 3.5.1 or 10.0.0.4",
        );
      } else versions.push({ v: version, host: host.name, line });
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
      servers.push(server);
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
    sources.push({ group: p.group, hostLines: p.hosts.map((h) => h.line) });
  }

  // ── superclusters: a parent of leaf groups, of DMA clusters
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

  // the fleet must validate: what the checks above do not see (D1 sizes, names made alike) is
  // reported at the inventory line of the cluster, server or supercluster it comes from
  const check = parseFleetText(out, `${file} (imported)`);
  if (!check.ok) {
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
    return { ok: false, diagnostics, notes };
  }
  return { ok: true, text: out, fleet, notes };
}

/** The fleet file's text: servers one a line, a comment on each cluster, supercluster and server saying where it came from. */
function render(
  fleet: FleetFile,
  inv: Inventory,
  opts: ImportOptions,
  sources: { group: InventoryGroup; hostLines: number[] }[],
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
    m.commentBefore = ` group ${src.group.name}, ${inv.file}:${src.group.line}`;
    const servers = m.get("servers", true) as unknown as YAMLSeq;
    servers.items.forEach((s, j) => {
      if (isMap(s)) {
        s.flow = true;
        s.comment = ` ${inv.file}:${src.hostLines[j]}`;
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
