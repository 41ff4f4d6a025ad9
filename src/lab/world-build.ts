import type { CompatibilityPolicy } from "../model/compatibility.ts";
import type { Fleet } from "../model/fleet.ts";
import type { TerritoryAssignment } from "../model/step.ts";
import type { AddressMapping } from "./address-map.ts";
import { levelWords, lowestLevel } from "./matrix-rules.ts";
import type { SimCluster, SimServer, SimSupercluster } from "./types.ts";

/**
 * A fleet file's supercluster, as the lab judges its upgrades (dma-judge.ts): its clusters and
 * territories as the file has them, the release last judged, and whether all of them were out of
 * service at once since (a maintenance window, D5).
 */
export interface Lineage {
  clusters: string[];
  territories: TerritoryAssignment[];
  judged: string;
  outage: boolean;
}

/** The simulated fleet as the fleet file describes it, before any action. */
export interface BuiltWorld {
  servers: Map<string, SimServer>;
  clusters: Map<string, SimCluster>;
  superclusters: Map<string, SimSupercluster>;
  lineages: Lineage[];
}

/** A territory as the appliance holds it: its name, primary and backup, nothing else. */
function assignment(name: string, t: { primary: string; backup?: string }): TerritoryAssignment {
  return { name, primary: t.primary, ...(t.backup ? { backup: t.backup } : {}) };
}

type FleetCluster = Fleet["clusters"][number];
type FleetServer = FleetCluster["servers"][number];
type FleetSupercluster = Fleet["superclusters"][number];

export function buildWorld(fleet: Fleet, mapping: readonly AddressMapping[]): BuiltWorld {
  const world: BuiltWorld = {
    servers: new Map(),
    clusters: new Map(),
    superclusters: new Map(),
    lineages: [],
  };
  const loopbackOf = new Map(mapping.map((m) => [m.server, m.loopback]));
  for (const c of fleet.clusters) {
    const sc = simCluster(fleet, c);
    for (const s of c.servers) {
      const server = simServer(c, s, sc, loopbackOf.get(s.name) ?? "");
      sc.servers.push(server);
      world.servers.set(s.name, server);
    }
    // M11: the matrix's mode first, then the modes its servers have moved on to (a mode pass part way)
    if (c.mode !== undefined) {
      sc.modes = [c.mode, ...new Set(c.servers.map((s) => s.mode ?? c.mode!).filter((m) => m !== c.mode))];
      for (const s of sc.servers) s.modeRank = sc.modes.indexOf(s.mode!);
    }
    const lo = lowestLevel(sc.servers);
    sc.floor = lo
      ? { release: lo.release, modeRank: lo.modeRank ?? 0, words: levelWords(lo) }
      : { release: c.version, modeRank: 0, words: c.version };
    world.clusters.set(c.name, sc);
  }
  for (const s of fleet.superclusters) {
    world.superclusters.set(s.name, simSupercluster(s));
    world.lineages.push(lineage(world, s));
  }
  return world;
}

function simCluster(fleet: Fleet, c: FleetCluster): SimCluster {
  const policy: CompatibilityPolicy = c.compatibility ??
    fleet.defaults.compatibility ?? { kind: "same-major-minor" };
  return {
    name: c.name,
    pack: c.pack,
    spec: c,
    servers: [],
    policy,
    filesystems: c.filesystems.map((f) => f.name),
    floor: { release: c.version, modeRank: 0, words: c.version },
    modes: [],
    mixedSince: null,
    outOfOrder: false,
    supercluster: c.supercluster ?? null,
    busiedOut: false,
    inService: true,
    dataStore: { origin: c.name, lineage: [`created on ${c.name}`] },
    rollbackTo: null,
    upgradedAt: null,
    leftSupercluster: null,
    dashboardMissing: new Set(),
  };
}

function simServer(c: FleetCluster, s: FleetServer, sc: SimCluster, loopback: string): SimServer {
  const mounts = new Set(c.filesystems.filter((f) => f.mountedOn.includes(s.name)).map((f) => f.name));
  return {
    name: s.name,
    address: s.address,
    loopback,
    cluster: sc,
    release: s.version,
    ...(s.mode !== undefined ? { mode: s.mode } : {}),
    package: s.version,
    software: "running",
    down: false,
    net: "ok",
    autostart: false,
    disabled: false,
    backups: 0,
    mounts,
    wantMounts: new Set(mounts),
    isolated: false,
    outSince: null,
    loginAt: 0,
    installs: 0,
    faults: new Map(),
  };
}

function simSupercluster(s: FleetSupercluster): SimSupercluster {
  return {
    name: s.name,
    members: [...s.clusters],
    founder: s.clusters[0]!,
    // Where each territory is assigned now (mid-upgrade, D4/D6), else its design: the
    // appliance reports only { name, primary, backup }.
    territories: s.territories.map((t) => assignment(t.name, t.assigned ?? t)),
  };
}

function lineage(world: BuiltWorld, s: FleetSupercluster): Lineage {
  const releases = new Set(
    s.clusters.flatMap((n) => world.clusters.get(n)?.servers.map((x) => x.release) ?? []),
  );
  return {
    clusters: [...s.clusters],
    // The design: what a maintenance window restores (D5), whatever `assigned` says now.
    territories: s.territories.map((t) => assignment(t.name, t)),
    judged: releases.size === 1 ? [...releases][0]! : "",
    outage: false,
  };
}
