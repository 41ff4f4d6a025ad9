import type { Diagnostic, ErrorCode } from "../model/errors.ts";
import { PACK_NAMES, type PackName } from "../model/fleet.ts";
import type { Inventory, InventoryHost, Located } from "./inventory.ts";
import { type ImportOptions, type Resolved, text, VARS } from "./to-fleet-types.ts";

/** What every part of an import reads and reports to: the findings, the group tree, each host's variables. */
export interface ImportContext {
  inv: Inventory;
  opts: ImportOptions;
  file: string;
  diagnostics: Diagnostic[];
  notes: string[];
  report: (
    code: ErrorCode,
    line: number,
    path: string | undefined,
    message: string,
    expected?: string,
  ) => void;
  /** `file:line`, or the file for line 0. */
  where: (line: number) => string;
  /** The groups that list each host. */
  groupsOfHost: Map<string, string[]>;
  varsOf: (host: InventoryHost, through?: string) => Map<string, Resolved>;
  packOf: (host: InventoryHost, through?: string) => PackName | undefined | "bad";
}

/** The findings of an import of `inv`: each reported once, at the inventory's file and line. */
export function importFindings(
  inv: Inventory,
): Pick<ImportContext, "file" | "diagnostics" | "notes" | "report" | "where"> {
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
  return { file, diagnostics, notes, report, where };
}

/** The parent groups of each group. */
function parentsOf(inv: Inventory): Map<string, string[]> {
  const parents = new Map<string, string[]>();
  for (const g of inv.groups.values())
    for (const c of g.children) parents.set(c.value, [...(parents.get(c.value) ?? []), g.name]);
  return parents;
}

/** A loop of :children (Ansible refuses one): found by a depth-first walk, reported at the child line closing it. */
export function reportLoops(inv: Inventory, report: ImportContext["report"]): void {
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
}

/**
 * The context of an import of `inv`, once its group tree has no loop (reportLoops): the group
 * tree, parents, depths (Ansible: a child is deeper than each of its parents), each host's variables.
 */
export function importContext(
  inv: Inventory,
  opts: ImportOptions,
  findings: Pick<ImportContext, "file" | "diagnostics" | "notes" | "report" | "where">,
): ImportContext {
  const { report } = findings;
  const parents = parentsOf(inv);
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
  return { inv, opts, ...findings, groupsOfHost, varsOf, packOf };
}
