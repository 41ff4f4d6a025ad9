import { execFileSync, spawnSync } from "node:child_process";

/**
 * Network namespaces as test hosts (test/cli/ha-netns.test.ts): a bridge in the root namespace
 * with BRIDGE_ADDRESS on a private /24 (10.200.0.0/24, which exists only inside this machine: no
 * route leads off it), and per host a namespace joined to the bridge by a veth pair. Every address
 * involved is this machine's own; nothing leaves it. Needs root and `ip netns`.
 */
export const BRIDGE_ADDRESS = "10.200.0.1";

const ip = (...args: string[]) => execFileSync("ip", args, { stdio: ["ignore", "pipe", "pipe"] });

/** Why network namespaces cannot be used here, or undefined when they can (a probe add/delete). */
export function netnsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) return "not root: ip netns needs root";
  const probe = `rg-probe-${process.pid}`;
  const add = spawnSync("ip", ["netns", "add", probe], { encoding: "utf8" });
  if (add.status !== 0) return `ip netns add fails here: ${(add.stderr || add.error?.message || "").trim()}`;
  spawnSync("ip", ["netns", "delete", probe]);
  const exec = spawnSync("unshare", ["--uts", "true"], { encoding: "utf8" });
  if (exec.status !== 0) return `unshare --uts fails here: ${(exec.stderr || "").trim()}`;
  return undefined;
}

export interface TestHosts {
  /** The namespace of each host, by its name. */
  ns: Record<string, string>;
  /** Each host's address on the bridge. */
  address: Record<string, string>;
  /** Takes a host's link down (the root end of its veth pair): it reaches nothing. */
  cut(host: string): void;
  /** Brings it back. */
  restore(host: string): void;
  /** The command that runs argv on a host: in its namespace, with its own host name (a UTS namespace). */
  on(host: string, argv: string[]): string[];
  destroy(): void;
}

/** Hosts named `names` (short), each its own namespace on the bridge, its loopback up. */
export function makeHosts(names: string[]): TestHosts {
  const tag = String(process.pid % 100_000);
  const bridge = `rgbr${tag}`;
  const ns: Record<string, string> = {};
  const address: Record<string, string> = {};
  const rootEnd: Record<string, string> = {};
  const made: string[] = [];
  try {
    ip("link", "add", bridge, "type", "bridge");
    ip("addr", "add", `${BRIDGE_ADDRESS}/24`, "dev", bridge);
    ip("link", "set", bridge, "up");
    names.forEach((name, i) => {
      const n = `rg-${tag}-${name}`;
      ip("netns", "add", n);
      made.push(n);
      const a = `rgv${tag}${i}`;
      const b = `rgp${tag}${i}`;
      ip("link", "add", a, "type", "veth", "peer", "name", b);
      ip("link", "set", b, "netns", n);
      ip("link", "set", a, "master", bridge);
      ip("link", "set", a, "up");
      const addr = `10.200.0.${10 + i}`;
      ip("-n", n, "addr", "add", `${addr}/24`, "dev", b);
      ip("-n", n, "link", "set", b, "up");
      ip("-n", n, "link", "set", "lo", "up");
      ns[name] = n;
      address[name] = addr;
      rootEnd[name] = a;
    });
  } catch (e) {
    for (const n of made) spawnSync("ip", ["netns", "delete", n]);
    spawnSync("ip", ["link", "delete", bridge]);
    throw e;
  }
  return {
    ns,
    address,
    cut: (host) => void ip("link", "set", rootEnd[host]!, "down"),
    restore: (host) => void ip("link", "set", rootEnd[host]!, "up"),
    on: (host, argv) => [
      "ip",
      "netns",
      "exec",
      ns[host]!,
      "unshare",
      "--uts",
      "--",
      "sh",
      "-c",
      `hostname rg-host-${host} && exec "$@"`,
      "sh",
      ...argv,
    ],
    destroy() {
      for (const n of Object.values(ns)) spawnSync("ip", ["netns", "delete", n]);
      spawnSync("ip", ["link", "delete", bridge]);
    },
  };
}
