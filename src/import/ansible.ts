import { parseAnsibleIni } from "./ansible-ini.ts";
import { parseAnsibleJson } from "./ansible-json.ts";
import { parseAnsibleYaml } from "./ansible-yaml.ts";
import type { Inventory, InventoryParseResult } from "./inventory.ts";

/**
 * Which of Ansible's inventory formats a text is written in: JSON as `ansible-inventory --list`
 * prints it (`"hosts": [ … ]` lists, `_meta`), YAML (`all:` with hosts, vars and children maps; a
 * JSON text of that form too) or INI. The file's extension decides when it says (.ini, .yml,
 * .yaml); else the text: a first line opening `{`, or a `key:` line or `---`, or else INI.
 */
export function inventoryFormat(text: string, file: string): Inventory["format"] {
  const ext = /\.([A-Za-z0-9]+)$/.exec(file)?.[1]?.toLowerCase();
  const first = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .find((l) => l !== "" && !l.startsWith("#") && !l.startsWith(";"));
  if (first?.startsWith("{") || ext === "json")
    return /"(hosts|children)"\s*:\s*\[|"_meta"\s*:/.test(text) ? "json" : "yaml";
  if (ext === "ini" || ext === "cfg") return "ini";
  if (ext === "yml" || ext === "yaml") return "yaml";
  if (first === undefined) return "ini";
  if (first === "---" || /^[^\s=[#;][^=]*:(\s+(#.*)?)?$/.test(first)) return "yaml";
  return "ini";
}

/** Parses an inventory of any of the three formats. Pure. */
export function parseInventory(text: string, file: string): InventoryParseResult {
  const format = inventoryFormat(text, file);
  return format === "json"
    ? parseAnsibleJson(text, file)
    : format === "yaml"
      ? parseAnsibleYaml(text, file)
      : parseAnsibleIni(text, file);
}
