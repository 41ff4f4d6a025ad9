import type { Diagnostic } from "../model/errors.ts";
import {
  addChild,
  addHost,
  emptyInventory,
  expandHostPattern,
  MAX_INVENTORY_HOSTS,
  group,
  type InventoryParseResult,
  settleImplicitGroups,
  tooManyHosts,
  splitPort,
} from "./inventory.ts";

/**
 * Ansible's INI inventory (the `ini` inventory plugin), read as Ansible reads it: `[group]`
 * sections of host lines (`name key=value …`, ranges such as `www[01:50].example.com`),
 * `[group:children]` sections of child group names, `[group:vars]` sections of `key=value`
 * lines; hosts before the first section are ungrouped; `#` and `;` start a comment line.
 * Pure: takes the text and the file name to report it by.
 */
export function parseAnsibleIni(text: string, file: string): InventoryParseResult {
  const inv = emptyInventory(file, "ini");
  const diagnostics: Diagnostic[] = [];
  // once the inventory holds MAX_INVENTORY_HOSTS hosts, one diagnostic and no more hosts
  let full = false;
  const bad = (line: number, message: string, expected?: string, path?: string) =>
    diagnostics.push({
      code: "ROLLGATE_E_IMPORT_SYNTAX",
      file,
      line,
      message,
      ...(path ? { path } : {}),
      ...(expected ? { expected } : {}),
    });
  let section = "ungrouped";
  let kind: "hosts" | "children" | "vars" = "hosts";
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, i) => {
    const n = i + 1;
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) return;
    if (line.startsWith("[")) {
      const m = /^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:[#;].*)?$/.exec(line);
      if (m) {
        const type = m[2] ?? "hosts";
        if (type !== "hosts" && type !== "children" && type !== "vars") {
          bad(
            n,
            `section [${m[1]}:${type}] has an unknown type "${type}"`,
            "[GROUP], [GROUP:children] or [GROUP:vars]",
          );
          section = "";
          return;
        }
        section = m[1]!;
        kind = type;
        group(inv, section, n, type !== "vars");
        return;
      }
      if (/\]\s*(?:[#;].*)?$/.test(line)) {
        bad(
          n,
          `invalid section header ${line} (no spaces or other characters in a section name)`,
          "[GROUP], [GROUP:children] or [GROUP:vars]",
        );
        section = "";
        return;
      }
      // else a host line that starts with a range ([a:c].example.com) or an IPv6 address
    }
    if (section === "") return; // the lines of a section already reported
    if (kind === "vars") {
      const eq = line.indexOf("=");
      if (eq <= 0) {
        bad(
          n,
          `expected key=value in [${section}:vars], found "${line}"`,
          "key=value",
          `groups.${section}.vars`,
        );
        return;
      }
      const key = line.slice(0, eq).trim();
      group(inv, section, n).vars.set(key, { value: iniValue(line.slice(eq + 1).trim()), line: n });
      return;
    }
    if (kind === "children") {
      const m = /^(\S+)\s*(?:[#;].*)?$/.exec(line);
      if (!m) {
        bad(
          n,
          `expected a group name in [${section}:children], found "${line}"`,
          "one group name a line",
          `groups.${section}.children`,
        );
        return;
      }
      if (m[1] === section) {
        bad(n, `group ${section} is its own child`, "another group's name", `groups.${section}.children`);
        return;
      }
      addChild(inv, section, m[1]!, n);
      return;
    }
    const tokens = shlexSplit(line);
    if (tokens === undefined) {
      bad(n, `unclosed quote in "${line}"`, "a host name followed by key=value pairs");
      return;
    }
    if (tokens.length === 0) return;
    const { host: pattern } = splitPort(tokens[0]!);
    const expanded = expandHostPattern(pattern);
    if ("error" in expanded) {
      bad(
        n,
        expanded.error,
        "a host name or a range such as www[01:50].example.com",
        `groups.${section}.hosts`,
      );
      return;
    }
    if (full) return;
    const over = tooManyHosts(inv, expanded.hosts);
    if (over !== undefined) {
      full = true;
      bad(n, over, `at most ${MAX_INVENTORY_HOSTS} hosts`, `groups.${section}.hosts`);
      return;
    }
    const vars: [string, string][] = [];
    for (const t of tokens.slice(1)) {
      const eq = t.indexOf("=");
      if (eq <= 0) {
        bad(
          n,
          `expected key=value after host ${tokens[0]}, found "${t}"`,
          "key=value host variables",
          `hosts["${pattern}"]`,
        );
        return;
      }
      vars.push([t.slice(0, eq), t.slice(eq + 1)]);
    }
    for (const name of expanded.hosts) {
      const h = addHost(inv, section, name, n);
      for (const [k, v] of vars) h.vars.set(k, { value: iniValue(v), line: n });
    }
  });
  settleImplicitGroups(inv);
  return { inventory: inv, diagnostics };
}

/** A value as Ansible's INI plugin keeps it, for rollgate's purposes: quotes removed, else the text. */
function iniValue(text: string): string {
  const m = /^(["'])(.*)\1$/.exec(text);
  return m ? m[2]! : text;
}

/**
 * Splits a host line as Python's shlex (comments on) does, enough for inventories: whitespace
 * separates, quotes group (and are removed), `#` at the start of a word ends the line. Undefined
 * for an unclosed quote.
 */
export function shlexSplit(line: string): string[] | undefined {
  const out: string[] = [];
  let cur = "";
  let inWord = false;
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      else if (c === "\\" && quote === '"' && i + 1 < line.length) cur += line[++i];
      else cur += c;
      continue;
    }
    if (c === "'" || c === '"') {
      quote = c;
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) out.push(cur);
      cur = "";
      inWord = false;
    } else if (c === "#" && !inWord) break;
    else if (c === "\\" && i + 1 < line.length) {
      cur += line[++i];
      inWord = true;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (quote) return undefined;
  if (inWord) out.push(cur);
  return out;
}
