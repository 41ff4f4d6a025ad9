import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { functionsOf, rulesWithFunctions } from "../../src/rules/functions.ts";
import { ENFORCERS, REGISTRY, type RuleEntry } from "../../src/rules/registry.ts";
import { REPO, runCli } from "../helpers/cli.ts";
import { e2eTimeouts } from "../helpers/wait.ts";

e2eTimeouts(60_000);

/** The catalog's ids (the design's rules.md): M1–M12, D1–D10 with D8's parts a–c, G1–G5. */
const CATALOG = [
  ...Array.from({ length: 12 }, (_, i) => `M${i + 1}`),
  ...["D1", "D2", "D3", "D4", "D5", "D6", "D7", "D8", "D8a", "D8b", "D8c", "D9", "D10"],
  ...Array.from({ length: 5 }, (_, i) => `G${i + 1}`),
];
const NOT_BUILT: string[] = [];

/** Tests of the registry itself list its ids: they name no rule's behaviour. */
const LISTINGS = [fileURLToPath(import.meta.url), join(REPO, "test/cli/rules.test.ts")];
const files = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : [],
  );

/** A test file's code without its comments: a comment that names a rule tests nothing. */
const withoutComments = (text: string) =>
  text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:\\"'`])\/\/.*$/gm, "$1");

/** Where a test names rules: the titles of its tests and suites, and the lines of its assertions. */
function namingText(text: string): string {
  const code = withoutComments(text);
  const titles = [
    ...code.matchAll(/\b(?:it|test|describe)(?:\.\w+)*(?:\([^)]*\))?\(\s*(["'`])((?:\\.|(?!\1)[^\\])*)\1/g),
  ].map((m) => m[2]!);
  const assertions = code.split("\n").filter((line) => /\bexpect\b/.test(line));
  return [...titles, ...assertions].join("\n");
}

const TESTS = files(join(REPO, "test"))
  .filter((f) => !LISTINGS.includes(f))
  .map((f) => ({ file: relative(REPO, f), text: namingText(readFileSync(f, "utf8")) }));

const testsNaming = (r: RuleEntry) =>
  TESTS.filter((t) => new RegExp(`\\b${r.id}\\b`).test(t.text)).map((t) => t.file);

describe("rule traceability (issue 9: a rule list claims only what is built)", () => {
  it("the registry has every id of the catalog once, in catalog order", () => {
    expect(REGISTRY.map((r) => r.id)).toEqual(CATALOG);
  });

  it("every rule is either built, with at least one enforcer, or not built, with none", () => {
    const wrong = REGISTRY.filter((r) =>
      r.status === "built"
        ? r.enforcedBy.length === 0 || r.enforcedBy.some((e) => !ENFORCERS.includes(e))
        : r.status !== "not built" || r.enforcedBy.length > 0,
    ).map((r) => `${r.id}: ${r.status}, enforced by [${r.enforcedBy.join(", ")}]`);
    expect(wrong).toEqual([]);
    expect(REGISTRY.filter((r) => r.status === "not built").map((r) => r.id)).toEqual(NOT_BUILT);
  });

  it("every built state predicate and step precondition has the function that decides it; no function decides an unbuilt rule", () => {
    const missing = REGISTRY.filter((r) => r.status === "built").flatMap((r) => {
      const f = functionsOf(r.id);
      if (r.kind === "state predicate" && f.predicates.length === 0) return [`${r.id}: no state predicate`];
      if (r.kind === "step precondition" && f.preconditions.length === 0) return [`${r.id}: no precondition`];
      return [];
    });
    expect(missing).toEqual([]);
    const status = new Map(REGISTRY.map((r) => [r.id, r.status]));
    expect(rulesWithFunctions().filter((id) => status.get(id) !== "built")).toEqual([]);
    // the functions are the ones the checks ask: their names as exported
    expect(functionsOf("M2")).toEqual({ preconditions: ["m2AddressOrder"], predicates: [] });
    expect(functionsOf("M3").predicates).toEqual(["m3TopSegment", "m3OutOfOrder"]);
  });

  it("every built rule is named by a test, in a test's title or an assertion", () => {
    const untested = REGISTRY.filter((r) => r.status === "built" && testsNaming(r).length === 0).map(
      (r) => r.id,
    );
    expect(untested, "built rules no test names (title or expect line)").toEqual([]);
  });

  it("rollgate rules --json lists every rule, every one built", async () => {
    const r = await runCli(["rules", "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const listed = JSON.parse(r.stdout) as RuleEntry[];
    expect(listed.map((x) => x.id)).toEqual(CATALOG);
    const status = Object.fromEntries(listed.map((x) => [x.id, x.status]));
    for (const id of NOT_BUILT) expect(status[id], id).toBe("not built");
    for (const id of CATALOG.filter((i) => !NOT_BUILT.includes(i))) expect(status[id], id).toBe("built");
    // M8's chain: planned, checked by the verifier and the engine's gate, refused by the lab off the
    // table; two releases off a supported path side by side break it as a state
    expect(listed.find((x) => x.id === "M8")).toMatchObject({
      enforcedBy: ["planner", "verifier", "engine", "lab"],
      functions: {
        preconditions: ["passesInOrder", "m8SupportedPath"],
        predicates: ["m8SupportedSideBySide"],
      },
    });
    expect(listed.find((x) => x.id === "D10")).toMatchObject({
      functions: { preconditions: ["d10JoinTheFounder"], predicates: [] },
    });
    // M11's declared passes: one after the other, never differing in release and mode at once
    expect(listed.find((x) => x.id === "M11")).toMatchObject({
      enforcedBy: ["planner", "verifier", "engine", "lab"],
      functions: { preconditions: ["m11PassesInOrder"], predicates: ["m11OnePassAtATime"] },
    });
  });
});
