import type { Plan } from "../../plan/types.ts";
import { type Command, Option } from "commander";
import { STRATEGIES, type StrategyChoice } from "../../model/step.ts";
import { action, type CliContext, parsePort, parsePositiveNumber, usageError } from "../main.ts";
import { RUN_DEFAULTS } from "../../run/options.ts";
import { refuseStoreUrl } from "../../store/location.ts";
import { type LogOpts, startLogging } from "../log-options.ts";
import { refuseTokenFile } from "../dashboard-link.ts";
import { LiveView } from "../views/live-view.ts";
import { prepareRunView } from "../views/run-view.ts";
import { terminalAsk } from "./apply-ask.ts";
import { DashboardBeside } from "./apply-dashboard.ts";
import { planBrief, reportResult, resumeCommandFor } from "./apply-summary.ts";
import { type NotifyOpts, notifyOptions, startNotifier } from "./apply-notify.ts";

export { reportResult, resumeCommandFor } from "./apply-summary.ts";

/**
 * `rollgate apply` and `rollgate resume`. Their parts: views/live-view.ts (the run's live view),
 * apply-ask.ts (the confirm question), apply-dashboard.ts (--dashboard), apply-summary.ts (the plan
 * in a line, the end of a run). The engine, the planner and the store are loaded with import()
 * when a run starts, not to register commands.
 */

interface ApplyOpts {
  to?: string[];
  strategy: StrategyChoice;
  state?: string;
  yes?: boolean;
  confirmFinalize?: boolean;
  json?: boolean;
  escalateAfter?: number;
  dashboard?: number | true;
  dashboardTokenFile?: string;
  correctOutOfOrder?: boolean;
  limit?: string[];
  /** `--rollback`: go back to the old release instead of upgrading (plan/rollback.ts). */
  rollback?: boolean;
  /** `--cluster`, with --rollback: the matrices to roll back. */
  cluster?: string[];
}

interface ResumeOpts {
  state?: string;
  run?: string;
  confirmFinalize?: boolean;
  json?: boolean;
  escalateAfter?: number;
  correctOutOfOrder?: boolean;
  limit?: string[];
}

const limitOption = (cmd: Command, what: string): Command =>
  cmd.option("--limit <name>", what, (v: string, prev: string[] = []) => [...prev, v]);

export function registerApply(program: Command, ctx: CliContext): void {
  applyOptions(
    program
      .command("apply")
      .description(
        "show the plan, ask, then execute it durably (running it again resumes the unfinished run)",
      )
      .argument("<fleet>", "the fleet file"),
  ).action(action(ctx, (fleetFile: string, opts: ApplyOpts) => runApply(ctx, fleetFile, opts)));

  resumeOptions(
    program
      .command("resume")
      .description(
        "continue an unfinished run (after an escalation, a pause, a crash or a halt for confirmation)",
      )
      .argument("[fleet]", "the fleet file; the state is .rollgate/state.db beside it"),
  ).action(action(ctx, (fleet: string | undefined, opts: ResumeOpts) => runResume(ctx, fleet, opts)));

  program
    .command("engine")
    .description(
      "run as a standby engine for a run kept in PostgreSQL: wait while another engine holds its lease, take over when it runs out (docs/ha.md)",
    )
    .option("--state <url>", "the PostgreSQL store (postgres://…; default: ROLLGATE_STATE)")
    .option("--run <id>", "a run id (default: the store's one unfinished run)")
    .option("--fleet <file>", "the fleet file on this host (default: the path the run was started from)")
    .option("--confirm-finalize", "confirm the points of no return (G4)")
    .option(
      "--escalate-after <k>",
      "escalate past k × a step's estimate (D8a)",
      parsePositiveNumber,
      RUN_DEFAULTS.escalateFactor,
    )
    .option(
      "--correct-out-of-order",
      "apply the manual's M3 correction to a matrix server upgraded out of order, instead of escalating",
    )
    .option("--json", "stream events as JSON lines on stdout")
    .action(action(ctx, (opts: EngineOpts) => runEngine(ctx, opts)));
}

interface EngineOpts {
  state?: string;
  run?: string;
  fleet?: string;
  confirmFinalize?: boolean;
  json?: boolean;
  escalateAfter?: number;
  correctOutOfOrder?: boolean;
}

/**
 * `rollgate engine`: a standby for a run in PostgreSQL. It is `resume` that waits for the run's
 * lease instead of handing the word to the live engine: once the leader's lease runs out it takes
 * it (the epoch one higher), reads the journal, observes every server (G5) and only then acts.
 */
async function runEngine(ctx: CliContext, opts: EngineOpts): Promise<number> {
  const state = opts.state ?? process.env.ROLLGATE_STATE;
  if (state !== undefined) refuseStoreUrl(state);
  const { isPostgresUrl } = await import("../../store/location.ts");
  if (!state || !isPostgresUrl(state))
    throw usageError(
      "rollgate engine: --state postgres://… (or ROLLGATE_STATE) is required: a standby shares its run with the leader through PostgreSQL",
    );
  await prepareRunView(ctx.output);
  const { resume } = await import("../../run/apply.ts");
  const { openExistingStore, pickRun } = await import("../../run/locate.ts");
  const store = openExistingStore(state);
  let runId: string;
  try {
    runId = opts.run ?? (await pickRun(store, { unfinishedOnly: true })).id;
  } finally {
    await store.close();
  }
  const live = new LiveView(ctx, Boolean(opts.json), undefined);
  const resumeCommand = resumeCommandFor(undefined, state, runId);
  const result = await resume({
    statePath: state,
    runId,
    standby: true,
    ...(opts.fleet ? { fleetFile: opts.fleet } : {}),
    confirmFinalize: Boolean(opts.confirmFinalize),
    escalateFactor: opts.escalateAfter ?? RUN_DEFAULTS.escalateFactor,
    ...(opts.correctOutOfOrder ? { correctOutOfOrder: true } : {}),
    onStandby: (message) => ctx.output.err(message),
    onPlan: (plan, info) => {
      if (!opts.json) ctx.output.err(planBrief(plan, true, info.runId));
      live.setPlan(plan, info.done);
    },
    onEvent: (e) => live.onEvent(e),
    onInterrupt: (i) => live.interrupted(i, resumeCommand),
  });
  await live.suspend();
  return reportResult(ctx, result, Boolean(opts.json), resumeCommand);
}

function applyOptions(cmd: Command): Command {
  return notifyOptions(
    limitOption(
      cmd,
      "touch only this cluster, supercluster or pack (matrix, dma, generic); repeatable, the union",
    )
      .option(
        "--rollback",
        "roll back instead: the upgraded servers of a matrix part way through its upgrade return to the old release (before the point of no return, M4)",
      )
      .option(
        "--cluster <name>",
        "with --rollback: the matrix to roll back (repeatable; default every matrix running two releases)",
        (v: string, prev: string[] = []) => [...prev, v],
      )
      .option(
        "--to <version>",
        "target release; repeat as CLUSTER=V, SUPERCLUSTER=V or PACK=V for a mixed fleet",
        (v: string, prev: string[] = []) => [...prev, v],
      )
      .addOption(
        new Option("--strategy <name>", "upgrade strategy").choices(["auto", ...STRATEGIES]).default("auto"),
      )
      .option("--state <path>", "the state file (default: .rollgate/state.db beside the fleet file)")
      .option("-y, --yes", "apply without asking")
      .option("--confirm-finalize", "confirm the points of no return (G4) in advance")
      .option(
        "--escalate-after <k>",
        "escalate past k × a step's estimate (D8a)",
        parsePositiveNumber,
        RUN_DEFAULTS.escalateFactor,
      )
      .option(
        "--correct-out-of-order",
        "apply the manual's M3 correction to a matrix server upgraded out of order, instead of escalating",
      )
      .option("--json", "stream events as JSON lines on stdout")
      .option(
        "--dashboard [port]",
        "serve the dashboard beside the run (default port 7450); points of no return wait for a confirmation there",
        parsePort,
      )
      .option(
        "--dashboard-token-file <path>",
        "write the dashboard's link with its token to this file (mode 0600, removed at the end) instead of printing it",
      ),
  );
}

function resumeOptions(cmd: Command): Command {
  return notifyOptions(
    limitOption(cmd, "the run's own --limit (it is kept without this; another one is refused)")
      .option("--state <path>", "the state file")
      .option("--run <id>", "a run id (default: the fleet's one unfinished run)")
      .option("--confirm-finalize", "confirm the points of no return (G4)")
      .option(
        "--escalate-after <k>",
        "escalate past k × a step's estimate (D8a)",
        parsePositiveNumber,
        RUN_DEFAULTS.escalateFactor,
      )
      .option(
        "--correct-out-of-order",
        "apply the manual's M3 correction to a matrix server upgraded out of order, instead of escalating",
      )
      .option("--json", "stream events as JSON lines on stdout"),
  );
}

export async function runApply(
  ctx: CliContext,
  fleetFile: string,
  opts: ApplyOpts & LogOpts & NotifyOpts,
): Promise<number> {
  const eventLog = await startLogging(ctx, opts, "apply");
  const notifier = startNotifier(ctx, opts);
  // a --state URL of an unknown kind is refused before the fleet is read or its servers observed
  if (opts.state !== undefined) refuseStoreUrl(opts.state);
  refuseTokenFile(opts.dashboardTokenFile);
  await prepareRunView(ctx.output);
  // the engine, the planner and the store: loaded when a run starts, not to register commands
  const { apply } = await import("../../run/apply.ts");
  const { requireDriverCommands } = await import("../../plan/driver-commands.ts");
  const { planRollback, planUpgrade } = await import("../../plan/planner.ts");
  const { openExistingStore } = await import("../../run/locate.ts");
  const live = new LiveView(ctx, Boolean(opts.json), eventLog);
  const ask = terminalAsk(ctx, live);
  const resumeCommand = resumeCommandFor(fleetFile, opts.state);
  const dashboard =
    opts.dashboard !== undefined
      ? new DashboardBeside(
          ctx,
          {
            port: opts.dashboard,
            fleetFile,
            ...(opts.dashboardTokenFile ? { tokenFile: opts.dashboardTokenFile } : {}),
          },
          openExistingStore,
        )
      : undefined;
  try {
    refuseRollbackMix(opts);
    // D9: a DMA cluster named for a rollback says itself what it returns to (read-only, before the plan)
    // a rollback run cut short is gone on with, not planned again (another unfinished run: refused)
    const going = opts.rollback ? await rollbackUnderWay(fleetFile, opts.state) : undefined;
    const dmaRollbackTo =
      opts.rollback && !going && opts.cluster?.length
        ? await dmaRollbackFor(fleetFile, opts.cluster)
        : undefined;
    if (!opts.rollback && !opts.to?.length)
      throw usageError("rollgate apply: --to VERSION is required (e.g. --to 3.5.1)");
    const result = await apply({
      fleetFile,
      targets: opts.to ?? [],
      strategy: opts.strategy,
      ...(opts.state ? { statePath: opts.state } : {}),
      yes: Boolean(opts.yes),
      confirmFinalize: Boolean(opts.confirmFinalize),
      escalateFactor: opts.escalateAfter ?? RUN_DEFAULTS.escalateFactor,
      ...(opts.correctOutOfOrder ? { correctOutOfOrder: true } : {}),
      limit: opts.limit ?? [],
      planner: (fleet, to, strategy) => {
        const plan = going
          ? going
          : opts.rollback
            ? planRollback(fleet, {
                ...(opts.cluster ? { clusters: opts.cluster } : {}),
                ...(dmaRollbackTo ? { dmaRollbackTo } : {}),
              })
            : planUpgrade(fleet, { to, strategy, ...(opts.limit ? { limit: opts.limit } : {}) });
        requireDriverCommands(fleet, plan); // before any server is observed or stopped
        return plan;
      },
      ...(ask ? { ask } : {}),
      onPlan: (plan, info) => {
        if (!opts.json) ctx.output.err(planBrief(plan, info.resumed, info.runId));
        live.setPlan(plan, info.done);
      },
      onEvent: (e) => {
        live.onEvent(e);
        notifier.onEvent(e);
      },
      onFleet: notifier.onFleet,
      onJournalAside: notifier.onJournalAside,
      onInterrupt: (i) => live.interrupted(i, resumeCommand, () => dashboard?.revokeNow()),
      onStandby: (message) => ctx.output.err(message),
      ...(dashboard ? { waitForConfirmation: true, onStore: dashboard.onStore } : {}),
    });
    await live.suspend();
    await notifier.finish(result);
    const code = reportResult(ctx, result, Boolean(opts.json), resumeCommand, fleetFile);
    await dashboard?.linger();
    return code;
  } catch (e) {
    await live.suspend();
    await notifier.finish(undefined);
    await dashboard?.close();
    throw e;
  } finally {
    await dashboard?.close();
    dashboard?.forget();
  }
}

/** --rollback plans its own targets: no --to, --strategy or --limit beside it; --cluster only with it. */
function refuseRollbackMix(opts: ApplyOpts): void {
  if (!opts.rollback) {
    if (opts.cluster?.length)
      throw usageError(
        "rollgate apply: --cluster names the matrices of a --rollback; to upgrade a subset, use --limit",
      );
    return;
  }
  if (opts.to?.length)
    throw usageError(
      "rollgate apply --rollback: the old release is the target, from the fleet file; drop --to",
    );
  if (opts.limit?.length)
    throw usageError("rollgate apply --rollback: name the matrices with --cluster, not --limit");
  if (opts.strategy !== "auto")
    throw usageError(
      "rollgate apply --rollback: a rollback is rolling, lowest address first; drop --strategy",
    );
}

async function runResume(
  ctx: CliContext,
  fleet: string | undefined,
  opts: ResumeOpts & LogOpts & NotifyOpts,
): Promise<number> {
  const eventLog = await startLogging(ctx, opts, "resume");
  const notifier = startNotifier(ctx, opts);
  await prepareRunView(ctx.output);
  const { refuseOtherLimit, resume } = await import("../../run/apply.ts");
  const { confirmRun, resumeLiveRun } = await import("../../run/control.ts");
  const { locatedNote, locateRun, openExistingStore } = await import("../../run/locate.ts");
  // The fleet's own run (in its state or its lab's, run/locate.ts), never another fleet's.
  const located = await locateRun({ ...opts, ...(fleet ? { fleet } : {}), unfinishedOnly: true });
  const { statePath } = located;
  const note = locatedNote(located);
  if (note && !opts.json) ctx.output.err(note);
  const store = openExistingStore(statePath);
  try {
    const run = (await store.getRun(located.run.id)) ?? located.run;
    // a run keeps its --limit, also when a live engine is handed the word
    refuseOtherLimit(run.id, await store.getPlan(run.id), opts.limit);
    // An engine is alive (paused, or waiting for a confirmation): hand it the word.
    // Otherwise nothing is written here: resume() checks its input first.
    if (await store.engineHolder(run.fleet)) {
      if (opts.confirmFinalize) await confirmRun(store, run, "--confirm-finalize");
      const handed = await resumeLiveRun(store, run, "an operator (rollgate resume)");
      if (handed) {
        if (opts.json) ctx.output.json({ ok: true, ...handed });
        else ctx.output.out(handed.message);
        return 0;
      }
    }
  } finally {
    await store.close();
  }
  const live = new LiveView(ctx, Boolean(opts.json), eventLog);
  const ask = terminalAsk(ctx, live);
  const resumeCommand = resumeCommandFor(fleet, opts.state, opts.run);
  const result = await resume({
    statePath,
    runId: located.run.id,
    ...(located.fleetFile ? { fleetFile: located.fleetFile } : {}),
    confirmFinalize: Boolean(opts.confirmFinalize),
    escalateFactor: opts.escalateAfter ?? RUN_DEFAULTS.escalateFactor,
    ...(opts.correctOutOfOrder ? { correctOutOfOrder: true } : {}),
    ...(opts.limit ? { limit: opts.limit } : {}),
    ...(ask ? { ask } : {}),
    onPlan: (plan, info) => {
      if (!opts.json) ctx.output.err(planBrief(plan, true, info.runId));
      live.setPlan(plan, info.done);
    },
    onEvent: (e) => {
      live.onEvent(e);
      notifier.onEvent(e);
    },
    onFleet: notifier.onFleet,
    onJournalAside: notifier.onJournalAside,
    onInterrupt: (i) => live.interrupted(i, resumeCommand),
    onStandby: (message) => ctx.output.err(message),
  }).catch(async (e) => {
    await notifier.finish(undefined);
    throw e;
  });
  await notifier.finish(result);
  await live.suspend();
  return reportResult(ctx, result, Boolean(opts.json), resumeCommand, located.fleetFile ?? fleet);
}

/** `rollbackTo` of the DMA clusters named (plan/rollback.ts); none named, none read. */
async function dmaRollbackFor(
  fleetFile: string,
  clusters: readonly string[],
): Promise<Map<string, string | null>> {
  const { loadFleetFile } = await import("../../io/fleet-loader.ts");
  const { dmaRollbackTargets } = await import("../../run/rollback-targets.ts");
  return dmaRollbackTargets(loadFleetFile(fleetFile), clusters);
}

/** A rollback run of this fleet cut short: its plan, to go on with (an unfinished run of another kind is refused). */
async function rollbackUnderWay(fleetFile: string, state: string | undefined): Promise<Plan | undefined> {
  const { loadFleetFile } = await import("../../io/fleet-loader.ts");
  const { unfinishedRollbackPlan } = await import("../../run/rollback-targets.ts");
  return unfinishedRollbackPlan(fleetFile, loadFleetFile(fleetFile), state);
}
