import { isAlias, isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, type YAMLMap } from "yaml";
import type { Diagnostic } from "../model/errors.ts";
import {
  addChild,
  addHost,
  emptyInventory,
  expandHostPattern,
  MAX_INVENTORY_HOSTS,
  group,
  type Inventory,
  type InventoryParseResult,
  settleImplicitGroups,
  tooManyHosts,
  splitPort,
  type Vars,
} from "./inventory.ts";

/**
 * Ansible's YAML inventory (the `yaml` inventory plugin): top-level keys are groups (usually
 * `all`), each a map of `hosts` (host name or range → its variables), `vars` and `children`
 * (group name → a group of the same form). Pure: takes the text and the file name.
 */
export function parseAnsibleYaml(text: string, file: string): InventoryParseResult {
  const { doc, lines, diagnostics } = parseWithLines(text, file);
  const inv = emptyInventory(file, "yaml");
  if (!doc) return { inventory: inv, diagnostics };
  const lineOf = (n: Node | null | undefined) => (n?.range ? lines.linePos(n.range[0]).line : 1);
  // once the inventory holds MAX_INVENTORY_HOSTS hosts, one diagnostic and no more hosts
  let full = false;
  const bad = (n: Node | null | undefined, message: string, expected: string, path: string) =>
    diagnostics.push({ code: "ROLLGATE_E_IMPORT_SYNTAX", file, line: lineOf(n), message, expected, path });

  // an alias (`*name`) stands for its anchor's node, as Ansible's YAML loader reads it
  const deref = (n: unknown): Node | null => {
    let node = n as Node | null;
    for (let i = 0; i < 100 && node && isAlias(node); i++) node = node.resolve(doc) ?? null;
    return node && isAlias(node) ? null : node;
  };

  const readGroup = (name: string, keyNode: Node, raw: unknown, path: string) => {
    const value = deref(raw);
    const empty = value === null || (isScalar(value) && value.value === null);
    // a key with a body declares the group; `east:` alone under children only names it
    const g = group(inv, name, lineOf(keyNode), !empty);
    if (empty) return;
    if (!isMap(value)) {
      bad(value as Node, `group ${name} is not a map`, "a map of hosts, vars and children", path);
      return;
    }
    for (const pair of value.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : "";
      const v = deref(pair.value);
      if (key === "vars") readVars(v, g.vars, `${path}.vars`);
      else if (key === "hosts") {
        if (v === null || (isScalar(v) && v.value === null)) continue;
        if (!isMap(v)) {
          bad(
            v,
            `the hosts of group ${name} are not a map`,
            "a map of host name → its variables",
            `${path}.hosts`,
          );
          continue;
        }
        for (const hp of v.items) {
          const pattern = isScalar(hp.key) ? String(hp.key.value) : "";
          const expanded = expandHostPattern(splitPort(pattern).host);
          if ("error" in expanded) {
            bad(
              hp.key as Node,
              expanded.error,
              "a host name or a range such as www[01:50].example.com",
              `${path}.hosts`,
            );
            continue;
          }
          if (full) continue;
          const over = tooManyHosts(inv, expanded.hosts);
          if (over !== undefined) {
            full = true;
            bad(hp.key as Node, over, `at most ${MAX_INVENTORY_HOSTS} hosts`, `${path}.hosts`);
            continue;
          }
          for (const h of expanded.hosts) {
            const host = addHost(inv, name, h, lineOf(hp.key as Node));
            readVars(deref(hp.value), host.vars, `hosts["${h}"]`);
          }
        }
      } else if (key === "children") {
        if (v === null || (isScalar(v) && v.value === null)) continue;
        if (!isMap(v)) {
          bad(
            v,
            `the children of group ${name} are not a map`,
            "a map of group name → group",
            `${path}.children`,
          );
          continue;
        }
        for (const cp of v.items) {
          const child = isScalar(cp.key) ? String(cp.key.value) : "";
          if (!child || child === name) {
            bad(
              cp.key as Node,
              `group ${name} has an invalid child "${child}"`,
              "another group's name",
              `${path}.children`,
            );
            continue;
          }
          addChild(inv, name, child, lineOf(cp.key as Node));
          readGroup(child, cp.key as Node, cp.value, `groups.${child}`);
        }
      } else bad(pair.key as Node, `unknown key "${key}" in group ${name}`, "hosts, vars or children", path);
    }
  };

  const readVars = (raw: Node | null, into: Vars, path: string, depth = 0) => {
    const v = deref(raw);
    if (v === null || (isScalar(v) && v.value === null)) return;
    if (!isMap(v)) {
      bad(v, "variables are not a map", "a map of variable → value", path);
      return;
    }
    // a merge key (`<<: *defaults`, or a list of them) gives what the map's own keys do not set
    const own = new Set(
      v.items.flatMap((p) => (isScalar(p.key) && p.key.value !== "<<" ? [String(p.key.value)] : [])),
    );
    for (const p of v.items) {
      if (!isScalar(p.key)) continue;
      const key = String(p.key.value);
      if (key === "<<" && depth < 10) {
        const merged = deref(p.value);
        const sources = isSeq(merged) ? merged.items.map((i) => deref(i)) : [merged];
        for (const src of sources) {
          const from: Vars = new Map();
          readVars(src, from, path, depth + 1);
          for (const [k, val] of from) if (!own.has(k) && !into.has(k)) into.set(k, val);
        }
      } else into.set(key, { value: scalarValue(deref(p.value), doc), line: lineOf(p.key) });
    }
  };

  const root = doc.contents;
  if (root === null || (isScalar(root) && root.value === null)) {
    settleImplicitGroups(inv);
    return { inventory: inv, diagnostics };
  }
  if (!isMap(root)) {
    bad(
      root,
      "the inventory is not a map of groups",
      "a map such as all: { hosts: …, children: … }",
      "(document)",
    );
    return { inventory: inv, diagnostics };
  }
  for (const pair of (root as YAMLMap).items) {
    const name = isScalar(pair.key) ? String(pair.key.value) : "";
    readGroup(name, pair.key as Node, pair.value, `groups.${name}`);
  }
  settleImplicitGroups(inv);
  return { inventory: inv, diagnostics };
}

/** A YAML (or JSON) document with positions; YAML errors as ROLLGATE_E_IMPORT_SYNTAX. */
export function parseWithLines(
  text: string,
  file: string,
): { doc: ReturnType<typeof parseDocument> | undefined; lines: LineCounter; diagnostics: Diagnostic[] } {
  const lines = new LineCounter();
  const diagnostics: Diagnostic[] = [];
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  for (const e of doc.errors) {
    const pos = lines.linePos(e.pos[0]);
    diagnostics.push({
      code: "ROLLGATE_E_IMPORT_SYNTAX",
      file,
      line: pos.line,
      column: pos.col,
      message: e.message.split("\n")[0]!,
    });
  }
  return { doc: doc.errors.length ? undefined : doc, lines, diagnostics };
}

/**
 * A variable's value: a number keeps its text as written (`rollgate_version: 10.0` is "10.0"),
 * other scalars their value, maps and lists their JavaScript form.
 */
export function scalarValue(n: Node | null, doc?: ReturnType<typeof parseDocument>): unknown {
  if (n === null) return null;
  if (isScalar(n)) return typeof n.value === "number" && n.source !== undefined ? String(n.source) : n.value;
  // aliases inside resolved against the document, within yaml's own bound on their expansion
  if (isMap(n) || isSeq(n)) return n.toJSON(doc);
  return null;
}

export type { Inventory };
