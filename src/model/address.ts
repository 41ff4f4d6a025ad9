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

/** The IPv4 address an IPv4-mapped IPv6 address (::ffff:a.b.c.d, ::ffff:0a00:1) stands for. */
export function mappedIPv4(text: string): string | undefined {
  const g = ipv6Groups(text);
  if (!g || g.slice(0, 5).some((x) => x !== 0) || g[5] !== 0xffff) return undefined;
  return [g[6]! >> 8, g[6]! & 255, g[7]! >> 8, g[7]! & 255].join(".");
}

/**
 * The canonical text of an address: IPv4 as written (leading zeros are refused, so each IPv4
 * address has one form); IPv6 as RFC 5952 has it: lower case, no leading zeros in a group, the
 * longest run of two or more zero groups (the first of equal runs) written "::", and an
 * IPv4-mapped address as ::ffff:a.b.c.d. Undefined when the text is not an address.
 */
export function canonicalAddress(text: string): string | undefined {
  if (isIPv4(text)) return text;
  const g = ipv6Groups(text);
  if (!g) return undefined;
  const v4 = mappedIPv4(text);
  if (v4) return `::ffff:${v4}`;
  let start = -1;
  let len = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > len) [start, len] = [i, j - i];
    i = j;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(":");
  if (len < 2) return hex(g);
  return `${hex(g.slice(0, start))}::${hex(g.slice(start + len))}`;
}

/**
 * What makes two addresses the same host (the duplicate check of a cluster, M2's order): the
 * canonical text, and for an IPv4-mapped IPv6 address the IPv4 address it maps.
 */
export function addressKey(text: string): string | undefined {
  return mappedIPv4(text) ?? canonicalAddress(text);
}

/**
 * Numeric comparison of two addresses (M2: 10.10.1.10 is higher than 10.10.1.9), whatever their
 * spelling (fd00::1 and FD00:0:0::1 are equal; ::ffff:10.0.0.1 is 10.0.0.1).
 * IPv4 sorts before IPv6; within a family, numerically.
 */
export function compareAddresses(a: string, b: string): number {
  const x = ipv4ToNumber(mappedIPv4(a) ?? a);
  const y = ipv4ToNumber(mappedIPv4(b) ?? b);
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
