import type { ServerObservation } from "../../drivers/driver.ts";
import type { Cluster, Server } from "../../model/fleet.ts";
import type { Step } from "../../model/step.ts";
import { compareVersions } from "../../model/version.ts";
import { isolatedServers, outOfOrder, stoppedOutOfOrder } from "../effects.ts";
import type { EngineContext } from "./context.ts";
import { halt } from "./escalation.ts";
import { observe } from "./observe.ts";
import { setAside } from "./offenders.ts";

/**
 * M3: the matrix must not report old-release servers isolated. Checked before every matrix step
 * and after each start and verify. Without `correctOutOfOrder` an isolated server escalates.
 * With it, the manual's correction is applied: the server upgraded out of order is stopped, and
 * the plan goes on in order; its own steps then find their effect present (G5) up to its start,
 * which comes last. Old-release servers stay isolated until each is upgraded in turn (the
 * manual: "continue upgrading the other nodes"), so isolation is tolerated while a correction
 * holds in that cluster.
 *
 * The watch needs every server of the matrix, so that its cost does not grow with the matrix at
 * every step it reads again only some: the step's own servers were read just before (G5), and
 * the others change only by the engine's own steps, one at a time (M1), each observed to its
 * effect, or by a hand or a fault. After a start or a verify (`fresh`), when a server rejoins the
 * matrix and isolation would show, the step's own server and every server last seen on an older
 * release than the target or not running are read again: M3 isolates older-release servers.
 * Of the others, those last read WATCH_REUSE_MS ago or more are due again, the longest unread
 * first, at most WATCH_DUE_PER_STEP per step: each server is read by the watch at most about once
 * per WATCH_REUSE_MS (a bounded rate, however fast steps go), and a step reads a bounded number
 * of servers however slowly steps go (when steps slow down, because ten thousand servers share
 * the engine, reading every server due at every step made each step cost more as the fleet grew:
 * issue "the engine scales with the fleet"). Every server is read when one was never read.
 */
export async function watchMatrix(
  ctx: EngineContext,
  step: Step,
  cluster: Cluster,
  opts: { fresh?: boolean } = {},
): Promise<ServerObservation[] | undefined> {
  if (cluster.pack !== "polyserve-matrix") return undefined;
  const now = ctx.o.now();
  const key = (sv: Server) => `${cluster.name}/${sv.name}`;
  // what M3 calls the new release: the target, or in a rollback the newer release it leaves
  const target = ctx.o.plan.rollback?.from[cluster.name] ?? ctx.target(step);
  // in a mode pass (M11), the new mode on that release
  const mode = step.pass?.mode;
  let unseen = false;
  const due: Array<{ sv: Server; at: number }> = [];
  const stale = cluster.servers.filter((sv) => {
    const last = ctx.seen.get(key(sv));
    if (!last) {
      unseen = true;
      return true;
    }
    // after a start or a verify: the step's own servers, and every server last seen on an older
    // release than the target, where M3's isolation shows (a newer-release server is not isolated)
    if (
      opts.fresh === true &&
      (step.server === sv.name ||
        compareVersions(last.ob.release, target) < 0 ||
        (mode !== undefined && last.ob.mode !== mode) ||
        last.ob.state !== "running")
    )
      return true;
    if (now - last.at >= WATCH_REUSE_MS) due.push({ sv, at: last.at });
    return false;
  });
  // the others due again: every one when some server was never read, else the longest unread,
  // at most WATCH_DUE_PER_STEP of them, so that a step's reads do not grow when steps slow down
  if (unseen) stale.push(...due.map((d) => d.sv));
  else
    stale.push(
      ...due
        .sort((a, b) => a.at - b.at)
        .slice(0, WATCH_DUE_PER_STEP)
        .map((d) => d.sv),
    );
  if (stale.length === cluster.servers.length) await observe(ctx, cluster, cluster.servers);
  else if (stale.length) await observe(ctx, cluster, stale);
  const all = cluster.servers.map((sv) => ctx.seen.get(key(sv))!.ob);
  const isolated = isolatedServers(all);
  if (!isolated.length) return all;
  const offenders = outOfOrder(cluster, all, target, mode);
  // A correction already applied (perhaps by an engine before a restart) shows as a stopped
  // server on the new release below servers still on the old one.
  const correcting =
    ctx.corrected.has(cluster.name) || stoppedOutOfOrder(cluster, all, target, mode).length > 0;
  if (ctx.o.correctOutOfOrder && (offenders.length > 0 || correcting)) {
    for (const name of offenders) await correct(ctx, step, cluster, name, target);
    return all;
  }
  throw halt(
    step,
    "M3",
    `the matrix reports ${isolated.join(", ")} isolated: ${offenders.length ? `${offenders.join(", ")} runs ${mode === undefined ? target : `in mode ${mode}`} out of order` : "a server was upgraded out of order"} (old-release servers stopped sending configuration and status updates)${ctx.o.correctOutOfOrder ? "" : "; rerun with --correct-out-of-order to apply the manual's correction"}`,
    isolated[0],
  );
}

/** The M3 watch reuses an observation of a server no older than this (engine clock). */
export const WATCH_REUSE_MS = 3000;
/** Servers read again by one step's watch because their observation is older than WATCH_REUSE_MS. */
export const WATCH_DUE_PER_STEP = 2;

/** The manual's M3 correction for one server upgraded out of order: stopped, then set aside. */
async function correct(ctx: EngineContext, step: Step, cluster: Cluster, name: string, target: string) {
  const server = cluster.servers.find((s) => s.name === name)!;
  await ctx.emit({
    type: "log",
    level: "warn",
    message: `M3 correction on ${cluster.name}: ${name} runs ${target} while higher-addressed servers still run the old release; stopping it, upgrading the others in order, starting it last`,
  });
  await ctx.assureLease();
  const outcome = await ctx.o.driverFor(cluster).perform({ cluster, server }, "stop", {});
  if (!outcome.ok)
    throw halt(
      step,
      "M3",
      `the M3 correction could not stop ${name}: ${outcome.message ?? outcome.code}`,
      name,
    );
  await setAside(ctx, cluster, name);
}

/**
 * Which server receives the request. A cluster-wide DMA step goes to a reachable server of the
 * cluster. A matrix management operation (disable, enable) goes, while the matrix is mixed, to a running
 * server on the oldest release (M7), naming the server it acts on.
 */
export async function receiver(
  ctx: EngineContext,
  step: Step,
  cluster: Cluster,
  servers: Server[],
  obs: ServerObservation[],
  matrix: ServerObservation[] | undefined,
): Promise<Server> {
  if (
    step.server &&
    (step.action === "disable" || step.action === "enable") &&
    cluster.pack === "polyserve-matrix"
  ) {
    const server = await oldestRunning(ctx, step, cluster, matrix);
    if (server) return server;
  }
  const reachable = obs.find((o) => o.state !== "unreachable");
  return servers.find((sv) => sv.name === reachable?.server) ?? servers[0]!;
}

/**
 * M7: a running server of the matrix on its oldest release, the step's own server if it is one;
 * judged on the M3 watch's read of every server just before the step acts, when there is one.
 */
async function oldestRunning(
  ctx: EngineContext,
  step: Step,
  cluster: Cluster,
  matrix: ServerObservation[] | undefined,
): Promise<Server | undefined> {
  const everyone = matrix ?? (await observe(ctx, cluster, cluster.servers));
  const unreachable = everyone.filter((o) => o.state === "unreachable");
  if (unreachable.length) {
    throw halt(
      step,
      "G5",
      `cannot choose where to send ${step.action} (M7: to a server on the old release while the matrix is mixed): ${unreachable.map((o) => o.server).join(", ")} unreachable`,
      unreachable[0]!.server,
    );
  }
  const running = everyone.filter((o) => o.state === "running" || o.state === "isolated");
  const oldest = running.map((o) => o.release).sort(compareVersions)[0];
  if (oldest === undefined) return undefined;
  const pick =
    running.find((o) => o.server === step.server && compareVersions(o.release, oldest) === 0) ??
    running.find((o) => compareVersions(o.release, oldest) === 0);
  return cluster.servers.find((sv) => sv.name === pick?.server);
}
