import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ERROR_CATALOG, errorDocAnchor, RollgateError } from "../../src/model/errors.ts";

const doc = readFileSync(new URL("../../docs/errors.md", import.meta.url), "utf8");
const documented = [...doc.matchAll(/^### (ROLLGATE_E_[A-Z0-9_]+)\s*$/gm)].map((m) => m[1]!);

describe("error catalog and docs/errors.md", () => {
  it("documents every code of the catalog", () => {
    const missing = Object.keys(ERROR_CATALOG).filter((c) => !documented.includes(c));
    expect(missing).toEqual([]);
  });

  it("documents no code the catalog lacks, and each once", () => {
    expect(documented.filter((c) => !(c in ERROR_CATALOG))).toEqual([]);
    expect(new Set(documented).size).toBe(documented.length);
  });

  const sectionOf = (code: string) => (doc.split(`### ${code}\n`)[1]?.split(/\n#{2,3} /)[0] ?? "").trim();

  it("states each code's exit code in its section", () => {
    for (const [code, spec] of Object.entries(ERROR_CATALOG))
      expect(sectionOf(code), code).toMatch(new RegExp(`^Exit ${spec.exit}\\.`));
  });

  it("states each code's HTTP status in its section, as the catalog gives it", () => {
    const disagree = Object.entries(ERROR_CATALOG).flatMap(([code, spec]) => {
      const stated = /^Exit [0-4]\. HTTP (\d{3})\.$/m.exec(sectionOf(code).split("\n")[0] ?? "")?.[1];
      return stated === String(spec.status)
        ? []
        : [`${code}: doc ${stated ?? "none"}, catalog ${spec.status}`];
    });
    expect(disagree).toEqual([]);
  });

  it("gives an error the HTTP status of its code", () => {
    expect(new RollgateError("ROLLGATE_E_API_OUT_OF_SCOPE", "x").httpStatus).toBe(403);
    expect(new RollgateError("ROLLGATE_E_RUN_LOCKED", "x").httpStatus).toBe(409);
    expect(new RollgateError("ROLLGATE_E_INTERNAL", "x").httpStatus).toBe(500);
  });

  it("links each error to its anchor and serializes without a stack", () => {
    const e = new RollgateError("ROLLGATE_E_FLEET_YAML", "bad");
    expect(errorDocAnchor(e.code)).toBe("docs/errors.md#rollgate_e_fleet_yaml");
    expect(e.exitCode).toBe(2);
    expect(JSON.stringify(e)).not.toContain("at ");
  });
});
