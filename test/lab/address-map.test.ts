import { describe, expect, it } from "vitest";
import { isLoopbackV4, mapAddresses } from "../../src/lab/address-map.ts";
import { e2eTimeouts } from "../helpers/wait.ts";

e2eTimeouts(60_000);

const m = (address: string, server = address) => ({ server, cluster: "c", address });

describe("lab address mapping", () => {
  it("maps a.b.c.d to 127.b.c.d", () => {
    expect(mapAddresses([m("10.10.1.3", "srv3")])).toEqual([
      { server: "srv3", cluster: "c", address: "10.10.1.3", loopback: "127.10.1.3" },
    ]);
  });

  it("moves collisions, IPv6 and reserved results to the 127.255.x.y pool, and says why", () => {
    const out = mapAddresses([
      m("10.10.1.3", "a"),
      m("192.10.1.3", "b"),
      m("fd00::1", "c"),
      m("10.0.0.1", "d"),
      m("10.255.0.7", "e"),
      m("10.1.1.0", "f"),
    ]);
    expect(out.map((x) => x.loopback)).toEqual([
      "127.10.1.3",
      "127.255.0.1",
      "127.255.0.2",
      "127.255.0.3",
      "127.255.0.4",
      "127.255.0.5",
    ]);
    expect(out[1]!.remapped).toMatch(/already a's/);
    expect(out[2]!.remapped).toBe("IPv6 address");
    expect(out[3]!.remapped).toMatch(/control address/);
    expect(out[0]!.remapped).toBeUndefined();
  });

  it("never gives two servers one address, and only loopback addresses, for 1,000 servers", () => {
    const input = Array.from({ length: 1000 }, (_, i) =>
      m(`10.${i % 3}.${Math.floor(i / 250)}.${(i % 250) + 1}`, `s${i}`),
    );
    const out = mapAddresses(input);
    expect(new Set(out.map((x) => x.loopback)).size).toBe(1000);
    expect(out.every((x) => isLoopbackV4(x.loopback))).toBe(true);
  });

  it("skips pool addresses taken by a direct mapping", () => {
    const out = mapAddresses([m("10.255.0.1", "a"), m("1.255.0.1", "b")]);
    expect(out.map((x) => x.loopback)).toEqual(["127.255.0.1", "127.255.0.2"]);
  });
});
