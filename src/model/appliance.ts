import type { TerritoryAssignment } from "./step.ts";

/**
 * The appliance wire contract (docs/appliance-api.md), written once: what a server reports on
 * GET /v1/status, what POST /v1/actions/<action> carries, and how the appliance answers. The
 * drivers read and send these; the lab serves them. Types only.
 */

export type ServerState = "running" | "stopped" | "installing" | "isolated" | "unreachable";

/** What one server reports about itself and, as it sees them, its cluster and supercluster. */
export interface ServerObservation {
  server: string;
  cluster: string;
  state: ServerState;
  /** The release the server's software runs (after an install: the new one). */
  release: string;
  /** Matrix (M11): the server's operating mode, on an appliance that has modes. */
  mode?: string;
  /** Matrix: the server was disabled (M9, its virtual services moved away). */
  disabled?: boolean;
  /** Number of configuration backups taken so far (M9, D7). */
  backups?: number;
  /** Names of the members of the matrix / cluster as this server sees it. */
  members?: string[];
  /** Shared filesystems mounted on this server (M5). */
  mounts?: string[];
  /** DMA: management login works (D8a). */
  login?: boolean;
  /** DMA: the servers the cluster dashboard shows as up (D8b). */
  dashboard?: string[];
  /** DMA: package version per server of the cluster (D8c). */
  packages?: Record<string, string>;
  /** DMA: the cluster reports itself clustered with a working private link (D8). */
  clustered?: boolean;
  /** DMA: supercluster the cluster is a member of, null when it is alone. */
  supercluster?: string | null;
  /** DMA: the supercluster's member clusters as this cluster sees them. */
  superclusterMembers?: string[];
  /** DMA: accepting new conferences. */
  inService?: boolean;
  busiedOut?: boolean;
  /**
   * DMA (D9): the release a rollback of the cluster's last applied upgrade returns to; null when
   * there is none (never upgraded, or that upgrade was rolled back already).
   */
  rollbackTo?: string | null;
  /** DMA: territory assignments as this cluster sees them. */
  territories?: TerritoryAssignment[];
  /**
   * The action under way on the server (or its cluster), as the appliance reports it: `endsAt`
   * null when it will not end by itself (docs/appliance-api.md); null or absent when none.
   */
  activity?: {
    action: string;
    release?: string;
    mode?: string;
    startedAt?: string;
    endsAt?: string | null;
  } | null;
  /** The server's last install: which release and how it ended ("running" while under way). */
  lastInstall?: { release: string; result: "running" | "ok" | "failed" | "interrupted"; at?: string };
  /** Why the server is "unreachable" (refused, timed out, a malformed answer, …), when it is. */
  error?: string;
  /** The catalog code of that reason, when it has one (ROLLGATE_E_DRIVER_ANSWER: a malformed answer). */
  errorCode?: "ROLLGATE_E_DRIVER_ANSWER";
}

export interface ActionArgs {
  release?: string;
  /** set-mode (M11): the mode the server is set to. */
  mode?: string;
  /** join-supercluster: the cluster to join. */
  joins?: string;
  supercluster?: string;
  territories?: TerritoryAssignment[];
  /** reassign-territories (D5's record step): territories taken off the supercluster until restored. */
  unassigned?: string[];
  filesystem?: string;
  /** Management operations (disable, mount, unmount): the server acted on, when not the receiver (M7). */
  server?: string;
  /** DMA install: a rollback of the last applied upgrade to `release` (D9), not an upgrade. */
  rollback?: boolean;
}

/** A request to an appliance: POST /v1/actions/<action> with this body. */
export interface ActionRequest extends ActionArgs {
  action: string;
}

export interface ActionOk {
  ok: true;
  action: string;
  server: string;
  /** The effect was already present (G5): nothing was done. */
  already?: boolean;
  message?: string;
  /** 202: the action continues; when it ends (ISO), null if it never will by itself. */
  endsAt?: string | null;
  accepted?: boolean;
}

export interface ActionRefusal {
  ok: false;
  code: string;
  rule?: string;
  message: string;
}
