import type { ServerObservation } from "../../drivers/driver.ts";
import { formatDuration } from "../../model/duration.ts";
import type { Cluster, Server } from "../../model/fleet.ts";
import { endStateProblems as judgeEndState } from "../end-state.ts";
import { type Problem, stoppedOutOfOrder } from "../effects.ts";
import type { EngineContext } from "./context.ts";
import { setAside } from "./offenders.ts";

/**
 * Observes servers of a cluster through its driver. What they say corrects the gate's picture of
 * the servers no step acts on (G3, G5), a change is journaled as an observation, and the M6
 * window is watched.
 */
export async function observe(
  ctx: EngineContext,
  cluster: Cluster,
  servers: Server[],
): Promise<ServerObservation[]> {
  const driver = ctx.o.driverFor(cluster);
  const asked = ctx.o.gate?.mark?.() ?? 0;
  const obs = await Promise.all(servers.map((server) => driver.observe({ cluster, server })));
  const at = ctx.o.now();
  for (const ob of obs) ctx.seen.set(`${cluster.name}/${ob.server}`, { at, ob });
  if (
    ctx.o.correctOutOfOrder &&
    cluster.pack === "polyserve-matrix" &&
    servers.length === cluster.servers.length
  ) {
    // a correction applied before a restart shows as a stopped new-release server below old ones
    for (const name of stoppedOutOfOrder(cluster, obs, ctx.targets.get(cluster.name) ?? ctx.o.plan.target))
      await setAside(ctx, cluster, name);
  }
  for (const ob of obs) {
    // what the servers say corrects the gate's picture of servers no step acts on (G3, G5)
    if (!ctx.offenders.get(cluster.name)?.has(ob.server))
      ctx.o.gate?.observed?.(
        ob.server,
        ob.state === "running" || ob.state === "isolated",
        asked,
        ob.state === "unreachable" ? undefined : ob.disabled,
      );
    const key = `${ob.cluster}/${ob.server}`;
    const sig = `${ob.state}|${ob.release}`;
    if (ob.state !== "unreachable") ctx.lastRelease.set(key, ob.release);
    if (ctx.lastSeen.get(key) !== sig) {
      ctx.lastSeen.set(key, sig);
      ctx.note({
        type: "observation",
        cluster: ob.cluster,
        server: ob.server,
        state: ob.state,
        release: ob.release,
      });
    }
  }
  await watchMixed(ctx, cluster);
  return obs;
}

/** Every server of the plan, observed once. */
export async function observeEverything(
  ctx: EngineContext,
): Promise<{ cluster: Cluster; observations: ServerObservation[] }[]> {
  return Promise.all(
    ctx.planClusters().map(async (c) => ({ cluster: c, observations: await observe(ctx, c, c.servers) })),
  );
}

/** Observes every server of the plan once more and asks end-state.ts what is not as the plan leaves it. */
export async function endStateProblems(ctx: EngineContext): Promise<Problem[]> {
  const observed = await observeEverything(ctx);
  return judgeEndState(ctx.o.plan, observed, ctx.o.fleet);
}

/**
 * M6: a mixed-release matrix is transient, "a figure to minimize and to alert on". The window
 * opens when the servers of a matrix (or generic cluster) are seen on different releases and
 * closes when they are seen on one; measured on the engine's clock, as every step's duration is
 * (a lab's derived fleet file divides maxMixedWindow by its speed, as it does the estimates).
 * Past the fleet's maxMixedWindow the engine raises an alert (journal, status) once per window:
 * a warning, not an escalation: the fastest way out of a mixed matrix is to go on.
 */
async function watchMixed(ctx: EngineContext, cluster: Cluster): Promise<void> {
  if (cluster.pack === "polycom-dma") return;
  const releases = new Set(
    cluster.servers
      .map((s) => ctx.lastRelease.get(`${cluster.name}/${s.name}`))
      .filter((r): r is string => r !== undefined),
  );
  const now = ctx.o.now();
  if (releases.size <= 1) {
    ctx.mixedSince.delete(cluster.name);
    ctx.mixedAlerted.delete(cluster.name);
    return;
  }
  if (!ctx.mixedSince.has(cluster.name)) ctx.mixedSince.set(cluster.name, now);
  await alertMixed(ctx, cluster.name, now);
}

export async function alertMixed(ctx: EngineContext, cluster: string, now: number): Promise<void> {
  const since = ctx.mixedSince.get(cluster);
  const bound = ctx.o.fleet.defaults.maxMixedWindow;
  if (since === undefined || !(bound > 0) || ctx.mixedAlerted.has(cluster)) return;
  const seconds = (now - since) / 1000;
  if (seconds <= bound) return;
  ctx.mixedAlerted.add(cluster);
  await ctx.emit({
    type: "alert",
    rule: "M6",
    cluster,
    message: `${cluster} has run mixed releases for ${formatDuration(seconds)}, beyond the fleet's maxMixedWindow of ${formatDuration(bound)}: mixed operation is supported only during the upgrade; upgrade the remaining servers as quickly as possible (M6)`,
  });
}
