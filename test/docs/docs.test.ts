import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { fleetJsonSchema } from "../../src/model/fleet-schema.ts";
import { REGISTRY } from "../../src/rules/packs.ts";
import { ruleDocLink } from "../../src/rules/registry.ts";

/**
 * The docs stand alone (issue 13): the rule catalog (docs/rules.md) and the fleet file's contract
 * (docs/fleet-format.md) are in the repository, agree with the code, and nothing points outside it.
 */

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const read = (path: string) => readFileSync(join(REPO, path), "utf8");

/** The anchor GitHub gives a heading: lowercased, punctuation but `-` and `_` dropped, spaces as `-`. */
const slug = (heading: string) =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, "")
    .replace(/ /g, "-");

/** Every heading's anchor, with GitHub's `-1`, `-2` … for repeated ones. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const m of markdown.replace(/```[\s\S]*?```/g, "").matchAll(/^#{1,6} (.+)$/gm)) {
    const base = slug(m[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  for (const m of markdown.matchAll(/<a id="([^"]+)"><\/a>/g)) out.add(m[1]!);
  return out;
}

describe("docs/rules.md: the rule catalog", () => {
  const text = read("docs/rules.md");
  /** Each rule's section: from its `### ID` heading to the next heading. */
  const sections = new Map<string, string>();
  for (const m of text.matchAll(/^### (\S+)\n([\s\S]*?)(?=^#{1,3} |(?![\s\S]))/gm)) {
    expect(sections.has(m[1]!), `heading ${m[1]} twice`).toBe(false);
    sections.set(m[1]!, m[2]!);
  }
  /** A section's `- **Name:** …` line, its indented continuation lines joined. */
  const field = (id: string, name: string) =>
    sections
      .get(id)
      ?.match(new RegExp(`^- \\*\\*${name}:\\*\\* (.*(?:\\n  .*)*)$`, "m"))?.[1]
      ?.replace(/\n\s+/g, " ");

  it("has one section per rule of the registry, headed by its id, which ruleDocLink links to", () => {
    expect([...sections.keys()]).toEqual(REGISTRY.map((r) => r.id));
    const own = anchors(text);
    for (const r of REGISTRY) {
      const link = ruleDocLink(r.id);
      expect(link, r.id).toBe(`docs/rules.md#${slug(r.id)}`);
      expect(own.has(link.slice("docs/rules.md#".length)), `${link} has no anchor`).toBe(true);
    }
  });

  it("says `not built` for exactly the rules the registry has not built, and names their enforcers", () => {
    const wrong: string[] = [];
    for (const r of REGISTRY) {
      const status = field(r.id, "Status");
      const expected = r.status === "built" ? `built; enforced by ${r.enforcedBy.join(", ")}` : "not built";
      if (status !== expected) wrong.push(`${r.id}: "${status}", registry: "${expected}"`);
    }
    expect(wrong).toEqual([]);
    const notBuilt = REGISTRY.filter((r) => r.status === "not built").map((r) => r.id);
    expect([...sections.keys()].filter((id) => field(id, "Status") === "not built")).toEqual(notBuilt);
    expect(text).toContain(
      notBuilt.length === 0
        ? "Every rule of the catalog is built."
        : `Not built: ${notBuilt
            .map((id) => `[${id}](#${slug(id)})`)
            .join(", ")
            .replace(/, (?=[^,]*$)/, " and ")}.`,
    );
  });

  it("quotes each rule's statement, kind and why as the registry has them, and its note where it has one", () => {
    const wrong: string[] = [];
    for (const r of REGISTRY) {
      if (field(r.id, "Statement") !== r.statement) wrong.push(`${r.id} statement`);
      if (field(r.id, "Kind") !== r.kind) wrong.push(`${r.id} kind`);
      if (field(r.id, "Why") !== r.why) wrong.push(`${r.id} why`);
      if ((field(r.id, "Note") !== undefined) !== (r.note !== undefined)) wrong.push(`${r.id} note`);
    }
    expect(wrong).toEqual([]);
  });

  it("every link within the page lands on one of its anchors", () => {
    const own = anchors(text);
    const broken = [...text.matchAll(/\]\(#([^)]+)\)/g)].map((m) => m[1]!).filter((a) => !own.has(a));
    expect(broken).toEqual([]);
  });
});

describe("docs/fleet-format.md: the fleet file's contract", () => {
  const text = read("docs/fleet-format.md");
  const schema = fleetJsonSchema();

  /** Every property path of the JSON Schema (`clusters[].servers[].address`), and the fixed key names of its maps. */
  const paths = new Set<string>();
  const mapKeys = new Map<string, string[]>();
  const walk = (node: unknown, at: string) => {
    if (!node || typeof node !== "object") return;
    const n = node as Record<string, unknown>;
    for (const [k, v] of Object.entries((n.properties as Record<string, unknown>) ?? {})) {
      const p = at ? `${at}.${k}` : k;
      paths.add(p);
      walk(v, p);
    }
    if (n.items) for (const item of [n.items].flat()) walk(item, `${at}[]`);
    for (const item of (n.prefixItems as unknown[]) ?? []) walk(item, `${at}[]`);
    for (const k of ["anyOf", "oneOf", "allOf"]) for (const o of (n[k] as unknown[]) ?? []) walk(o, at);
    const names = (n.propertyNames as { enum?: string[] } | undefined)?.enum;
    if (names) mapKeys.set(at, names);
  };
  walk(schema, "");

  it("the schema walk finds the fields (a check of the walk itself)", () => {
    expect(paths.size).toBeGreaterThan(50);
    expect(paths).toContain("superclusters[].territories[].assigned.backup");
    expect([...mapKeys.keys()]).toEqual([
      "clusters[].estimates",
      "clusters[].driver.exec.commands",
      "clusters[].driver.ssh.commands",
    ]);
  });

  it("documents every field of the schema as `path` in a table row", () => {
    const rows = new Set(
      [...text.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]!).filter((p) => !p.includes(" ")),
    );
    expect([...paths].filter((p) => !rows.has(p))).toEqual([]);
    // and documents no field the schema lacks (a value type's row, such as `name`, is not a path)
    const fieldRows = [...rows].filter(
      (p) => /[.[]/.test(p) || ["$schema", "apiVersion", "fleet"].includes(p),
    );
    expect(fieldRows.filter((p) => !paths.has(p))).toEqual([]);
  });

  it("names every key a map of fixed keys may have (estimates, driver commands)", () => {
    const missing = [...mapKeys.entries()].flatMap(([at, keys]) =>
      keys.filter((k) => !text.includes(`\`${k}\``)).map((k) => `${at}.${k}`),
    );
    expect(missing).toEqual([]);
  });
});

describe("the docs stand alone", () => {
  const files = (dir: string): string[] =>
    readdirSync(join(REPO, dir), { withFileTypes: true }).flatMap((e) =>
      e.isDirectory() ? files(join(dir, e.name)) : [join(dir, e.name)],
    );

  it("no file of README.md, docs/ or src/ points at ../shared (a folder a clone does not have)", () => {
    const texts = ["README.md", ...files("docs"), ...files("src")].filter(
      (f) => !/\.(png|jpe?g|gif|ico|woff2?)$/.test(f),
    );
    expect(texts.length).toBeGreaterThan(50);
    const pointing = texts.filter((f) => read(f).includes("../shared"));
    expect(pointing).toEqual([]);
  });
});
