import { createHash } from "node:crypto";
import { realpathSync } from "node:fs";
import { resolveServerUrl } from "../drivers/http.ts";
import { canonicalAddress } from "../model/address.ts";
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

/** Where a driver reaches a server: the same server reached the same way gives the same key. */
export function serverEndpoint(cluster: Cluster, server: Server): string {
  const d = cluster.driver;
  const address = addressKey(server.address);
  if (d?.http) return `http ${resolveServerUrl(cluster, server)}`;
  if (d?.ssh) {
    const host = (d.ssh.host ?? "{address}")
      .replaceAll("{address}", address)
      .replaceAll("{name}", server.name);
    return `ssh ${d.ssh.user ?? ""}@${host}:${d.ssh.port ?? 22} ${address}`;
  }
  if (d?.exec) return `exec ${JSON.stringify(d.exec.commands.status ?? [])} ${address}`;
  return `none ${cluster.name}/${server.name} ${address}`;
}

/** What an engine claims on this host while it drives a fleet: the fleet file and every server. */
export function fleetClaims(fleet: Fleet, fleetFile: string): Claim[] {
  const real = realpathSync(fleetFile);
  return [
    { key: `fleet-file ${real}`, label: `fleet file ${real}` },
    ...fleet.clusters.flatMap((c) =>
      c.servers.map((s) => ({ key: serverEndpoint(c, s), label: `${s.name} (${c.name})` })),
    ),
  ];
}
