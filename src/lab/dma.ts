import { journalCluster, login } from "./dma-cluster.ts";
import { install, verify } from "./dma-install.ts";
import { judgeSuperclusters } from "./dma-judge.ts";
import { join, leave } from "./dma-membership.ts";
import { territories } from "./dma-territories.ts";
import { performServerAction } from "./server-procedure.ts";
import type { ActionReply, ActionRequest, SimServer } from "./types.ts";
import type { LabWorld } from "./world.ts";

export { login } from "./dma-cluster.ts";
export { judgeSuperclusters } from "./dma-judge.ts";
export { SUPERCLUSTER_MAX } from "./dma-membership.ts";
export { dmaObservation } from "./dma-observe.ts";

/**
 * How a Polycom DMA cluster behaves (Operations Guide, rules.md D1–D10), written for the lab and
 * independent of rules/. Cluster-wide actions may be sent to any server of the cluster and act on
 * the whole cluster; the install runs on every server, and login comes back after install + settle.
 *
 * This module routes an action; its parts: dma-territories.ts (D5, D6), dma-membership.ts (leave,
 * join: D1, D2, D4, D10), dma-install.ts (install, D8's verify), dma-observe.ts (what a server
 * reports), dma-judge.ts (the lab as judge of membership), dma-cluster.ts (what they share).
 */
export const DMA_CLUSTER_ACTIONS = [
  "busy-out",
  "return-to-service",
  "reassign-territories",
  "restore-territories",
  "leave-supercluster",
  "join-supercluster",
  "install",
  "verify",
] as const;
const SERVER_LEVEL = ["stop", "start", "backup"];

export function performDmaAction(w: LabWorld, s: SimServer, req: ActionRequest): ActionReply {
  const c = s.cluster;
  const action = req.action;
  if (SERVER_LEVEL.includes(action)) {
    if (c.activity)
      return w.refuse(s, action, 503, "busy", `${c.name} is busy: ${c.activity.action} in progress`);
    return performServerAction(w, s, req);
  }
  const refused = clusterRefusal(w, s, req);
  if (refused) return refused;
  switch (action) {
    case "busy-out":
      return busyOut(w, s);
    case "return-to-service":
      return returnToService(w, s);
    case "reassign-territories":
    case "restore-territories":
      return territories(w, s, req);
    case "leave-supercluster":
      return leave(w, s);
    case "join-supercluster":
      return join(w, s, req);
    case "install":
      return install(w, s, req);
    default:
      return verify(w, s, req);
  }
}

/**
 * A cluster action the cluster cannot take now: unknown, the cluster busy with another one (the
 * same one joins it), the server not running or still settling. Undefined when it may go on.
 */
function clusterRefusal(w: LabWorld, s: SimServer, req: ActionRequest): ActionReply | undefined {
  const c = s.cluster;
  const action = req.action;
  if (!(DMA_CLUSTER_ACTIONS as readonly string[]).includes(action))
    return w.refuse(
      s,
      action,
      400,
      "unknown-action",
      `a polycom-dma cluster has no action "${action}" (actions: ${[...DMA_CLUSTER_ACTIONS, ...SERVER_LEVEL].join(", ")})`,
    );
  if (c.activity) {
    const a = c.activity;
    if (a.action === action && (action !== "install" || a.release === req.release))
      return w.joinActivity(s, a);
    return w.refuse(
      s,
      action,
      503,
      a.action === "install" ? "installing" : "busy",
      `${c.name} is busy: ${a.action}${a.release ? ` ${a.release}` : ""} in progress`,
    );
  }
  if (s.software !== "running")
    return w.refuse(s, action, 503, "not-running", `${s.name} is ${s.software}: it cannot manage ${c.name}`);
  if (!login(w, s))
    return w.refuse(
      s,
      action,
      503,
      "settling",
      `${s.name} is still settling after its install: log in later`,
    );
  return undefined;
}

function busyOut(w: LabWorld, s: SimServer): ActionReply {
  const c = s.cluster;
  const action = "busy-out";
  if (c.busiedOut && !c.inService) return w.done(s, action, `${c.name} is already busied out`, true);
  return w.begin(c, s, action, w.ms(c, action), () => {
    c.busiedOut = true;
    c.inService = false;
    journalCluster(w, c, `${c.name} busied out and out of service`);
    judgeSuperclusters(w);
    return undefined;
  });
}

function returnToService(w: LabWorld, s: SimServer): ActionReply {
  const c = s.cluster;
  const action = "return-to-service";
  if (!c.busiedOut && c.inService) return w.done(s, action, `${c.name} is already in service`, true);
  // D6: a cluster that left its supercluster serves again as a member of one (the new one it
  // joined or founded), not on its own beside both
  if (c.supercluster === null && c.leftSupercluster !== null)
    return w.refuse(
      s,
      action,
      409,
      "outside-supercluster",
      `${c.name} left ${c.leftSupercluster} and is a member of no supercluster: it returns to service once it has joined or founded the new one`,
      "D6",
    );
  return w.begin(c, s, action, w.ms(c, action), () => {
    c.busiedOut = false;
    c.inService = true;
    journalCluster(w, c, `${c.name} back in service`);
    judgeSuperclusters(w);
    return undefined;
  });
}
