import { login, up } from "./dma-cluster.ts";
import type { ApplianceStatus, SimServer } from "./types.ts";
import type { LabWorld } from "./world.ts";

/** What a DMA server reports about itself, its cluster and its supercluster. */
export function dmaObservation(w: LabWorld, s: SimServer): Partial<ApplianceStatus> {
  const c = s.cluster;
  const sc = c.supercluster ? w.superclusters.get(c.supercluster) : undefined;
  const ok = login(w, s);
  const upServers = c.servers.filter(up);
  const dashboard = ok ? upServers.filter((x) => !c.dashboardMissing.has(x.name)).map((x) => x.name) : [];
  const packages: Record<string, string> = {};
  if (ok) for (const x of upServers) packages[x.name] = x.package;
  return {
    members: upServers.map((x) => x.name),
    login: ok,
    dashboard,
    packages,
    clustered:
      c.servers.length < 2
        ? ok
        : ok &&
          upServers.length === c.servers.length &&
          c.dashboardMissing.size === 0 &&
          !c.servers.some((x) => x.faults.has("private-link-down")),
    supercluster: sc?.name ?? null,
    // a lost member (its join not replicated) still counts itself in: its own view
    superclusterMembers: sc ? (sc.members.includes(c.name) ? [...sc.members] : [...sc.members, c.name]) : [],
    inService: c.inService && upServers.length > 0,
    busiedOut: c.busiedOut,
    territories: sc ? sc.territories.map((t) => ({ ...t })) : [],
    dataStore: { origin: c.dataStore.origin, lineage: [...c.dataStore.lineage] },
    rollbackTo: c.rollbackTo?.release ?? null,
  };
}
