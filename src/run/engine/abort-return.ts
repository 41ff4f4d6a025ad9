import type { ServerObservation } from "../../drivers/driver.ts";
import type { AbortLeftOut, AbortReturned, Escalation } from "../../events/types.ts";
import { compareAddresses } from "../../model/address.ts";
import type { Cluster, Server } from "../../model/fleet.ts";
import type { Step } from "../../model/step.ts";
import { driverCanPerform } from "../../plan/driver-commands.ts";
import {
  finishCommands,
  matrixEnableStep,
  matrixServerReturn,
  matrixStartStep,
  matrixVerifyStep,
  mayNotReturn,
  outOfServiceNow,
  restoreStep,
  returnStep,
  territoriesToRestore,
} from "../return-to-service.ts";
import { type EngineContext, sleep } from "./context.ts";
import { failed, heldBy } from "./escalation.ts";
import { executeNow } from "./executor.ts";
import { observe } from "./observe.ts";
import { waitBounds } from "./timeouts.ts";

export interface ReturnToServiceResult {
  returned: string[];
  leftOutOfService: AbortLeftOut[];
  returnedWhy: AbortReturned[];
}

/** One return to service under way: what came back, what stays out, and what each DMA cluster serves as. */
interface Returning extends ReturnToServiceResult {
  serving: Map<string, { inService: boolean; supercluster: string | null }>;
  /** The last journal event of each step an earlier return added (read once, when first needed). */
  earlier?: Map<string, string>;
}

/**
 * An abort with return to service, once running steps have finished: every DMA cluster this run
 * busied out (its busy-out begun or done) and that its servers report out of service is returned
 * to service if the rules let it (return-to-service.ts: a member of a supercluster, on one
 * release, D6/D3; one installed but not verified is verified first, D8; then the rule gate),
 * through the plan's own return-to-service step and the
 * normal executor (intent journaled before acting, the effect observed), then its territories
 * are restored as the fleet file had them (the manual's order: restore after the return). The
 * others are named with the rule that keeps them out and what to do. Then the Matrix servers
 * the run stopped (returnMatrixServers: M9, M4, M3, M5).
 */
export async function returnToService(ctx: EngineContext): Promise<ReturnToServiceResult> {
  const r: Returning = { returned: [], leftOutOfService: [], returnedWhy: [], serving: new Map() };
  const dma = ctx.o.fleet.clusters.filter((c) => c.pack === "polycom-dma");
  const tookOut = dma.filter((c) => {
    const busy = ctx.o.plan.steps.find((s) => s.cluster === c.name && s.action === "busy-out");
    const st = busy && ctx.standing.get(busy.id);
    return st !== undefined && (st.status === "done" || st.attempts > 0);
  });
  for (const c of dma) await look(ctx, r, c);
  for (const c of tookOut) await returnCluster(ctx, r, c);
  // territories back where the fleet file had them, in the supercluster each returned cluster serves in
  for (const name of r.returned) await restoreTerritories(ctx, r, dma.find((x) => x.name === name)!);
  await returnMatrixServers(ctx, r);
  return { returned: r.returned, leftOutOfService: r.leftOutOfService, returnedWhy: r.returnedWhy };
}

/** What to run to finish the upgrade after the abort: with this run's fleet file and target. */
async function finishHint(ctx: EngineContext): Promise<string> {
  return finishCommands(await ctx.fleetFile(), ctx.o.plan.target);
}

/** Runs a step through the normal executor; its escalation if it failed. */
async function attempt(ctx: EngineContext, step: Step): Promise<Escalation | undefined> {
  if (!ctx.standing.has(step.id))
    ctx.standing.set(step.id, { status: "pending", attempts: 0, accepted: false });
  try {
    await executeNow(ctx, step);
    return undefined;
  } catch (e) {
    return await failed(ctx, step, e);
  }
}

/** Observes a DMA cluster and notes whether it serves; undefined when it cannot be observed. */
async function look(ctx: EngineContext, r: Returning, c: Cluster): Promise<ServerObservation[] | undefined> {
  try {
    const obs = await observe(ctx, c, c.servers);
    r.serving.set(c.name, {
      inService: !outOfServiceNow(obs) && obs.every((o) => o.state !== "unreachable"),
      supercluster: obs[0]?.supercluster ?? null,
    });
    return obs;
  } catch {
    // a driver answers "unreachable" rather than throw: a cluster that cannot be observed at all
    // is undefined, "not known", to the caller
    return undefined;
  }
}

/** One DMA cluster the run took out of service: returned if the rules let it, else named with why. */
async function returnCluster(ctx: EngineContext, r: Returning, c: Cluster): Promise<void> {
  const obs = await look(ctx, r, c);
  if (!obs) {
    r.leftOutOfService.push({
      cluster: c.name,
      rule: "G5",
      reason: `${c.name} could not be observed: it is not returned to service unseen`,
    });
    return;
  }
  if (!outOfServiceNow(obs)) return;
  const no = mayNotReturn(c, obs, await finishHint(ctx));
  if (no) {
    r.leftOutOfService.push(no);
    return;
  }
  if (!(await verifiedIfInstalled(ctx, r, c))) return;
  const back =
    ctx.o.plan.steps.find((s) => s.cluster === c.name && s.action === "return-to-service") ?? returnStep(c);
  const verdict = ctx.o.gate?.check(back);
  if (verdict && !verdict.ok) {
    r.leftOutOfService.push({
      cluster: c.name,
      rule: verdict.rule,
      reason: `${c.name} stays out of service: ${verdict.reason}; finish its upgrade: ${await finishHint(ctx)}`,
    });
    return;
  }
  const failedBack = await attempt(ctx, back);
  if (failedBack) {
    r.leftOutOfService.push({
      cluster: c.name,
      ...heldBy(failedBack),
      reason: `returning ${c.name} to service failed: ${failedBack.detail}`,
    });
    return;
  }
  r.returned.push(c.name);
  r.serving.set(c.name, { inService: true, supercluster: obs[0]!.supercluster ?? null });
}

/**
 * Installed, not verified yet (an abort during a patch install, D7): the plan's own verify first
 * (D8), so that the cluster returns checked rather than staying out for want of it. False when
 * the verify failed (the cluster is then named as left out).
 */
async function verifiedIfInstalled(ctx: EngineContext, r: Returning, c: Cluster): Promise<boolean> {
  const verify = ctx.o.plan.steps.find((s) => s.cluster === c.name && s.action === "verify");
  const install = ctx.o.plan.steps.find((s) => s.cluster === c.name && s.action === "install");
  if (
    !verify ||
    !install ||
    ctx.standing.get(install.id)?.status !== "done" ||
    ctx.standing.get(verify.id)?.status === "done"
  )
    return true;
  const failedVerify = await attempt(ctx, verify);
  if (!failedVerify) return true;
  r.leftOutOfService.push({
    cluster: c.name,
    ...heldBy(failedVerify),
    reason: `${c.name} did not pass its checks after the install (${failedVerify.detail}): it stays out of service; ${await finishHint(ctx)}`,
  });
  return false;
}

/** A returned DMA cluster's territories, back where the fleet file had them (the manual's order). */
async function restoreTerritories(ctx: EngineContext, r: Returning, c: Cluster): Promise<void> {
  const name = c.name;
  const sc = r.serving.get(name)?.supercluster;
  if (!sc) return;
  const territories = territoriesToRestore(ctx.o.fleet, c, sc, (n) => {
    const s = r.serving.get(n);
    return s?.inService === true && s.supercluster === sc;
  });
  if (!territories.length) return;
  const restore = restoreStep(c, sc, territories);
  const verdict = ctx.o.gate?.check(restore);
  if (verdict && !verdict.ok) {
    await ctx.emit({
      type: "log",
      level: "warn",
      message: `${name} is back in service; its territories are not restored (${verdict.rule}: ${verdict.reason})`,
    });
    return;
  }
  const failedRestore = await attempt(ctx, restore);
  if (failedRestore)
    await ctx.emit({
      type: "log",
      level: "warn",
      message: `${name} is back in service; restoring its territories failed (${failedRestore.rule ?? failedRestore.code}: ${failedRestore.detail})`,
    });
}

/**
 * The Matrix part of an abort with return to service: every server the run stopped (its stop
 * begun or done) and did not start again is started if the rules let it, judged on what every
 * server of its matrix says just now (return-to-service.ts: G5, M9, M4, M3, M5), highest address
 * first (M2's order), one at a time (M1), each start observed to its effect and verified (M9:
 * it rejoined). A server the run only disabled (a halt or an abort between its disable and its
 * stop) is enabled again (enableMatrixServer).
 */
async function returnMatrixServers(ctx: EngineContext, r: Returning): Promise<void> {
  for (const c of ctx.o.fleet.clusters.filter((x) => x.pack === "polyserve-matrix")) {
    const begun = (step: Step | undefined) => {
      const st = step && ctx.standing.get(step.id);
      return st !== undefined && (st.status === "done" || st.attempts > 0);
    };
    // a server's steps of the pass it is in (M8's chain, M11's declared passes: one procedure per
    // pass): the latest pass of which one of its steps has begun
    const mine = (server: string) =>
      ctx.o.plan.steps.filter((x) => x.cluster === c.name && x.server === server);
    const passNow = (server: string) =>
      Math.max(
        0,
        ...mine(server)
          .filter((x) => begun(x))
          .map((x) => x.pass?.n ?? 0),
      );
    const stepOf = (server: string, action: Step["action"]) => {
      const n = passNow(server);
      return mine(server).find((x) => x.action === action && (x.pass?.n ?? 0) === n);
    };
    const started = (server: string) => ctx.done(stepOf(server, "start")?.id ?? "");
    const tookDown = c.servers
      .filter((s) => !started(s.name) && (begun(stepOf(s.name, "stop")) || begun(stepOf(s.name, "disable"))))
      .sort((a, b) => compareAddresses(b.address, a.address));
    for (const s of tookDown)
      await returnMatrixServer(ctx, r, c, s, {
        stopBegun: begun(stepOf(s.name, "stop")),
        // the run sent the disable itself (its intent journaled), rather than found it disabled
        disabledByRun: (ctx.standing.get(stepOf(s.name, "disable")?.id ?? "")?.attempts ?? 0) > 0,
        disableStep: stepOf(s.name, "disable"),
        stopStep: stepOf(s.name, "stop"),
      });
  }
}

/** What the run did to one Matrix server it took down, from its journal. */
interface TookDown {
  stopBegun: boolean;
  disabledByRun: boolean;
  /** The plan's disable and stop of the server, in the pass it is in. */
  disableStep: Step | undefined;
  stopStep: Step | undefined;
}

/**
 * One Matrix server the run took down: started and verified if the rules let it, enabled if the
 * run only disabled it, else named with why.
 */
async function returnMatrixServer(
  ctx: EngineContext,
  r: Returning,
  c: Cluster,
  s: Server,
  done: TookDown,
): Promise<void> {
  let obs: ServerObservation[];
  try {
    obs = await observe(ctx, c, c.servers);
    // a disable or a stop the run sent that is still under way (an engine that crashed while it
    // ran, a step it timed out that the server finishes after all): judged once it has ended, so
    // that the server is neither left disabled nor left stopped unnamed
    const action = underWay(obs, s);
    if (action) obs = await whenEnded(ctx, c, s, action, done);
  } catch {
    // not observable: reported as left out of service (G5), which is what the operator must check
    r.leftOutOfService.push({
      cluster: c.name,
      server: s.name,
      rule: "G5",
      reason: `${c.name} could not be observed: ${s.name} is not started unseen`,
    });
    return;
  }
  const me = obs.find((o) => o.server === s.name);
  if (me && underWay(obs, s)) {
    r.leftOutOfService.push({
      cluster: c.name,
      server: s.name,
      rule: "G5",
      reason: `${s.name}'s ${me.activity!.action} is still under way: it is judged once it has ended; ask the return again then: rollgate abort ${(await ctx.fleetFile()) ?? "FLEET"} --return-to-service`,
    });
    return;
  }
  const back = me && !me.disabled && me.state === "running";
  // an earlier return of this run gave the server back (or sent its enable): what it is now is
  // not undone, it is a person's or another run's doing; it is named when it is out of service
  const earlier = await earlierReturn(ctx, r, c, s);
  if (earlier) {
    const now = me?.disabled ? "disabled" : (me?.state ?? "not observed");
    if (earlier === "enable-sent" && back) {
      r.returned.push(s.name);
      r.returnedWhy.push({
        cluster: c.name,
        server: s.name,
        rules: ["M9"],
        reason: `${s.name} was enabled again by an earlier return of this run (its enable, sent then, has taken effect: M9)`,
      });
    } else if (earlier === "enable-sent")
      r.leftOutOfService.push({
        cluster: c.name,
        server: s.name,
        rule: "M9",
        reason: `an earlier return of this run sent ${s.name}'s enable and was cut short before it was seen to end; ${s.name} is ${now} now, which may be the enable that never arrived or a person's doing since: rollgate does not send it twice; enable ${s.name} by hand if it should take virtual services`,
      });
    else if (!back)
      r.leftOutOfService.push({
        cluster: c.name,
        server: s.name,
        rule: "M9",
        reason: `${s.name} was given back by an earlier return of this run (${earlier === "started" ? "started and verified" : "enabled"}) and is ${now} now, by a person or another run since: rollgate leaves it so; bring it back by hand if it should serve`,
      });
    return;
  }
  if (me?.state === "running") {
    // running: its stop never began, or did not happen (refused, failed); disabled by the run, it
    // is enabled again
    if (me.disabled === true && done.disabledByRun) await enableMatrixServer(ctx, r, c, s, me);
    else if (me.disabled === true)
      // found disabled when the run came to it (by hand, before the run): left as it was found
      r.leftOutOfService.push({
        cluster: c.name,
        server: s.name,
        rule: "M9",
        reason: `${s.name} was already disabled when the run came to it (the run sent no disable): rollgate leaves it as it found it, running ${me.release}; enable it by hand if it should take virtual services, or finish the upgrade: ${await finishHint(ctx)}`,
      });
    return;
  }
  const verdict = matrixServerReturn(c, s, obs, await finishHint(ctx));
  if (!verdict) return;
  if (!verdict.ok) {
    r.leftOutOfService.push(verdict.left);
    return;
  }
  // Judged on what the servers say now (G5), not by the gate: its picture is the plan replayed,
  // which after a failed or cut-short step is not the servers' (a failed install left srv3 on
  // its old release, stopped). A start takes no server down (M1, G3 hold); M10 (a server out
  // when mixed operation began) never holds for a server the run itself stopped one at a time.
  const start = matrixStartStep(c, s.name, me!.release);
  const failedStart =
    (await attempt(ctx, start)) ?? (await attempt(ctx, matrixVerifyStep(c, s.name, me!.release)));
  if (failedStart) {
    r.leftOutOfService.push({
      cluster: c.name,
      server: s.name,
      ...heldBy(failedStart),
      reason: `starting ${s.name} again failed: ${failedStart.detail}`,
    });
    return;
  }
  r.returned.push(s.name);
  r.returnedWhy.push(verdict.returned);
}

/**
 * A Matrix server the run disabled and did not stop: it still runs its release, in the matrix, with
 * its virtual services moved away (M9's first step). Enabled again through the normal executor
 * (the intent journaled before acting; while the matrix is mixed the request goes to an
 * old-release server, M7), its effect observed: the server no longer reports itself disabled.
 * A driver with no `enable` command (an ssh or exec driver whose fleet file has none) cannot: the
 * server is named, with what to do.
 */
async function enableMatrixServer(
  ctx: EngineContext,
  r: Returning,
  c: Cluster,
  s: Server,
  me: ServerObservation,
): Promise<void> {
  const release = me.release;
  const runs = `${release}${me.mode ? ` in mode ${me.mode}` : ""}`;
  if (!driverCanPerform(c, "enable")) {
    const kind = c.driver?.ssh ? "ssh" : "exec";
    r.leftOutOfService.push({
      cluster: c.name,
      server: s.name,
      rule: "M9",
      reason: `${s.name} was disabled by the run (its virtual services moved away) and still runs ${runs}: the fleet file's ${kind} driver has no enable command (driver.${kind}.commands.enable), so rollgate cannot enable it; enable it by hand, or finish the upgrade: ${await finishHint(ctx)}`,
    });
    return;
  }
  const failedEnable = await attempt(ctx, matrixEnableStep(c, s.name, release));
  if (failedEnable) {
    r.leftOutOfService.push({
      cluster: c.name,
      server: s.name,
      ...heldBy(failedEnable),
      reason: `enabling ${s.name} again failed: ${failedEnable.detail}; enable it by hand, or finish the upgrade: ${await finishHint(ctx)}`,
    });
    return;
  }
  r.returned.push(s.name);
  r.returnedWhy.push({
    cluster: c.name,
    server: s.name,
    rules: ["M9"],
    reason: `${s.name} was disabled by the run and not stopped: it still ran ${runs} in the matrix, so it was enabled again (its disable undone, M9) and takes virtual services again`,
  });
}

/**
 * The action under way on the server, as it reports it, when it is one the return must wait for:
 * the run's disable or stop, an earlier return's enable or start (an engine killed during it).
 */
function underWay(obs: ServerObservation[], s: Server): string | undefined {
  const a = obs.find((o) => o.server === s.name)?.activity?.action;
  return a === "disable" || a === "stop" || a === "enable" || a === "start" ? a : undefined;
}

/**
 * Waits, within the step's allowance (k × its estimate, as the executor waits), for the action
 * under way on the server (underWay) to end; what the servers say then (still under way: the
 * caller names it). Nothing is sent.
 */
async function whenEnded(
  ctx: EngineContext,
  c: Cluster,
  s: Server,
  action: string,
  done: TookDown,
): Promise<ServerObservation[]> {
  const step =
    (action === "stop" ? done.stopStep : action === "disable" ? done.disableStep : undefined) ??
    (action === "start" ? matrixStartStep(c, s.name, s.version) : matrixEnableStep(c, s.name, s.version));
  const { deadline, pollMs } = waitBounds(ctx, step, ctx.o.now());
  for (;;) {
    ctx.checkLease();
    const obs = await observe(ctx, c, c.servers);
    if (!underWay(obs, s) || ctx.o.now() > deadline) return obs;
    await sleep(pollMs);
  }
}

/**
 * What an earlier return of this run did to the server, from the run's journal (the steps an abort
 * adds are not the plan's, so not in the replayed standing): "started" (started and verified),
 * "enabled", "enable-sent" (its enable's intent journaled, neither done nor failed: an engine killed
 * while it ran), or undefined (nothing, or only what failed, or a start not yet verified: this
 * return carries on with it).
 */
async function earlierReturn(
  ctx: EngineContext,
  r: Returning,
  c: Cluster,
  s: Server,
): Promise<"started" | "enabled" | "enable-sent" | undefined> {
  const id = (action: string) => `${c.name}/${s.name}/${action}-on-abort`;
  if (!r.earlier) {
    // one pass over the journal for the whole return, however many servers it looks at
    r.earlier = new Map();
    for (const e of await ctx.o.store.events(ctx.o.runId))
      if (
        (e.type === "step.intent" || e.type === "step.done" || e.type === "step.failed") &&
        e.step.endsWith("-on-abort")
      )
        r.earlier.set(e.step, e.type);
  }
  const seen = r.earlier;
  // this return's own steps (attempt() just now) are in the standing as well
  const last = (x: string) => (ctx.done(x) ? "step.done" : seen.get(x));
  if (last(id("start")) === "step.done" && last(id("verify")) === "step.done") return "started";
  if (last(id("enable")) === "step.done") return "enabled";
  if (last(id("enable")) === "step.intent") return "enable-sent";
  return undefined;
}
