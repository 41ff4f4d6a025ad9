import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { describePolicy, isCompatible } from "../../src/model/compatibility.ts";
import { compareVersions, formatVersion, parseVersion, versionMatches } from "../../src/model/version.ts";

const version = fc.array(fc.nat({ max: 30 }), { minLength: 1, maxLength: 5 }).map((p) => p.join("."));

describe("versions (G1)", () => {
  it("compares numerically part by part, any length", () => {
    expect(compareVersions("3.5.1", "3.5.0")).toBe(1);
    expect(compareVersions("3.10.0", "3.9.9")).toBe(1);
    expect(compareVersions("10.0.0.4", "10.0.0.10")).toBe(-1);
    expect(compareVersions("3.5", "3.5.0")).toBe(0);
    expect(compareVersions("3.5.0.0.1", "3.5")).toBe(1);
  });

  it("rejects what is not a dotted number", () => {
    for (const bad of ["", "3.", ".3", "3..5", "v3.5", "3.5-beta", "3,5", " 3.5"])
      expect(parseVersion(bad)).toBeUndefined();
    expect(parseVersion("10.0.0.4")).toEqual([10, 0, 0, 4]);
  });

  it("matches version prefixes, with or without .x", () => {
    expect(versionMatches("3.4.7", "3.4.x")).toBe(true);
    expect(versionMatches("3.4.7", "3.4")).toBe(true);
    expect(versionMatches("3.40.1", "3.4")).toBe(false);
  });

  it("is a total order: antisymmetric, transitive, consistent with formatting", () => {
    fc.assert(
      fc.property(version, version, version, (a, b, c) => {
        expect(compareVersions(a, b) + compareVersions(b, a)).toBe(0);
        if (compareVersions(a, b) <= 0 && compareVersions(b, c) <= 0)
          expect(compareVersions(a, c)).toBeLessThanOrEqual(0);
        expect(compareVersions(formatVersion(parseVersion(a)!), a)).toBe(0);
      }),
    );
  });

  it("trailing zeros never change the order", () => {
    fc.assert(
      fc.property(version, version, (a, b) => compareVersions(`${a}.0`, b) === compareVersions(a, b)),
    );
  });
});

describe("compatibility policies (G1)", () => {
  it("same-major-minor: patch releases are compatible, minor and major changes are not (D2)", () => {
    const p = { kind: "same-major-minor" } as const;
    expect(isCompatible("10.0.1", "10.0.2", p)).toBe(true);
    expect(isCompatible("10.0.1", "10.1.0", p)).toBe(false);
    expect(isCompatible("10.0.1", "11.0.1", p)).toBe(false);
    expect(isCompatible("10.0", "10.0.0.7", p)).toBe(true);
  });

  it("same-major", () => {
    expect(isCompatible("3.1.2", "3.6.0", { kind: "same-major" })).toBe(true);
    expect(isCompatible("3.6.0", "4.1.0", { kind: "same-major" })).toBe(false);
  });

  it("at most N minor releases apart", () => {
    const p = { kind: "minor-distance", max: 1 } as const;
    expect(isCompatible("2.4.1", "2.5.0", p)).toBe(true);
    expect(isCompatible("2.4.1", "2.6.0", p)).toBe(false);
    expect(isCompatible("2.4.1", "3.4.1", p)).toBe(false);
    expect(describePolicy(p)).toContain("1 minor");
  });

  it("explicit table, in both directions", () => {
    const p = { kind: "table", pairs: [["3.5", "3.6.x"]] } as const;
    expect(isCompatible("3.5.2", "3.6.0", p)).toBe(true);
    expect(isCompatible("3.6.0", "3.5.2", p)).toBe(true);
    expect(isCompatible("3.5.2", "3.7.0", p)).toBe(false);
  });

  it("every policy is reflexive and symmetric", () => {
    const policy = fc.oneof(
      fc.constant({ kind: "same-major-minor" } as const),
      fc.constant({ kind: "same-major" } as const),
      fc.nat({ max: 3 }).map((max) => ({ kind: "minor-distance", max }) as const),
      fc.tuple(version, version).map(([a, b]) => ({ kind: "table", pairs: [[a, b]] }) as const),
    );
    fc.assert(
      fc.property(version, version, policy, (a, b, p) => {
        expect(isCompatible(a, a, p)).toBe(true);
        expect(isCompatible(a, b, p)).toBe(isCompatible(b, a, p));
      }),
    );
  });
});
