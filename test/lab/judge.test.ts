import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compareServerAddresses, compareReleases, isRelease, releasesMayMeet } from "../../src/lab/judge.ts";
import { compareAddresses } from "../../src/model/address.ts";
import { type CompatibilityPolicy, isCompatible } from "../../src/model/compatibility.ts";
import { compareVersions, isVersionString } from "../../src/model/version.ts";
import { e2eTimeouts } from "../helpers/wait.ts";

e2eTimeouts(30_000);

/**
 * The lab judges the planner with its own comparisons (src/lab/judge.ts, written from the
 * manuals). Here both readings meet the manuals' cases, and agree with each other on random
 * input: a disagreement is a bug in one of them, found before a rehearsal hides it.
 */

const release = fc
  .array(fc.integer({ min: 0, max: 40 }), { minLength: 1, maxLength: 4 })
  .map((parts) => parts.join("."));
const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join("."));
const ipv6 = fc
  .array(fc.nat(0xffff), { minLength: 8, maxLength: 8 })
  .map((ws) => ws.map((w) => w.toString(16)).join(":"));
const policy: fc.Arbitrary<CompatibilityPolicy> = fc.oneof(
  fc.constant({ kind: "same-major-minor" as const }),
  fc.constant({ kind: "same-major" as const }),
  fc.integer({ min: 0, max: 3 }).map((max) => ({ kind: "minor-distance" as const, max })),
  fc
    .array(fc.tuple(release, release), { minLength: 1, maxLength: 3 })
    .map((pairs) => ({ kind: "table" as const, pairs })),
);

describe("the lab's own comparisons (G1, D2, M2, M3)", () => {
  it("orders releases number by number, a missing number counting as zero", () => {
    expect(compareReleases("3.5.1", "3.5.0")).toBe(1);
    expect(compareReleases("3.5", "3.5.0")).toBe(0);
    expect(compareReleases("3.10.0", "3.9.9")).toBe(1);
    expect(compareReleases("10.0.0.4", "9.2")).toBe(1);
    expect(isRelease("3.5.1")).toBe(true);
    expect(isRelease("3.5.x")).toBe(false);
    expect(isRelease("v3.5")).toBe(false);
  });

  it("lets releases meet as the declared policy says (G1: 3.4 and 3.5 under same-major-minor do not)", () => {
    expect(releasesMayMeet("3.5.0", "3.5.1", { kind: "same-major-minor" })).toBe(true);
    expect(releasesMayMeet("3.4.0", "3.5.1", { kind: "same-major-minor" })).toBe(false);
    expect(releasesMayMeet("10.0.0.4", "10.1", { kind: "same-major" })).toBe(true);
    expect(releasesMayMeet("10.0", "10.3", { kind: "minor-distance", max: 2 })).toBe(false);
    expect(releasesMayMeet("3.4.2", "3.5.1", { kind: "table", pairs: [["3.4.x", "3.5"]] })).toBe(true);
    expect(releasesMayMeet("3.5.1", "3.4.2", { kind: "table", pairs: [["3.4.x", "3.5"]] })).toBe(true);
    expect(releasesMayMeet("3.40.2", "3.5.1", { kind: "table", pairs: [["3.4.x", "3.5"]] })).toBe(false);
  });

  it("orders addresses numerically, IPv4 before IPv6, ::ffff:a.b.c.d as its IPv4 address (M2)", () => {
    expect(compareServerAddresses("10.10.1.3", "10.10.1.20")).toBe(-1);
    expect(compareServerAddresses("10.10.2.1", "10.10.1.200")).toBe(1);
    expect(compareServerAddresses("::ffff:10.10.1.3", "10.10.1.3")).toBe(0);
    expect(compareServerAddresses("255.255.255.255", "::1")).toBe(-1);
    expect(compareServerAddresses("fd00::2", "fd00::10")).toBe(-1);
    expect(compareServerAddresses("fd00:0:0:0:0:0:0:10", "fd00::10")).toBe(0);
  });

  it("agrees with the planner's comparisons on random releases, policies and addresses", () => {
    fc.assert(
      fc.property(release, release, (a, b) => {
        expect(isRelease(a)).toBe(isVersionString(a));
        expect(compareReleases(a, b)).toBe(compareVersions(a, b));
      }),
    );
    fc.assert(
      fc.property(release, release, policy, (a, b, p) => {
        expect(releasesMayMeet(a, b, p)).toBe(isCompatible(a, b, p));
      }),
    );
    fc.assert(
      fc.property(fc.oneof(ipv4, ipv6), fc.oneof(ipv4, ipv6), (a, b) => {
        expect(compareServerAddresses(a, b)).toBe(compareAddresses(a, b));
      }),
    );
  });
});
