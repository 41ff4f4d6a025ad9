import type { CompatibilityPolicy } from "./compatibility.ts";
import type { FleetWebhook } from "./notify.ts";

/** The rule packs rollgate ships (rules/). */
export const PACK_NAMES = ["polyserve-matrix", "polycom-dma", "generic"] as const;
export type PackName = (typeof PACK_NAMES)[number];

/** Rule G2: the order servers of a cluster are upgraded in (used by the generic pack). */
export type OrderSpec =
  | { by: "address"; direction: "descending" | "ascending" }
  | { by: "name" }
  | { by: "role"; last: string[] }
  | { by: "list"; servers: string[] };

export interface Server {
  name: string;
  /** The address the cluster knows the server by (M2). */
  address: string;
  /** Every address the server has; contains `address`. */
  interfaces: string[];
  /** Current release of this server. */
  version: string;
  /** Weight in capacity figures (G3); default 1. */
  capacity: number;
  /** Optional role (G2 order by role), e.g. "leader". */
  role?: string;
  /** M11: the server's operating mode (its matrix's unless the file says otherwise); matrices only. */
  mode?: string;
}

export interface Filesystem {
  name: string;
  mountedOn: string[];
}

export interface HttpDriverSpec {
  /** URL template; {address} and {name} are replaced per server. */
  url: string;
  /** Seconds an observation may take (GET /v1/status); default 5. */
  timeout?: number;
}

export interface ExecDriverSpec {
  /** Per action, the argument list of the command to run (no shell); see docs/drivers.md. */
  commands: Record<string, string[]>;
  timeout?: number;
}

/** The exec driver's commands, run on the server over OpenSSH (docs/drivers.md). */
export interface SshDriverSpec extends ExecDriverSpec {
  /** Where to connect, with placeholders; default "{address}". */
  host?: string;
  user?: string;
  port?: number;
  /** Private key file (ssh -i). */
  identity?: string;
  /** known_hosts file; host keys are always checked (StrictHostKeyChecking=yes). */
  knownHosts?: string;
}

export interface DriverSpec {
  http?: HttpDriverSpec;
  exec?: ExecDriverSpec;
  ssh?: SshDriverSpec;
}

export interface Cluster {
  name: string;
  pack: PackName;
  /** The cluster's default release (servers may differ, see Server.version). */
  version: string;
  /** Cluster weight (e.g. ports), default 1. */
  capacity: number;
  /** Per-action duration overrides in seconds, keyed by action name (install, settle, …). */
  estimates: Record<string, number>;
  servers: Server[];
  filesystems: Filesystem[];
  driver?: DriverSpec;
  /** G3: at most this many servers of the cluster out of service at once (pack default otherwise). */
  maxUnavailable?: number;
  /** G2: declared order (generic pack); the matrix pack always uses M2. */
  order?: OrderSpec;
  /** G1: overrides the fleet's and the pack's compatibility policy. */
  compatibility?: CompatibilityPolicy;
  /** Name of the supercluster the cluster belongs to, if any (derived from `superclusters`). */
  supercluster?: string;
  /**
   * DMA: the supercluster the cluster left and has joined no other since (an upgrade part way,
   * D5/D6: it stays of that supercluster's lineage). A cluster the fleet file lists as a member of
   * the very supercluster it names here has left it (an aborted maintenance window: every member
   * left, the file keeps the supercluster's design); it is then in no supercluster.
   */
  leftSupercluster?: string;
  /** M11 (matrix): the operating mode the matrix runs in now (servers may differ: Server.mode). */
  mode?: string;
  /**
   * M11 (matrix): the complete rolling passes an upgrade takes, in order; absent: one release
   * change (a chain of passes where M8 needs one).
   */
  passes?: DeclaredPass[];
}

/** M11: a declared pass: the release change to the upgrade's target, or a change of mode. */
export type DeclaredPass = { kind: "release" } | { kind: "mode"; mode: string };

export interface Territory {
  /** The design: the clusters that serve it (D4), restored after an upgrade. */
  name: string;
  primary: string;
  backup?: string;
  /**
   * Where it is assigned now, when that differs from the design (a reassignment mid-upgrade left
   * by an abort, D4/D6): members of its supercluster. The design may then name clusters of the
   * supercluster's lineage that are elsewhere for now (in `<lineage>@<release>`, or left it).
   */
  assigned?: { primary: string; backup?: string };
}

/** A territory as a plain object: no undefined fields (what YAML writes and tests compare). */
export function plainTerritory(t: Territory): Territory {
  return {
    name: t.name,
    primary: t.primary,
    ...(t.backup ? { backup: t.backup } : {}),
    ...(t.assigned
      ? {
          assigned: {
            primary: t.assigned.primary,
            ...(t.assigned.backup ? { backup: t.assigned.backup } : {}),
          },
        }
      : {}),
  };
}

export interface Supercluster {
  name: string;
  pack: PackName;
  /** Its members now (a listed cluster marked `leftSupercluster` with this name is not one). */
  clusters: string[];
  /**
   * Clusters the fleet file lists as members that have left it (`leftSupercluster` names it, D5/D6:
   * an abort after they left), in the file's order; absent when none did.
   */
  formerMembers?: string[];
  territories: Territory[];
}

export interface FleetDefaults {
  /** Fraction of capacity that stays in service at every instant (G3); 0 allows a full outage. */
  capacityFloor: number;
  /** Alert when a cluster stays mixed-release longer than this (M6), in seconds. */
  maxMixedWindow: number;
  /** G1 policy for the whole fleet, over the packs' defaults. */
  compatibility?: CompatibilityPolicy;
}

export interface Fleet {
  name: string;
  defaults: FleetDefaults;
  clusters: Cluster[];
  superclusters: Supercluster[];
  /** The webhooks of the file's `notify:` section (docs/notifications.md); absent when it has none. */
  notify?: FleetWebhook[];
}

export const DEFAULT_CAPACITY_FLOOR = 0.6;
export const DEFAULT_MAX_MIXED_WINDOW = 4 * 3600;

export function findCluster(fleet: Fleet, name: string): Cluster | undefined {
  return fleet.clusters.find((c) => c.name === name);
}

export function findSupercluster(fleet: Fleet, name: string): Supercluster | undefined {
  return fleet.superclusters.find((s) => s.name === name);
}

/**
 * A supercluster's name is `NAME` or `NAME@RELEASE`: the new supercluster an incompatible upgrade
 * founds (D6, D10) is named after the supercluster it descends from and its release
 * (`sc-east@10.1.0`), and an operator writes that name in the fleet file after the upgrade. The
 * lineage is the part before `@`: superclusters of one lineage are one capacity domain (G3), and
 * the next upgrade's supercluster is `<lineage>@<next release>` (`sc-east@10.2.0`), not a chain of
 * releases.
 */
export function superclusterLineage(name: string): string {
  const at = name.indexOf("@");
  return at < 0 ? name : name.slice(0, at);
}

/** The release part of `NAME@RELEASE`, if any. */
export function superclusterRelease(name: string): string | undefined {
  const at = name.indexOf("@");
  return at < 0 ? undefined : name.slice(at + 1);
}
