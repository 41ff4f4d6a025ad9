import type { ActionArgs, Driver, ServerObservation } from "../../drivers/driver.ts";
import type { Cluster, Server } from "../../model/fleet.ts";
import type { Step } from "../../model/step.ts";
import { effectPresent, inProgress, joinProblems, type StepContext } from "../effects.ts";
import type { StepStanding } from "../journal.ts";
import { preconditionProblems } from "../preconditions.ts";
import { type EngineContext, isLeaseLost, sleep } from "./context.ts";
import { failed, halt, raise, ruleOfAction } from "./escalation.ts";
import { mayStartStep } from "./schedule.ts";
import { receiver, watchMatrix } from "./matrix-watch.ts";
import { observe } from "./observe.ts";
import { installFailure, secondsSince, timeoutHalt, waitBounds } from "./timeouts.ts";

/** Starts a step beside the loop; a step that throws escalates (its cluster halts, independent work goes on). */
export function start(ctx: EngineContext, step: Step): void {
  const p = execute(ctx, step)
    .catch(async (e: unknown) => {
      // the lease lost: another engine leads the run; this one writes nothing more (not even an escalation)
      if (isLeaseLost(e) || ctx.leaseLost) {
        ctx.leaseLost ??= e as NonNullable<typeof ctx.leaseLost>;
        return;
      }
      try {
        await raise(ctx, await failed(ctx, step, e), step);
      } catch (err) {
        // recording the failure was refused: a lease lost meanwhile (a step that failed because
        // this engine's link was cut, say) ends this engine as above; anything else ends the run
        // through the loop. Never a rejection nobody awaits (it would kill the process, exit 1).
        if (isLeaseLost(err)) ctx.leaseLost ??= err as NonNullable<typeof ctx.leaseLost>;
        else ctx.stepError ??= err;
      }
    })
    .finally(() => {
      ctx.running.delete(step.id);
      ctx.wake?.();
    });
  ctx.running.set(step.id, p);
}

/**
 * A DMA cluster runs one cluster-wide job at a time (an appliance answers "busy" otherwise), so
 * cluster-wide steps acting through the same cluster are run one after the other.
 */
function execute(ctx: EngineContext, step: Step): Promise<void> {
  const cluster = ctx.actingCluster(step);
  if (step.server || cluster.pack !== "polycom-dma") return executeNow(ctx, step);
  const previous = ctx.clusterQueue.get(cluster.name) ?? Promise.resolve();
  // A step queued behind another starts only if nothing has stopped the run meanwhile.
  const mine = previous
    .catch(() => undefined)
    .then(async () => ((await mayStartStep(ctx, step)) ? executeNow(ctx, step) : undefined));
  ctx.clusterQueue.set(
    cluster.name,
    mine.catch(() => undefined),
  );
  return mine;
}

/** One step under way: what it acts on, and what its servers said last. */
interface StepRun {
  step: Step;
  cluster: Cluster;
  servers: Server[];
  standing: StepStanding;
  /** A join is judged against the cluster it joins as well (D10): its member list is read too. */
  joinedCluster: Cluster | undefined;
  obs: ServerObservation[];
  joined: ServerObservation[] | undefined;
}

/** What effects.ts judges the step's effect on. */
function effectContext(r: StepRun): StepContext {
  return {
    step: r.step,
    cluster: r.cluster,
    observations: r.obs,
    ...(r.joined ? { joined: r.joined } : {}),
    ...(r.standing.backupsBefore !== undefined ? { backupsBefore: r.standing.backupsBefore } : {}),
  };
}

/** Observes the step's servers, and for a join the cluster it joins. */
async function look(ctx: EngineContext, r: StepRun): Promise<void> {
  r.obs = await observe(ctx, r.cluster, r.servers);
  r.joined = r.joinedCluster ? await observe(ctx, r.joinedCluster, r.joinedCluster.servers) : undefined;
}

/**
 * Runs one step now: observe (G5), done if its effect is there, else act (intent journaled first)
 * unless it is under way already, then wait for its effect.
 */
export async function executeNow(ctx: EngineContext, step: Step): Promise<void> {
  const r: StepRun = {
    step,
    cluster: ctx.actingCluster(step),
    servers: ctx.serversOf(step),
    standing: ctx.standing.get(step.id)!,
    joinedCluster:
      step.action === "join-supercluster" && step.joins
        ? ctx.o.fleet.clusters.find((c) => c.name === step.joins)
        : undefined,
    obs: [],
    joined: undefined,
  };
  const startedAt = ctx.o.now();
  ctx.o.gate?.started(step);
  ctx.note({
    type: "step.started",
    step: step.id,
    action: step.action,
    cluster: step.cluster,
    ...(step.server ? { server: step.server } : {}),
  });

  await look(ctx, r);
  const unreachable = r.obs.filter((o) => o.state === "unreachable");
  if (unreachable.length) {
    // G5: a step is never acted on without reading the state of every server it touches.
    throw halt(
      step,
      "G5",
      `cannot observe ${unreachable.map((o) => `${o.server}${o.error ? ` (${o.error})` : ""}`).join(", ")} before ${step.action}: unreachable`,
      unreachable[0]?.server,
    );
  }

  const matrix = await watchMatrix(ctx, step, r.cluster);
  if (effectPresent(effectContext(r), ctx.target(step))) {
    await finish(ctx, step, true, startedAt);
    return;
  }
  if (step.action === "install" && r.standing.accepted && r.standing.status === "pending") {
    // The engine died after the server accepted this install (the journal says so, with no
    // outcome). If that install failed or was cut short meanwhile, a person looks first.
    const h = installFailure(ctx, step, r.cluster, r.obs, "accepted-before-restart");
    if (h) throw h;
  }
  if (!inProgress(effectContext(r), ctx.target(step))) await act(ctx, r, matrix);
  await waitForEffect(ctx, r);
  // M3: a start or a verify is when a server rejoins the matrix; the watch before the next step
  // covers the others
  if (step.action === "start" || step.action === "verify")
    await watchMatrix(ctx, step, r.cluster, { fresh: true });
  await finish(ctx, step, false, startedAt);
}

/**
 * Sends the step's action: the rules it relies on are judged on what the servers said just now,
 * the intent is journaled, then the driver is called and its acceptance journaled.
 */
async function act(ctx: EngineContext, r: StepRun, matrix: ServerObservation[] | undefined): Promise<void> {
  const { step, cluster, standing, obs } = r;
  // The rules this step relies on, judged on what the servers said just now, not on the
  // journal's picture: a fleet changed under the run escalates, nothing is sent.
  const problems = preconditionProblems(
    {
      step,
      cluster,
      observations: obs,
      ...(matrix ? { matrix } : {}),
      ...(ctx.o.plan.rollback?.from[cluster.name]
        ? { rollbackFrom: ctx.o.plan.rollback.from[cluster.name] }
        : {}),
    },
    ctx.target(step),
  );
  if (problems.length)
    throw halt(
      step,
      problems[0]!.rule,
      `the fleet is not as the run expects before ${step.action}: ${problems.map((p) => `${p.rule}: ${p.detail}`).join("; ")}; nothing was sent`,
    );
  const backupsBefore = step.action === "backup" ? Math.max(...obs.map((o) => o.backups ?? 0)) : undefined;
  standing.attempts += 1;
  if (backupsBefore !== undefined) standing.backupsBefore = backupsBefore;
  await ctx.emit({
    type: "step.intent",
    step: step.id,
    action: step.action,
    cluster: step.cluster,
    ...(step.server ? { server: step.server } : {}),
    attempt: standing.attempts,
    ...(backupsBefore !== undefined ? { backupsBefore } : {}),
  });
  const target = { cluster, server: await receiver(ctx, step, cluster, r.servers, obs, matrix) };
  await perform(ctx, step, target);
  standing.accepted = true;
  await ctx.emit({ type: "step.accepted", step: step.id });
}

/** Calls the driver; an error or a refusal escalates. */
async function perform(ctx: EngineContext, step: Step, target: { cluster: Cluster; server: Server }) {
  const { cluster } = target;
  const args: ActionArgs = {
    ...(step.action === "install" ? { release: ctx.target(step) } : {}),
    ...(step.action === "set-mode" && step.mode ? { mode: step.mode } : {}),
    ...(step.rollback ? { rollback: true } : {}),
    ...(step.joins ? { joins: step.joins } : {}),
    ...(step.supercluster ? { supercluster: step.supercluster } : {}),
    ...(step.territories ? { territories: step.territories } : {}),
    ...(step.unassigned?.length ? { unassigned: step.unassigned } : {}),
    ...(step.server && target.server.name !== step.server ? { server: step.server } : {}),
  };
  let outcome: Awaited<ReturnType<Driver["perform"]>>;
  // the last moment before the action leaves: this engine must still hold the lease, by its own
  // deadline too (a leader paused past its lease, then continued, stops here: docs/ha.md)
  await ctx.assureLease();
  try {
    outcome = await ctx.o.driverFor(cluster).perform(target, step.action, args);
  } catch (e) {
    throw halt(
      step,
      "G5",
      `${target.server.name} did not answer ${step.action}: ${(e as Error).message}`,
      target.server.name,
    );
  }
  if (!outcome.ok) {
    const rule = outcome.rule ?? ruleOfAction(step, cluster);
    throw halt(
      step,
      rule,
      `${target.server.name} refused ${step.action}: ${outcome.message ?? outcome.code ?? "no reason given"}`,
      target.server.name,
    );
  }
}

/** Waits for the step's effect, within k × the estimate (D8a); a failed install or a lost join escalates. */
async function waitForEffect(ctx: EngineContext, r: StepRun): Promise<void> {
  const { step, cluster } = r;
  // The allowance counts from the moment the server has the action (accepted, or found under
  // way), not from the engine's own observations before it.
  const waitingSince = ctx.o.now();
  const { deadline, pollMs } = waitBounds(ctx, step, waitingSince);
  for (;;) {
    ctx.checkLease();
    await look(ctx, r);
    if (effectPresent(effectContext(r), ctx.target(step))) return;
    await watchMatrix(ctx, step, cluster);
    if (step.action === "install") {
      const h = installFailure(ctx, step, cluster, r.obs, "while-waiting");
      if (h) throw h;
    }
    if (ctx.o.now() > deadline) {
      const lost = joinProblems(effectContext(r));
      if (lost.length)
        throw halt(
          step,
          lost[0]!.rule,
          `${lost.map((p) => p.detail).join("; ")}, ${secondsSince(ctx, waitingSince)}s after the join was sent`,
        );
      throw timeoutHalt(ctx, step, cluster, r.obs, waitingSince);
    }
    await sleep(pollMs);
  }
}

async function finish(ctx: EngineContext, step: Step, observed: boolean, startedAt: number): Promise<void> {
  ctx.markDone(step.id);
  ctx.o.gate?.finished(step);
  ctx.note({
    type: "step.done",
    step: step.id,
    observed,
    seconds: secondsSince(ctx, startedAt),
  });
}
