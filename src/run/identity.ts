import { createHash } from "node:crypto";
import { lookup } from "node:dns/promises";
import { realpathSync } from "node:fs";
import { resolve } from "node:path";
import { resolveServerUrl } from "../drivers/http.ts";
import { canonicalAddress, isIPAddress } from "../model/address.ts";
import type { Cluster, Fleet, Server } from "../model/fleet.ts";
import type { Claim } from "../store/host-lock.ts";

/**
 * Which fleet a run belongs to, and which servers an engine drives, in terms that survive a copy
 * of the fleet file (another checkout, another folder) and tell apart two fleets that only share a
 * name (prod and staging both called `acme`). See docs/security.md.
 */

/** An address in one spelling (RFC 5952; fd00::1 and FD00:0:0::1 agree). */
const addressKey = (address: string): string => canonicalAddress(address) ?? address.toLowerCase();

/**
 * The fleet's identity: a digest of its servers, each by cluster, name and address. A run records
 * it, and `apply` resumes only a run of the same identity; a copy of the file has the same one.
 */
export function fleetIdentity(fleet: Fleet): string {
  const lines = fleet.clusters
    .flatMap((c) => c.servers.map((s) => `${c.name}/${s.name}@${addressKey(s.address)}`))
    .sort();
  return createHash("sha256").update(lines.join("\n")).digest("hex").slice(0, 32);
}

/**
 * The addresses a host name stands for, each in one spelling: an address as written, a name as
 * the resolver answers it (localhost and 127.0.0.1, a host name and its address, agree). A name
 * the resolver does not know stays as written, in lower case.
 */
function resolver(): (host: string) => Promise<string[]> {
  const cache = new Map<string, Promise<string[]>>();
  return (host) => {
    const bare = host.replace(/^\[(.*)\]$/, "$1").toLowerCase();
    let found = cache.get(bare);
    if (!found) {
      found = isIPAddress(bare)
        ? Promise.resolve([addressKey(bare)])
        : lookup(bare, { all: true, verbatim: true })
            .then((all) => [...new Set(all.map((a) => addressKey(a.address)))].sort())
            .catch(() => [bare]);
      cache.set(bare, found);
    }
    return found;
  };
}

/** A path as the kernel finds it (symbolic links and ./ resolved); anything else as written. */
function program(path: string | undefined): string {
  if (!path?.includes("/")) return path ?? "";
  try {
    return realpathSync(path);
  } catch {
    // not there or not reachable (ENOENT, EACCES, ELOOP): the path as written is the best key there is
    return resolve(path);
  }
}

/**
 * Where a driver reaches a server, as keys: the same server reached the same way gives a shared
 * key, however the URL, host or command is spelt (letter case, default ports, dot segments, a
 * host name or its address).
 */
async function serverEndpoints(
  cluster: Cluster,
  server: Server,
  hostsOf: (host: string) => Promise<string[]>,
): Promise<string[]> {
  const d = cluster.driver;
  const address = addressKey(server.address);
  if (d?.http) {
    const url = new URL(resolveServerUrl(cluster, server));
    const port = url.port || (url.protocol === "https:" ? "443" : "80");
    const hosts = await hostsOf(url.hostname);
    return hosts.map((h) => `http ${url.protocol}//${h}:${port}${url.pathname}${url.search}`);
  }
  if (d?.ssh) {
    const host = (d.ssh.host ?? "{address}")
      .replaceAll("{address}", address)
      .replaceAll("{name}", server.name);
    const hosts = await hostsOf(host);
    return hosts.map((h) => `ssh ${d.ssh!.user ?? ""}@${h}:${d.ssh!.port ?? 22} ${address}`);
  }
  if (d?.exec) {
    const [cmd, ...args] = d.exec.commands.status ?? [];
    return [`exec ${JSON.stringify([program(cmd), ...args])} ${address}`];
  }
  return [`none ${cluster.name}/${server.name} ${address}`];
}

/** What an engine claims on this host while it drives a fleet: the fleet file and every server. */
export async function fleetClaims(fleet: Fleet, fleetFile: string): Promise<Claim[]> {
  const real = realpathSync(fleetFile);
  const hostsOf = resolver();
  const perServer = await Promise.all(
    fleet.clusters.flatMap((c) =>
      c.servers.map(async (s) =>
        (await serverEndpoints(c, s, hostsOf)).map((key) => ({ key, label: `${s.name} (${c.name})` })),
      ),
    ),
  );
  return [{ key: `fleet-file ${real}`, label: `fleet file ${real}` }, ...perServer.flat()];
}
