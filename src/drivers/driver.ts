import type { Cluster, Server } from "../model/fleet.ts";
import type { ActionArgs, ServerObservation } from "../model/appliance.ts";
import type { StepAction } from "../model/step.ts";

export type { ActionArgs, ServerObservation, ServerState } from "../model/appliance.ts";

/**
 * How the engine acts on a server: one interface, several drivers (http: the appliance API of
 * docs/appliance-api.md; exec: a command per action). A driver neither plans nor checks rules: it
 * observes and performs, and reports what the server said.
 */

export interface ActionTarget {
  cluster: Cluster;
  /** The server acted on; for cluster-wide DMA steps, the server that receives the request. */
  server: Server;
}

export type DriverAction = StepAction | "mount" | "unmount";

export interface ActionOutcome {
  ok: boolean;
  /** When refused or failed: the server's own code and words. */
  code?: string;
  message?: string;
  /** A rule id the server cited when it refused (the lab cites the manuals' rules). */
  rule?: string;
}

export interface Driver {
  readonly kind: string;
  /** Reads the server's state. Never throws for an unreachable server: returns state "unreachable". */
  observe(target: ActionTarget, options?: { timeoutMs?: number }): Promise<ServerObservation>;
  /**
   * Performs one action. Resolves when the server has accepted it (an install may still be running:
   * observe until the release changes). Rejects only for transport failures.
   */
  perform(
    target: ActionTarget,
    action: DriverAction,
    args: ActionArgs,
    options?: { timeoutMs?: number },
  ): Promise<ActionOutcome>;
  close?(): Promise<void>;
}
