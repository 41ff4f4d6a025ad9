import type { Cluster, PackName } from "./fleet.ts";

/**
 * Default duration of each action, in seconds, per rule pack. A cluster's `estimates` in the fleet
 * file override them. The planner schedules with these, the engine times steps out against them
 * (k × estimate, D8a), and the lab makes its simulated actions take them (divided by --speed).
 *
 * `settle` is D7's wait after a DMA install before login works again ("about five minutes"); it is
 * counted inside the install step, so an install step lasts install + settle.
 */
export const DEFAULT_ESTIMATES: Record<PackName, Readonly<Record<string, number>>> = {
  "polyserve-matrix": {
    disable: 60,
    backup: 60,
    stop: 60,
    install: 900,
    "set-mode": 300,
    start: 120,
    verify: 60,
    enable: 60,
  },
  "polycom-dma": {
    "reassign-territories": 120,
    "busy-out": 300,
    "leave-supercluster": 120,
    install: 2400,
    settle: 300,
    verify: 120,
    "join-supercluster": 300,
    "restore-territories": 120,
    "return-to-service": 60,
  },
  generic: { disable: 30, backup: 60, stop: 30, install: 600, start: 60, verify: 60, enable: 30 },
};

/** The duration of `action` on `cluster`: the fleet file's override, else the pack's default, else 60 s. */
export function estimateFor(cluster: Pick<Cluster, "pack" | "estimates">, action: string): number {
  return cluster.estimates[action] ?? DEFAULT_ESTIMATES[cluster.pack][action] ?? 60;
}

/** Every estimate of a cluster, defaults filled in (the lab writes these, scaled, into its derived fleet). */
export function allEstimates(cluster: Pick<Cluster, "pack" | "estimates">): Record<string, number> {
  return { ...DEFAULT_ESTIMATES[cluster.pack], ...cluster.estimates };
}
