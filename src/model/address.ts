/** Address checks for the fleet file, written without node:net so that model/ stays pure. */

export function isIPv4(text: string): boolean {
  const parts = text.split(".");
  if (parts.length !== 4) return false;
  return parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255);
}

export function isIPv6(text: string): boolean {
  if (text.length > 45 || text.length < 2) return false;
  let body = text;
  let groupsFromV4 = 0;
  const lastColon = body.lastIndexOf(":");
  const tail = body.slice(lastColon + 1);
  if (tail.includes(".")) {
    if (!isIPv4(tail)) return false;
    body = `${body.slice(0, lastColon + 1)}0`;
    groupsFromV4 = 1; // the IPv4 tail stands for two groups: one replaced by "0", one more here
  }
  const halves = body.split("::");
  if (halves.length > 2) return false;
  const group = /^[0-9a-fA-F]{1,4}$/;
  const count = (s: string): number | undefined => {
    if (s === "") return 0;
    const gs = s.split(":");
    return gs.every((g) => group.test(g)) ? gs.length : undefined;
  };
  const left = count(halves[0]!);
  if (left === undefined) return false;
  if (halves.length === 1) return left + groupsFromV4 === 8;
  const right = count(halves[1]!);
  if (right === undefined) return false;
  return left + right + groupsFromV4 <= 7;
}

export function isIPAddress(text: string): boolean {
  return isIPv4(text) || isIPv6(text);
}

/** IPv4 as a 32-bit number for numeric ordering (M2); undefined for anything else. */
export function ipv4ToNumber(text: string): number | undefined {
  if (!isIPv4(text)) return undefined;
  return text.split(".").reduce((acc, p) => acc * 256 + Number(p), 0);
}

/** Expands an IPv6 address to its eight 16-bit groups; undefined when not IPv6. */
export function ipv6Groups(text: string): number[] | undefined {
  if (!isIPv6(text)) return undefined;
  let body = text;
  const extra: number[] = [];
  const lastColon = body.lastIndexOf(":");
  const tail = body.slice(lastColon + 1);
  if (tail.includes(".")) {
    const n = ipv4ToNumber(tail)!;
    extra.push(Math.floor(n / 65536), n % 65536);
    body = body.slice(0, lastColon) || ":";
    if (body.endsWith(":") && !body.endsWith("::")) body = body.slice(0, -1);
  }
  const [l, r] = body.split("::") as [string, string | undefined];
  const parse = (s: string | undefined) =>
    s
      ? s
          .split(":")
          .filter((g) => g !== "")
          .map((g) => Number.parseInt(g, 16))
      : [];
  const left = parse(l);
  const right = parse(r);
  const fill = 8 - extra.length - left.length - right.length;
  return [...left, ...(r !== undefined ? new Array(fill).fill(0) : []), ...right, ...extra];
}

/**
 * Numeric comparison of two addresses (M2: 10.10.1.10 is higher than 10.10.1.9).
 * IPv4 sorts before IPv6; within a family, numerically.
 */
export function compareAddresses(a: string, b: string): number {
  const x = ipv4ToNumber(a);
  const y = ipv4ToNumber(b);
  if (x !== undefined && y !== undefined) return Math.sign(x - y);
  if (x !== undefined) return -1;
  if (y !== undefined) return 1;
  const gx = ipv6Groups(a) ?? [];
  const gy = ipv6Groups(b) ?? [];
  for (let i = 0; i < 8; i++) {
    const d = (gx[i] ?? 0) - (gy[i] ?? 0);
    if (d !== 0) return Math.sign(d);
  }
  return 0;
}
