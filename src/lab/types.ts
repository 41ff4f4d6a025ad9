import type { CompatibilityPolicy } from "../model/compatibility.ts";
import type { Cluster, PackName } from "../model/fleet.ts";
import type { ActionOk, ActionRefusal, ServerObservation, ServerState } from "../model/appliance.ts";
import type { TerritoryAssignment } from "../model/step.ts";

export type { ActionOk, ActionRefusal, ActionRequest } from "../model/appliance.ts";
import type { ActiveFault, FaultKind } from "./faults.ts";
import type { LabViolation } from "./journal.ts";

/** The simulated world's state. Mutated only by world.ts and the behaviour files it calls. */

/** An action in progress on a server (matrix, generic) or on a whole cluster (DMA). */
export interface Activity {
  action: string;
  release?: string;
  /** set-mode (M11): the mode being set. */
  mode?: string;
  startedAt: number;
  /** null: it never ends by itself (install-hangs). */
  endsAt: number | null;
  handle?: number;
  waiters: Array<(reply: ActionReply) => void>;
  completion: Promise<ActionReply>;
  /** Called when a crash interrupts it. */
  interrupt?: () => void;
}

export interface InstallRecord {
  release: string;
  result: "running" | "ok" | "failed" | "interrupted";
  at: string;
}

export interface SimServer {
  name: string;
  /** The fleet file's address (M2, M3 compare these). */
  address: string;
  loopback: string;
  cluster: SimCluster;
  release: string;
  /** M11: the server's operating mode (a matrix whose fleet file names one). */
  mode?: string;
  /** M11: the rank of `mode` in its matrix's history of modes (SimCluster.modes). */
  modeRank?: number;
  /** DMA: the package version the server reports (D8c). */
  package: string;
  software: "running" | "stopped" | "installing";
  /** Crashed and rebooting: nothing answers. */
  down: boolean;
  /** Network faults between the management network and the server. */
  net: "ok" | "refuse" | "drop";
  /** After a crash: start the software again when the reboot ends. */
  autostart: boolean;
  rebootHandle?: number;
  disabled: boolean;
  backups: number;
  mounts: Set<string>;
  /** Filesystems mounted again when the software starts (the fleet's mountedOn, then mount/unmount). */
  wantMounts: Set<string>;
  /** M3: the server believes it had to leave the matrix and sends no updates. */
  isolated: boolean;
  isolatedReason?: string;
  /** Time the software stopped (M10: out of the matrix since). */
  outSince: number | null;
  /** DMA: management login works from this time on (install + settle, D7). */
  loginAt: number;
  installs: number;
  lastInstall?: InstallRecord;
  activity?: Activity;
  faults: Map<Exclude<FaultKind, "clear" | "crash">, ActiveFault>;
  reported?: { state: ServerState; release: string };
}

export interface SimCluster {
  name: string;
  pack: PackName;
  spec: Cluster;
  servers: SimServer[];
  policy: CompatibilityPolicy;
  filesystems: string[];
  /**
   * Matrix M4: the lowest level that may still join (rises when the last older server leaves): a
   * release and (M11) the rank of a mode on it, with the words the appliance uses for it.
   */
  floor: { release: string; modeRank: number; words: string };
  /** M11: the matrix's modes in the order it has had them (a mode's rank is its index). */
  modes: string[];
  /** Matrix: since when servers of different releases run together (M6, M10). */
  mixedSince: number | null;
  /** Matrix M3: the out-of-order condition holds now (recorded once per occurrence). */
  outOfOrder: boolean;
  /** DMA. */
  supercluster: string | null;
  busiedOut: boolean;
  inService: boolean;
  dataStore: { origin: string; lineage: string[] };
  /**
   * DMA (D9): what a rollback of the last applied upgrade returns to: the release before it and the
   * data store as it was; null when there is none (never upgraded here, or rolled back already).
   */
  rollbackTo: { release: string; dataStore: { origin: string; lineage: string[] } } | null;
  /** DMA: the supercluster it last left, while it is in none (D6: it serves again only as a member). */
  leftSupercluster: string | null;
  /** DMA: when the current release was installed by the lab (null: never). D10's founder is the earliest. */
  upgradedAt: number | null;
  /** DMA: servers the dashboard leaves out (D8b fault, after an install). */
  dashboardMissing: Set<string>;
  activity?: Activity;
}

export interface SimSupercluster {
  name: string;
  members: string[];
  founder: string;
  territories: TerritoryAssignment[];
}

export type ActionReply =
  | { status: 200; body: ActionOk }
  | { status: 202; body: ActionOk; completion: Promise<ActionReply> }
  | { status: 400 | 404 | 409 | 503; body: ActionRefusal };

/** GET /v1/status: the driver's ServerObservation plus what the lab adds. */
export interface ApplianceStatus extends ServerObservation {
  address: string;
  pack: PackName;
  activity: {
    action: string;
    release?: string;
    mode?: string;
    startedAt: string;
    endsAt: string | null;
  } | null;
  isolatedReason?: string;
  lastInstall?: InstallRecord;
  /** DMA D10: where this cluster's data store came from. */
  dataStore?: { origin: string; lineage: string[] };
}

export interface LabServerStatus {
  name: string;
  cluster: string;
  address: string;
  loopback: string;
  url: string;
  release: string;
  /** M11: the server's mode, on a matrix that has modes. */
  mode?: string;
  state: ServerState;
  activity?: string;
}

export interface LabStatus {
  fleet: string;
  speed: number;
  port: number;
  controlUrl: string;
  startedAt: string;
  servers: LabServerStatus[];
  violations: LabViolation[];
  installs: Record<string, number>;
  faults: Array<{ server: string; kind: string; factor?: number; once?: boolean }>;
  superclusters: SimSupercluster[];
  journalSeq: number;
}
