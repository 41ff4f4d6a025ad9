import { isMap, isScalar, isSeq, type Node } from "yaml";
import { parseWithLines, scalarValue } from "./ansible-yaml.ts";
import {
  addChild,
  addHost,
  emptyInventory,
  group,
  type InventoryParseResult,
  settleImplicitGroups,
  type Vars,
} from "./inventory.ts";

/**
 * The JSON `ansible-inventory --list` prints (and a dynamic inventory script's `--list`): top-level
 * keys are groups, each with `hosts` (a list of names), `children` (a list of group names) and
 * `vars`; `_meta.hostvars` holds each host's variables (the group variables merged in, unless
 * `--export`). Pure: takes the text and the file name.
 */
export function parseAnsibleJson(text: string, file: string): InventoryParseResult {
  const { doc, lines, diagnostics } = parseWithLines(text, file);
  const inv = emptyInventory(file, "json");
  if (!doc) return { inventory: inv, diagnostics };
  const lineOf = (n: Node | null | undefined) => (n?.range ? lines.linePos(n.range[0]).line : 1);
  const bad = (n: Node | null | undefined, message: string, expected: string, path: string) =>
    diagnostics.push({ code: "ROLLGATE_E_IMPORT_SYNTAX", file, line: lineOf(n), message, expected, path });
  const readVars = (v: Node | null, into: Vars, path: string) => {
    if (v === null || (isScalar(v) && v.value === null)) return;
    if (!isMap(v)) {
      bad(v, "variables are not an object", "an object of variable → value", path);
      return;
    }
    for (const p of v.items)
      if (isScalar(p.key))
        into.set(String(p.key.value), { value: scalarValue(p.value as Node | null), line: lineOf(p.key) });
  };
  const names = (v: Node | null, what: string, path: string): { name: string; node: Node }[] => {
    if (v === null) return [];
    if (!isSeq(v)) {
      bad(v, `${what} is not a list`, "a list of names", path);
      return [];
    }
    const out: { name: string; node: Node }[] = [];
    for (const item of v.items) {
      if (isScalar(item) && typeof item.value === "string" && item.value !== "")
        out.push({ name: item.value, node: item });
      else bad(item as Node, `an entry of ${what} is not a name`, "a string", path);
    }
    return out;
  };

  const root = doc.contents;
  if (!isMap(root)) {
    bad(
      root,
      "the inventory is not an object of groups",
      'an object such as {"all": {"children": […]}, "_meta": …}',
      "(document)",
    );
    return { inventory: inv, diagnostics };
  }
  let hostvars: Node | null = null;
  for (const pair of root.items) {
    const name = isScalar(pair.key) ? String(pair.key.value) : "";
    const v = pair.value as Node | null;
    if (name === "_meta") {
      if (isMap(v)) {
        for (const mp of v.items)
          if (isScalar(mp.key) && mp.key.value === "hostvars") hostvars = mp.value as Node | null;
      } else bad(v, "_meta is not an object", 'an object with "hostvars"', "_meta");
      continue;
    }
    const g = group(inv, name, lineOf(pair.key as Node), true);
    if (v === null || (isScalar(v) && v.value === null)) continue;
    if (isSeq(v)) {
      // the older script form: a group as a plain list of host names
      for (const h of names(v, `group ${name}`, name)) addHost(inv, name, h.name, lineOf(h.node));
      continue;
    }
    if (!isMap(v)) {
      bad(v, `group ${name} is not an object`, "an object of hosts, children and vars", name);
      continue;
    }
    for (const gp of v.items) {
      const key = isScalar(gp.key) ? String(gp.key.value) : "";
      const gv = gp.value as Node | null;
      if (key === "hosts")
        for (const h of names(gv, `${name}.hosts`, `${name}.hosts`))
          addHost(inv, name, h.name, lineOf(h.node));
      else if (key === "children")
        for (const c of names(gv, `${name}.children`, `${name}.children`)) {
          if (c.name === name)
            bad(c.node, `group ${name} is its own child`, "another group's name", `${name}.children`);
          else addChild(inv, name, c.name, lineOf(c.node));
        }
      else if (key === "vars") readVars(gv, g.vars, `${name}.vars`);
      else bad(gp.key as Node, `unknown key "${key}" in group ${name}`, "hosts, children or vars", name);
    }
  }
  if (hostvars !== null) {
    if (!isMap(hostvars))
      bad(hostvars, "_meta.hostvars is not an object", "an object of host → variables", "_meta.hostvars");
    else
      for (const hp of hostvars.items) {
        const name = isScalar(hp.key) ? String(hp.key.value) : "";
        // a host with variables but in no group is in `all` (ungrouped)
        const host = inv.hosts.get(name) ?? addHost(inv, "all", name, lineOf(hp.key as Node));
        readVars(hp.value as Node | null, host.vars, `_meta.hostvars["${name}"]`);
      }
  }
  settleImplicitGroups(inv);
  return { inventory: inv, diagnostics };
}
