import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isIPAddress, isIPv4, isIPv6 } from "../../src/model/address.ts";
import { compareAddresses } from "../../src/model/address.ts";
import { isIP } from "node:net";

describe("addresses", () => {
  it("accepts IPv4 and IPv6, rejects the rest", () => {
    for (const ok of [
      "10.10.1.3",
      "0.0.0.0",
      "255.255.255.255",
      "::1",
      "fd00:20::4:1",
      "::",
      "::ffff:10.0.0.1",
      "1:2:3:4:5:6:7:8",
    ]) {
      expect(isIPAddress(ok), ok).toBe(true);
    }
    for (const bad of [
      "10.60.0.300",
      "10.1.1",
      "10.01.1.1",
      "1.2.3.4.5",
      "a.b.c.d",
      "1::2::3",
      "1:2:3:4:5:6:7:8:9",
      "12345::",
      "",
    ]) {
      expect(isIPAddress(bad), bad).toBe(false);
    }
  });

  it("agrees with node's own parser on random input", () => {
    const octet = fc.oneof(fc.nat({ max: 300 }).map(String), fc.constantFrom("01", "", "x"));
    const v4 = fc.array(octet, { minLength: 3, maxLength: 5 }).map((p) => p.join("."));
    const group = fc.oneof(
      fc.string({ unit: fc.constantFrom(..."0123456789abcdefABCDEFg"), maxLength: 5 }),
      fc.constant(""),
    );
    const v6 = fc.array(group, { minLength: 2, maxLength: 10 }).map((p) => p.join(":"));
    fc.assert(
      fc.property(fc.oneof(v4, v6), (s) => {
        expect(isIPv4(s), s).toBe(isIP(s) === 4);
        expect(isIPv6(s), s).toBe(isIP(s) === 6);
      }),
      { numRuns: 2000 },
    );
  });

  it("orders addresses numerically per octet (M2)", () => {
    expect(compareAddresses("10.10.1.10", "10.10.1.9")).toBe(1);
    expect(compareAddresses("10.10.1.3", "10.10.2.1")).toBe(-1);
    expect(compareAddresses("fd00::2", "fd00::10")).toBe(-1);
    expect(compareAddresses("10.0.0.1", "::1")).toBe(-1);
  });
});
