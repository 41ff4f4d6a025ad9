/**
 * DMA superclusters (D1–D10): the planners the strategy picker calls. Each lives in its own module:
 * dma-steps.ts (the step factory and one cluster's chain), dma-schedule.ts (list scheduling of the
 * clusters' slots), dma-territories.ts (the territory reassignments, simulated in time order),
 * dma-dependencies.ts (the order between clusters, G4's last leaves), dma-bounds.ts (lower bounds,
 * the windows' exact optimum), dma-search.ts (the permutation search), dma-window.ts (the
 * maintenance window), dma-window-rest.ts (the rest of an aborted window), dma-part-done.ts (a
 * supercluster part way through its upgrade) and dma-standalone.ts (a cluster in no supercluster).
 */
export { planSuperclusterRolling } from "./dma-search.ts";
export type { DmaStrategy } from "./dma-steps.ts";
export { planPartDoneSupercluster } from "./dma-part-done.ts";
export { planStandaloneDma } from "./dma-standalone.ts";
export { planMaintenanceWindow } from "./dma-window.ts";
export { isWindowRest } from "./dma-window-rest.ts";
