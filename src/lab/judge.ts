import { isIPv4, isIPv6 } from "node:net";
import type { CompatibilityPolicy } from "../model/compatibility.ts";

/**
 * The lab's own reading of what the manuals compare: releases (G1), which releases may meet
 * (G1, D2) and the address order of a matrix (M2, M3). Written here from the manuals and
 * docs/rules.md, not imported from model/: the lab judges the planner, so a bug in the planner's
 * comparisons must not be repeated by the lab (test/lab/judge.test.ts holds both to the same
 * cases). Only the policy's data type is shared: it is what the fleet file declares.
 */

/** A release as its numbers: "3.5.1" → [3, 5, 1]; undefined for anything but dotted decimals. */
export function releaseNumbers(text: string): number[] | undefined {
  if (!/^[0-9]{1,9}(?:\.[0-9]{1,9})*$/.test(text)) return undefined;
  return text.split(".").map((part) => Number.parseInt(part, 10));
}

export function isRelease(text: unknown): text is string {
  return typeof text === "string" && releaseNumbers(text) !== undefined;
}

/**
 * Orders two releases: negative, zero or positive. The manuals' releases are dotted numbers
 * compared number by number, a missing number counting as zero (3.5 is 3.5.0). A text that is
 * no release sorts below every release (the lab refuses such installs before it compares).
 */
export function compareReleases(a: string, b: string): number {
  const x = releaseNumbers(a);
  const y = releaseNumbers(b);
  if (!x || !y) return x ? 1 : y ? -1 : 0;
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

/** "3.4.x" and "3.4" name every release under 3.4. */
function under(release: number[], prefix: string): boolean {
  const p = releaseNumbers(prefix.replace(/\.[xX]$/, ""));
  return p?.every((n, i) => (release[i] ?? 0) === n) ?? false;
}

/** G1/D2: may servers (or clusters) on releases a and b run together under the declared policy? */
export function releasesMayMeet(a: string, b: string, policy: CompatibilityPolicy): boolean {
  if (compareReleases(a, b) === 0) return true;
  const x = releaseNumbers(a);
  const y = releaseNumbers(b);
  if (!x || !y) return false;
  const [xMajor = 0, xMinor = 0] = x;
  const [yMajor = 0, yMinor = 0] = y;
  switch (policy.kind) {
    case "same-major-minor":
      return xMajor === yMajor && xMinor === yMinor;
    case "same-major":
      return xMajor === yMajor;
    case "minor-distance":
      return xMajor === yMajor && Math.abs(xMinor - yMinor) <= policy.max;
    case "table":
      return policy.pairs.some(([p, q]) => (under(x, p) && under(y, q)) || (under(x, q) && under(y, p)));
  }
}

/**
 * An address as a 128-bit number for ordering: IPv4 (and IPv4 written as ::ffff:a.b.c.d) as its
 * 32 bits, IPv6 offset past every IPv4 address, so that IPv4 addresses order before IPv6 ones.
 */
function addressRank(address: string): bigint | undefined {
  if (isIPv4(address)) return address.split(".").reduce((acc, part) => acc * 256n + BigInt(part), 0n);
  if (!isIPv6(address)) return undefined;
  const groups = ipv6Words(address);
  const value = groups.reduce((acc, g) => acc * 65536n + BigInt(g), 0n);
  const mapped = value >> 32n === 0xffffn;
  return mapped ? value & 0xffffffffn : value + (1n << 32n);
}

/** The eight 16-bit words of an IPv6 address (node:net has said it is one). */
function ipv6Words(address: string): number[] {
  let text = address.toLowerCase();
  const lastColon = text.lastIndexOf(":");
  const tail = text.slice(lastColon + 1);
  if (isIPv4(tail)) {
    const [a, b, c, d] = tail.split(".").map(Number) as [number, number, number, number];
    text = `${text.slice(0, lastColon + 1)}${(a * 256 + b).toString(16)}:${(c * 256 + d).toString(16)}`;
  }
  const [left = "", right] = text.split("::");
  const parse = (part: string) => (part === "" ? [] : part.split(":").map((w) => Number.parseInt(w, 16)));
  const head = parse(left);
  const rear = right === undefined ? [] : parse(right);
  const zeros = right === undefined ? 0 : 8 - head.length - rear.length;
  return [...head, ...new Array<number>(zeros).fill(0), ...rear];
}

/**
 * M2/M3: orders two servers' fleet-file addresses, lowest first (the matrix upgrades from the top
 * of this order down). Addresses that are no IP address order after every address, by text.
 */
export function compareServerAddresses(a: string, b: string): number {
  const x = addressRank(a);
  const y = addressRank(b);
  if (x === undefined || y === undefined) {
    if (x !== undefined) return -1;
    if (y !== undefined) return 1;
    return a < b ? -1 : a > b ? 1 : 0;
  }
  return x < y ? -1 : x > y ? 1 : 0;
}

/** True for a dotted-quad IPv4 address (the lab maps only those onto loopback). */
export function isDottedQuad(address: string): boolean {
  return isIPv4(address);
}
