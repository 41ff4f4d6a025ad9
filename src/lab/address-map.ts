import { RollgateError } from "../model/errors.ts";
import { isDottedQuad } from "./judge.ts";

/**
 * Where each simulated appliance listens. A fleet address a.b.c.d becomes 127.b.c.d, so a person
 * reading the lab's mapping recognizes the server; everything else (IPv6, collisions, addresses
 * the lab reserves) is given an address from the pool 127.255.x.y and reported as remapped.
 * The fleet's real addresses are never bound nor contacted: only 127.0.0.0/8.
 */

/** The lab's control API listens here; no appliance gets this address. */
export const CONTROL_ADDRESS = "127.0.0.1";

export interface AddressMapping {
  server: string;
  cluster: string;
  /** The address of the fleet file (the one the cluster knows, M2). */
  address: string;
  /** The loopback address the simulated appliance listens on. */
  loopback: string;
  /** Set when the loopback address is not simply 127.b.c.d: why. */
  remapped?: string;
}

export interface AddressInput {
  server: string;
  cluster: string;
  address: string;
}

/** True for an IPv4 address inside 127.0.0.0/8: the only addresses the lab binds or contacts. */
export function isLoopbackV4(address: string): boolean {
  return isDottedQuad(address) && address.startsWith("127.");
}

function direct(address: string): { loopback?: string; why?: string } {
  if (!isDottedQuad(address)) return { why: "IPv6 address" };
  const [, b, c, d] = address.split(".").map(Number) as [number, number, number, number];
  const loopback = `127.${b}.${c}.${d}`;
  if (loopback === CONTROL_ADDRESS) return { why: `${loopback} is the lab's control address` };
  if (b === 255) return { why: "127.255.0.0/16 is the lab's pool" };
  if (d === 0 || d === 255) return { why: `${loopback} ends in .${d}` };
  return { loopback };
}

/** Maps every server to a distinct loopback address, deterministically (fleet order). */
export function mapAddresses(servers: readonly AddressInput[]): AddressMapping[] {
  const taken = new Map<string, string>();
  const out: AddressMapping[] = [];
  const pending: Array<{ index: number; why: string }> = [];
  for (const s of servers) {
    const { loopback, why } = direct(s.address);
    if (loopback && !taken.has(loopback)) {
      taken.set(loopback, s.server);
      out.push({ server: s.server, cluster: s.cluster, address: s.address, loopback });
    } else {
      const reason = why ?? `${loopback} is already ${taken.get(loopback!)}'s`;
      pending.push({ index: out.length, why: reason });
      out.push({ server: s.server, cluster: s.cluster, address: s.address, loopback: "" });
    }
  }
  let next = 0;
  for (const p of pending) {
    let candidate: string;
    do {
      if (next >= 256 * 254)
        throw new RollgateError(
          "ROLLGATE_E_LAB_START_FAILED",
          `the lab's address pool 127.255.0.0/16 is exhausted: ${pending.length} servers need an address of it, it has ${256 * 254}`,
        );
      candidate = `127.255.${Math.floor(next / 254)}.${(next % 254) + 1}`;
      next++;
    } while (taken.has(candidate));
    taken.set(candidate, out[p.index]!.server);
    out[p.index] = { ...out[p.index]!, loopback: candidate, remapped: p.why };
  }
  return out;
}
