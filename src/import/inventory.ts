import type { Diagnostic } from "../model/errors.ts";

/**
 * An Ansible inventory as the three parsers (ansible-ini.ts, ansible-yaml.ts, ansible-json.ts)
 * read it: groups, hosts and variables, each with the line it was written on. Pure: no I/O.
 */

/** A variable's value and where it was set (the line of `key=value` or `key: value`). */
export interface Located<T> {
  value: T;
  line: number;
}

export type Vars = Map<string, Located<unknown>>;

export interface InventoryHost {
  name: string;
  /** The first line naming the host. */
  line: number;
  vars: Vars;
}

export interface InventoryGroup {
  name: string;
  /** The line the group is declared on (its section header, its key); 0 for the implicit `all`. */
  line: number;
  /** The hosts listed in the group itself, each with the line listing it there. */
  hosts: Located<string>[];
  /** The group's child groups, each with the line naming it. */
  children: Located<string>[];
  vars: Vars;
  /** Whether `line` is the group's own declaration (a section header, its key), not a mention as a child. */
  declared: boolean;
}

export interface Inventory {
  file: string;
  format: "ini" | "yaml" | "json";
  groups: Map<string, InventoryGroup>;
  hosts: Map<string, InventoryHost>;
}

export interface InventoryParseResult {
  inventory: Inventory;
  /** Malformed lines (ROLLGATE_E_IMPORT_SYNTAX); the inventory holds what could be read. */
  diagnostics: Diagnostic[];
}

export function emptyInventory(file: string, format: Inventory["format"]): Inventory {
  const inv: Inventory = { file, format, groups: new Map(), hosts: new Map() };
  group(inv, "all", 0);
  group(inv, "ungrouped", 0);
  return inv;
}

/**
 * The group of that name, created when it is new. Its line is where it is declared (a section
 * header, a key of its own), else where it is first named (as a child, in a :vars section).
 */
export function group(inv: Inventory, name: string, line: number, declares = false): InventoryGroup {
  let g = inv.groups.get(name);
  if (!g) {
    g = { name, line, hosts: [], children: [], vars: new Map(), declared: declares };
    inv.groups.set(name, g);
  } else if (declares && !g.declared) {
    g.line = line;
    g.declared = true;
  } else if (g.line === 0) g.line = line;
  return g;
}

/** Each group's host names, so that adding a host is not a scan of the group (100,000 hosts). */
const hostNames = new WeakMap<InventoryGroup, Set<string>>();

/** Adds a host (once) to a group (once), creating the host; returns the host. */
export function addHost(inv: Inventory, groupName: string, name: string, line: number): InventoryHost {
  let h = inv.hosts.get(name);
  if (!h) {
    h = { name, line, vars: new Map() };
    inv.hosts.set(name, h);
  }
  const g = group(inv, groupName, line);
  let names = hostNames.get(g);
  if (!names || names.size !== g.hosts.length) {
    names = new Set(g.hosts.map((x) => x.value));
    hostNames.set(g, names);
  }
  if (!names.has(name)) {
    names.add(name);
    g.hosts.push({ value: name, line });
  }
  return h;
}

export function addChild(inv: Inventory, parent: string, child: string, line: number): void {
  const p = group(inv, parent, line);
  group(inv, child, line);
  if (!p.children.some((c) => c.value === child)) p.children.push({ value: child, line });
}

/**
 * Ansible's implicit groups: every group that is no other's child is a child of `all`; a host in
 * no group but `all` is in `ungrouped` (as `ansible-inventory --list` shows them).
 */
export function settleImplicitGroups(inv: Inventory): void {
  const all = inv.groups.get("all")!;
  const ungrouped = inv.groups.get("ungrouped")!;
  const isChild = new Set<string>();
  for (const g of inv.groups.values()) for (const c of g.children) isChild.add(c.value);
  for (const g of inv.groups.values())
    if (g.name !== "all" && !isChild.has(g.name)) all.children.push({ value: g.name, line: g.line });
  const inAGroup = new Set<string>();
  for (const g of inv.groups.values()) if (g.name !== "all") for (const x of g.hosts) inAGroup.add(x.value);
  for (const h of all.hosts) if (!inAGroup.has(h.value)) ungrouped.hosts.push(h);
  all.hosts = [];
}

const LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/** Whether a host pattern holds a range (`[beg:end]`, Ansible's detect_range). */
export function hasRange(pattern: string): boolean {
  const open = pattern.indexOf("[");
  const colon = pattern.indexOf(":", open + 1);
  const close = pattern.indexOf("]", open + 1);
  return open >= 0 && open < colon && colon < close;
}

/** The largest number of hosts one pattern may expand to (a typo such as `[1:99999999]`). */
export const MAX_RANGE_HOSTS = 100_000;

/**
 * The largest number of hosts an inventory may hold, ranges expanded (a fleet file of 8 MiB holds
 * about 40,000 servers): thirty lines of `h[0:99999]` would otherwise take minutes and gigabytes.
 */
export const MAX_INVENTORY_HOSTS = 100_000;

/** Why adding these host names would take the inventory past MAX_INVENTORY_HOSTS, if it would. */
export function tooManyHosts(inv: Inventory, names: readonly string[]): string | undefined {
  let added = 0;
  for (const n of names) if (!inv.hosts.has(n)) added++;
  if (inv.hosts.size + added <= MAX_INVENTORY_HOSTS) return undefined;
  return `the inventory has more than ${MAX_INVENTORY_HOSTS} hosts with this line (${inv.hosts.size} before it); the hosts after it are not read`;
}

/**
 * Expands Ansible host ranges as `expand_hostname_range` does: `www[01:50].example.com` (a
 * leading zero makes every number as wide as the beginning, which must then be as wide as the
 * end), `db-[a:f]`, `[1:10:2]` (a step), `[:3]` (from 0), several ranges in one name. Returns the
 * names, or the reason the pattern is malformed.
 */
export function expandHostPattern(pattern: string): { hosts: string[] } | { error: string } {
  if (!hasRange(pattern)) {
    if (/[[\]]/.test(pattern) && !/^\[[0-9a-fA-F:.]+\]$/.test(pattern))
      return { error: `"${pattern}" has an unclosed or empty range (expected [BEGIN:END])` };
    return { hosts: [pattern] };
  }
  const open = pattern.indexOf("[");
  const close = pattern.indexOf("]", open);
  const head = pattern.slice(0, open);
  const tail = pattern.slice(close + 1);
  const bounds = pattern.slice(open + 1, close).split(":");
  if (bounds.length !== 2 && bounds.length !== 3)
    return { error: `host range [${bounds.join(":")}] must be BEGIN:END or BEGIN:END:STEP` };
  const beg = bounds[0] || "0";
  const end = bounds[1]!;
  const stepText = bounds[2] ?? "1";
  if (!end) return { error: `host range [${bounds.join(":")}] has no end` };
  if (!/^[1-9]\d*$/.test(stepText))
    return { error: `host range step "${stepText}" is not a positive number` };
  const step = Number(stepText);
  let fill = (x: string) => x;
  if (beg[0] === "0" && beg.length > 1) {
    if (beg.length !== end.length)
      return {
        error: `host range [${beg}:${end}]: a beginning with a leading zero must be as wide as the end (Ansible pads every number to its width)`,
      };
    fill = (x) => x.padStart(beg.length, "0");
  }
  let seq: string[];
  const ib = beg.length === 1 ? LETTERS.indexOf(beg) : -1;
  const ie = end.length === 1 ? LETTERS.indexOf(end) : -1;
  if (ib >= 0 && ie >= 0) {
    if (ib > ie) return { error: `host range [${beg}:${end}] must have BEGIN <= END` };
    seq = [];
    for (let i = ib; i <= ie; i += step) seq.push(LETTERS[i]!);
  } else if (/^\d+$/.test(beg) && /^\d+$/.test(end)) {
    const b = Number(beg);
    const e = Number(end);
    if (b > e) return { error: `host range [${beg}:${end}] must have BEGIN <= END` };
    if ((e - b) / step + 1 > MAX_RANGE_HOSTS)
      return { error: `host range [${beg}:${end}] has more than ${MAX_RANGE_HOSTS} hosts` };
    seq = [];
    for (let i = b; i <= e; i += step) seq.push(String(i));
  } else
    return {
      error: `host range [${bounds.join(":")}] is neither numbers nor single letters (expected [01:50] or [a:f])`,
    };
  const hosts: string[] = [];
  for (const s of seq) {
    const name = `${head}${fill(s)}${tail}`;
    if (hasRange(name)) {
      const more = expandHostPattern(name);
      if ("error" in more) return more;
      hosts.push(...more.hosts);
    } else hosts.push(name);
    if (hosts.length > MAX_RANGE_HOSTS)
      return { error: `"${pattern}" has more than ${MAX_RANGE_HOSTS} hosts` };
  }
  return { hosts };
}

/**
 * A host pattern and its port (`jumper:2222`, `[fd00::1]:22`, as Ansible's parse_address splits
 * them). The port is not used by rollgate (a cluster's driver says how to reach a server).
 */
export function splitPort(pattern: string): { host: string; port?: string } {
  const bracketed = /^\[([0-9a-fA-F:.]+)\](?::(\d+))?$/.exec(pattern);
  if (bracketed) return bracketed[2] ? { host: bracketed[1]!, port: bracketed[2] } : { host: bracketed[1]! };
  // an IPv6 address (more than one colon) has no port unless bracketed
  if ((pattern.match(/:/g) ?? []).length > 1 && !hasRange(pattern)) return { host: pattern };
  // `name:22`, also after a range (`db[01:12].example.com:2222`); not the end of a range (`db[1:22]`)
  const m = /^(.*[^:]):(\d+)$/.exec(pattern);
  if (m && hasRange(m[1]!) === hasRange(pattern)) return { host: m[1]!, port: m[2]! };
  return { host: pattern };
}
