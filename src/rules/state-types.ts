import type { Fleet } from "../model/fleet.ts";

/**
 * The abstract fleet the rules judge: what each server, cluster, supercluster and territory is
 * doing. The planner and the verifier replay plans over it; the engine can keep one in step with
 * what it observes and ask the rules why a step must wait.
 *
 * Step effects come in two halves: `startStep` (what is true while the step runs: a stopping
 * server has left the matrix, an installing server's release is uncertain) and `finishStep` (what
 * is true once it is done). Both mutate the state in place and return an `Undo`, so the verifier
 * can look at a branch (a failed step) and come back without copying the fleet.
 */
export interface ServerRecord {
  name: string;
  cluster: string;
  address: string;
  capacity: number;
  /** The release installed. */
  release: string;
  /** An install in flight (or failed): the release is `release` or this one. */
  installing?: string;
  /** M11: the server's operating mode (matrices that name one). */
  mode?: string;
  /** M11: a mode change in flight (or failed): the mode is `mode` or this one. */
  settingMode?: string;
  /** The server's software runs; for a matrix, the server is in the matrix. */
  running: boolean;
  /** M9: disabled (virtual services moved away); re-enabled when its verify step is done. */
  disabled: boolean;
  /** M9: configuration backed up during this upgrade. */
  backedUp: boolean;
}

export interface ClusterRecord {
  name: string;
  pack: Fleet["clusters"][number]["pack"];
  capacity: number;
  /** DMA: the release of the cluster's servers (the install runs on all of them, D7). */
  release: string;
  installing?: string;
  /** DMA: the supercluster the cluster is a member of now (the new one is "<name>@<release>"). */
  supercluster?: string;
  /** DMA: the supercluster of the fleet file the cluster belongs to (its capacity domain). */
  lineage?: string;
  /** DMA: taking new conferences (false from busy-out until return-to-service). */
  inService: boolean;
  /** DMA: D8 checks passed on the current release. */
  verified: boolean;
}

export interface SuperclusterRecord {
  name: string;
  /** The supercluster of the fleet file this one descends from (itself for the original). */
  lineage: string;
  /** D10: the founding cluster (new superclusters only). */
  founder?: string;
  members: Set<string>;
}

export interface TerritoryRecord {
  /** "<supercluster>/<territory>" */
  key: string;
  name: string;
  lineage: string;
  /** Undefined while recorded and unassigned (D5). */
  primary?: string;
  backup?: string;
  original: { primary: string; backup?: string };
}

export interface FilesystemRecord {
  key: string;
  cluster: string;
  name: string;
  mountedOn: Set<string>;
  /** Servers that mount it when they run (from the fleet file). */
  mountOn: ReadonlySet<string>;
  /** M5: unmounted on the last old-release server while new-release servers had it mounted. */
  newOnly: boolean;
}

export interface FleetState {
  servers: Map<string, ServerRecord>;
  clusters: Map<string, ClusterRecord>;
  superclusters: Map<string, SuperclusterRecord>;
  territories: Map<string, TerritoryRecord>;
  filesystems: Map<string, FilesystemRecord>;
  /** Matrix clusters past M4's point of no return (the last old-release server left). */
  finalized: Set<string>;
  /** Servers of each cluster, in file order. */
  serversOf: Map<string, ServerRecord[]>;
  /** Territories per lineage (original supercluster). */
  territoriesOf: Map<string, TerritoryRecord[]>;
  /** Filesystems per cluster. */
  filesystemsOf: Map<string, FilesystemRecord[]>;
  /**
   * Target release per cluster (what "old" and "new" mean for M3–M5); may be empty. In an upgrade
   * of several passes (M8's chain) it is the release of the pass under way, which the first step
   * of each pass sets (state-effects.ts, enterPass).
   */
  targets: Map<string, string>;
  /**
   * M11: the mode of the mode pass under way per cluster (set by its first step, enterPass): in a
   * mode pass "old" and "new" (M3–M5) are the modes, the release being the same on every server.
   */
  targetModes: Map<string, string>;
  /** The pass under way per cluster of a multi-pass upgrade (Step.pass.n); absent before its first. */
  passOf: Map<string, number>;
  /**
   * Matrix and generic clusters going back to an older release (a rollback before the point of no
   * return): the newer release they leave, which the file gives some of their servers. For M3–M5
   * "new" is then this release, not the target; absent for an upgrade. Shared by copies.
   */
  rollbackFrom: ReadonlyMap<string, string>;
  /** Matrices upgraded all at once with the matrix down (M12, Step.fullStop): M1 and M2 do not apply. */
  fullStop: ReadonlySet<string>;
  /**
   * Matrices upgraded in two halves (M12, Step.half): the servers of each one's first half (the top
   * of the address order). M1 does not apply; M2 holds between the halves.
   */
  firstHalf: ReadonlyMap<string, ReadonlySet<string>>;
}

/** Restores what a state change altered. */
export type Undo = () => void;
