import type { Cluster } from "../../model/fleet.ts";
import type { Step } from "../../model/step.ts";
import type { EngineContext } from "./context.ts";

/**
 * M3 correction: `name` was upgraded out of order and is stopped; it is started last. The gate
 * sets it aside (the manual's correction takes it out of the matrix on purpose; the cluster then
 * runs one server short of what the plan counted on, G3, and the engine says so).
 */
export async function setAside(ctx: EngineContext, cluster: Cluster, name: string): Promise<void> {
  const set = ctx.offenders.get(cluster.name) ?? new Set<string>();
  ctx.offenders.set(cluster.name, set);
  if (set.has(name)) return;
  set.add(name);
  ctx.corrected.add(cluster.name);
  ctx.o.gate?.setAside?.(name);
  const message = `M3 correction on ${cluster.name}: ${name} stays stopped until every other server is upgraded, then starts last; meanwhile ${cluster.name} runs one server short of what the plan counted on`;
  const n = cluster.servers.length;
  const floor = ctx.o.fleet.defaults.capacityFloor;
  // the manual's correction takes a second server out while each other one is upgraded: said
  // aloud when that goes below the floor (G3), never silently
  if (n > 0 && (n - 2) / n + 1e-9 < floor)
    await ctx.emit({
      type: "alert",
      rule: "G3",
      cluster: cluster.name,
      message: `${message}: ${Math.max(0, n - 2)} of ${n} servers serve while each is upgraded, below the capacity floor ${Math.round(floor * 100)}% (G3)`,
    });
  else await ctx.emit({ type: "log", level: "warn", message: `${message} (G3)` });
}

/**
 * A step's dependencies are done. In a matrix under the M3 correction, the manual starts the
 * offending server last ("continue upgrading the other nodes before starting Matrix Server on
 * that node"): its start and verify wait for every other server of the matrix, and a step that
 * depended on them depends on its install instead.
 */
export function depsDone(ctx: EngineContext, s: Step): boolean {
  const aside = ctx.offenders.get(s.cluster);
  if (!aside?.size) return s.after.every((d) => ctx.done(d));
  if (s.server && aside.has(s.server) && (s.action === "start" || s.action === "verify")) {
    const others = ctx.o.plan.steps.filter(
      (o) => o.cluster === s.cluster && o.server && !aside.has(o.server),
    );
    return others.every((o) => ctx.done(o.id)) && s.after.every((d) => ctx.done(d));
  }
  return s.after.every((d) => {
    if (ctx.done(d)) return true;
    if (!isOffenderRestart(ctx, d, aside)) return false;
    const dep = ctx.steps.get(d)!;
    const install = ctx.o.plan.steps.find(
      (o) => o.server === dep.server && o.cluster === dep.cluster && o.action === "install",
    );
    return install !== undefined && ctx.done(install.id);
  });
}

function isOffenderRestart(ctx: EngineContext, id: string, aside: Set<string>): boolean {
  const d = ctx.steps.get(id);
  return !!d?.server && aside.has(d.server) && (d.action === "start" || d.action === "verify");
}
