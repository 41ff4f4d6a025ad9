import { shellWord } from "../../model/shell.ts";
import { createInterface } from "node:readline/promises";
import { type Command, Option } from "commander";
import { formatDuration } from "../../model/duration.ts";
import { STRATEGIES, type StrategyChoice } from "../../model/step.ts";
import type { Plan } from "../../plan/types.ts";
import type { DriveResult, Interrupt } from "../../run/apply.ts";
import { action, type CliContext, parsePort, parsePositiveNumber, usageError } from "../main.ts";
import { painter, terminalText } from "../output.ts";
import type { RunEvent } from "../../events/types.ts";
import { DASHBOARD_TOKEN_TTL_SECONDS } from "../../server/defaults.ts";
import { announceDashboard } from "../dashboard-link.ts";
import { createRunView, prepareRunView, type RunView } from "../views/run-view.ts";

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
}

/**
 * The live view of a run, created on the first event (after the plan was shown and accepted) and
 * closed around every question, so that a prompt is never drawn over by the task tree.
 */
class LiveView {
  private view: RunView | undefined;
  private plan: Plan | undefined;
  private readonly done = new Set<string>();
  /** A question is open: events are followed but nothing is drawn over the prompt. */
  private asking = false;
  /** After a Ctrl-C the run's end is told in plain lines: a task tree would redraw over the message. */
  private plain = false;
  constructor(
    private readonly ctx: CliContext,
    private readonly json: boolean,
  ) {}
  /** Steps begun (their step.started seen): a Ctrl-C once every step is begun pauses nothing. */
  private readonly started = new Set<string>();
  /** The escalations already shown (rule and detail). */
  private readonly escalations = new Set<string>();
  /**
   * An escalation is told once while the run goes, and in full (with what it leaves out of
   * service) once at the end (reportResult): the engine emits it again with the clusters left
   * out of service when it ends, and its run.state line repeats its detail.
   */
  private toldOnce(e: RunEvent): RunEvent | undefined {
    if (e.type === "escalation") {
      const key = `${e.escalation.rule}\n${e.escalation.detail}`;
      if (this.escalations.has(key)) return undefined;
      this.escalations.add(key);
      return e;
    }
    if (e.type === "run.state" && e.state === "escalated") {
      const { reason: _said, ...bare } = e;
      return bare;
    }
    return e;
  }
  setPlan(plan: Plan, done: Iterable<string> = []): void {
    this.plan = plan;
    for (const id of done) this.done.add(id);
  }
  onEvent(e: RunEvent): void {
    if (!this.plan) return;
    if (e.type === "step.done") this.done.add(e.step);
    if (e.type === "step.started") this.started.add(e.step);
    if (!this.json) {
      const told = this.toldOnce(e);
      if (!told) return;
      e = told;
    }
    if (this.asking && !this.json) return;
    this.view ??= createRunView(this.ctx.output, this.plan, {
      json: this.json,
      done: this.done,
      plain: this.plain,
    });
    this.view.onEvent(e);
  }
  async suspend(): Promise<void> {
    // forgotten before it is closed: an event that comes while listr2 finishes the tree must not
    // reach the closed tree (setting a finished task's output threw ROLLGATE_E_INTERNAL)
    const view = this.view;
    this.view = undefined;
    await view?.close();
  }
  /**
   * A SIGINT or SIGTERM reached the engine (src/run/apply.ts has paused the run already). The
   * first: the task tree is closed (listr2 holds back what is written to the terminal while it
   * draws) and what happens is said at once. The second: the process ends now; the run stays
   * paused in the state file, and resume observes the steps that were under way (as after a crash).
   */
  interrupted(i: Interrupt, resumeCommand: string, beforeExit: () => void = () => {}): void {
    const paint = painter(this.ctx.output.color);
    const key = i.signal === "SIGINT" ? "Ctrl-C" : i.signal;
    if (i.count > 1) {
      this.ctx.output.err(
        paint(
          "yellow",
          `${key} again: stopping now; run ${i.runId} stays resumable (steps under way are observed again): ${resumeCommand}`,
        ),
      );
      beforeExit();
      process.exit(1);
    }
    this.plain = true;
    // every step has begun (the last ones under way): nothing is left to hold back, the run
    // completes once they finish; "pausing … resume continues" would tell of a pause that never comes
    const allBegun = this.plan?.steps.every((s) => this.done.has(s.id) || this.started.has(s.id));
    const what =
      i.state === "paused" && allBegun
        ? `every step of run ${i.runId} has begun: nothing is left to pause; the run is completing (the steps under way finish)`
        : i.state === "paused"
          ? `pausing run ${i.runId}: running steps finish, no new step starts; \`${resumeCommand}\` continues`
          : `run ${i.runId} is ${i.state}: running steps finish, no new step starts, then the engine exits`;
    const say = () =>
      this.ctx.output.err(
        paint("yellow", `${key}: ${what}; ${key} again to stop now, the run stays resumable`),
      );
    if (this.view) void this.suspend().then(say, say);
    else say();
  }
  /** Runs a question with the view closed; the view comes back with the next event. */
  async around<T>(question: () => Promise<T>): Promise<T> {
    this.asking = true;
    try {
      await this.suspend();
      return await question();
    } finally {
      this.asking = false;
    }
  }
}

function terminalAsk(
  ctx: CliContext,
  live: LiveView,
): ((q: string, signal?: AbortSignal) => Promise<boolean>) | undefined {
  if (!process.stdin.isTTY || !process.stderr.isTTY) return undefined;
  // One question at a time: several points of no return may come up at once (a maintenance
  // window's leaves). Each waits for the one before it to be answered, and is asked on its own
  // (naming its step): a second readline on the same terminal would read the same keys, so one
  // "y" answered questions that were never shown.
  let queue: Promise<unknown> = Promise.resolve();
  return (question, signal) => {
    const asked = queue.then(() => askOne(ctx, live, question, signal));
    queue = asked.catch(() => undefined);
    return asked;
  };
}

function askOne(ctx: CliContext, live: LiveView, question: string, signal?: AbortSignal): Promise<boolean> {
  // withdrawn while it waited its turn (the engine ended): never shown, never answered
  if (signal?.aborted) return Promise.reject(signal.reason ?? new DOMException("withdrawn", "AbortError"));
  return live.around(async () => {
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    try {
      const answer = await rl.question(
        terminalText(`${painter(ctx.output.color)("bold", question)} [y/N] `),
        signal ? { signal } : {},
      );
      return /^y(es)?$/i.test(answer.trim());
    } catch (e) {
      // withdrawn while shown (a signal, the engine's end, a "no" to another question): what
      // comes next starts on a line of its own, not after the prompt
      if (signal?.aborted) process.stderr.write("\n");
      throw e;
    } finally {
      rl.close();
    }
  });
}

function planBrief(plan: Plan, resumed: boolean, runId?: string): string {
  const pnr = plan.steps.filter((s) => s.pointOfNoReturn).length;
  return `${resumed ? `resuming run ${runId}: ` : ""}plan ${plan.strategy} → ${plan.target}: ${plan.steps.length} steps, ~${formatDuration(plan.estimate.seconds)} (lower bound ${formatDuration(plan.estimate.lowerBoundSeconds)}), min capacity ${Math.round(plan.estimate.minCapacity * 100)}%, ${pnr} point(s) of no return, verified (${plan.verification.statesChecked} states)${(plan.findings ?? []).map((f) => `\nfound: ${f}`).join("")}`;
}

/** How an operator continues the run (the fleet file or --state as given on this command line). */
export function resumeCommandFor(fleet: string | undefined, state?: string, run?: string): string {
  return ["rollgate resume", fleet, state ? `--state ${state}` : undefined, run ? `--run ${run}` : undefined]
    .filter(Boolean)
    .join(" ");
}

/** Prints the end of a run and returns the exit code: 0 completed, 1 halted. */
export function reportResult(
  ctx: CliContext,
  r: DriveResult,
  json: boolean,
  resumeCommand = "rollgate resume",
  /** The fleet file the run was started from: once done, what brings it up to date is named. */
  fleetFile?: string,
): number {
  const paint = painter(ctx.output.color);
  if (json) {
    ctx.output.json({
      ok: r.state === "completed",
      state: r.state,
      run: r.runId,
      ...(r.escalation ? { escalation: r.escalation } : {}),
      ...(r.needsConfirmation ? { needsConfirmation: r.needsConfirmation } : {}),
      ...(r.declined ? { declined: true } : {}),
    });
  }
  switch (r.state) {
    case "completed":
      if (!json)
        ctx.output.out(
          paint("green", `run ${r.runId} completed: every step done, fleet on ${r.plan.target}`),
        );
      // the file still says the releases (and superclusters) from before: the next plan starts from it
      if (!json && fleetFile)
        ctx.output.err(
          `the fleet file still describes the fleet before this run: \`rollgate fleet sync ${shellWord(fleetFile)} --write\` brings it up to date before the next upgrade`,
        );
      return 0;
    case "escalated": {
      const e = r.escalation!;
      ctx.output.err(
        paint("red", `run ${r.runId} ESCALATED [${e.rule ?? e.code}] ${e.detail} [ROLLGATE_E_ESCALATED]`),
      );
      if (e.manual) ctx.output.err(`  manual: "${e.manual}"`);
      for (const o of e.outOfService ?? [])
        ctx.output.err(paint("red", `  left out of service: ${o.cluster} [${o.rule ?? o.code}] ${o.reason}`));
      ctx.output.err(
        `  nothing more was started through the escalated cluster(s) nor after them; fix the cause, then: ${resumeCommand}`,
      );
      return 1;
    }
    case "awaiting-confirmation":
      if (r.declined) {
        ctx.output.err(
          paint(
            "yellow",
            `run ${r.runId} halted before ${r.needsConfirmation}: you answered no at its point of no return (G4); it was not started, and the run stays resumable [ROLLGATE_E_CONFIRM_REQUIRED]`,
          ),
        );
        ctx.output.err(
          `  continue with: ${resumeCommand} (asks again), or ${resumeCommand} --confirm-finalize`,
        );
        return 1;
      }
      ctx.output.err(
        paint(
          "yellow",
          `run ${r.runId} halted before ${r.needsConfirmation}: a point of no return (G4) needs confirmation [ROLLGATE_E_CONFIRM_REQUIRED]`,
        ),
      );
      ctx.output.err(`  continue with: ${resumeCommand} --confirm-finalize`);
      return 1;
    case "aborted":
      ctx.output.err(paint("yellow", `run ${r.runId} aborted [ROLLGATE_E_ABORTED]`));
      return 1;
    case "paused":
      ctx.output.err(
        paint(
          "yellow",
          `run ${r.runId} paused: running steps finished, no new step started; continue with: ${resumeCommand}`,
        ),
      );
      return 1;
    default:
      ctx.output.err(paint("yellow", `run ${r.runId} ${r.state}; continue with: ${resumeCommand}`));
      return 1;
  }
}

export function registerApply(program: Command, ctx: CliContext): void {
  program
    .command("apply")
    .description("show the plan, ask, then execute it durably (running it again resumes the unfinished run)")
    .argument("<fleet>", "the fleet file")
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
    .option("--escalate-after <k>", "escalate past k × a step's estimate (D8a)", parsePositiveNumber, 2)
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
    )
    .action(
      action(ctx, async (fleetFile: string, opts: ApplyOpts) => {
        await prepareRunView(ctx.output);
        // the engine, the planner and the store: loaded when a run starts, not to register commands
        const { apply } = await import("../../run/apply.ts");
        const { requireDriverCommands } = await import("../../plan/driver-commands.ts");
        const { planUpgrade } = await import("../../plan/planner.ts");
        const { openExistingStore } = await import("../../run/locate.ts");
        const live = new LiveView(ctx, Boolean(opts.json));
        const ask = terminalAsk(ctx, live);
        const resumeCommand = resumeCommandFor(fleetFile, opts.state);
        let dashboard:
          | Awaited<ReturnType<typeof import("../../server/dashboard.ts")["startDashboard"]>>
          | undefined;
        let forget = () => {};
        let revokeNow = () => {};
        try {
          if (!opts.to?.length)
            throw usageError("rollgate apply: --to VERSION is required (e.g. --to 3.5.1)");
          const result = await apply({
            fleetFile,
            targets: opts.to,
            strategy: opts.strategy,
            ...(opts.state ? { statePath: opts.state } : {}),
            yes: Boolean(opts.yes),
            confirmFinalize: Boolean(opts.confirmFinalize),
            escalateFactor: opts.escalateAfter ?? 2,
            ...(opts.correctOutOfOrder ? { correctOutOfOrder: true } : {}),
            planner: (fleet, to, strategy) => {
              const plan = planUpgrade(fleet, { to, strategy });
              requireDriverCommands(fleet, plan); // before any server is observed or stopped
              return plan;
            },
            ...(ask ? { ask } : {}),
            onPlan: (plan, info) => {
              if (!opts.json) ctx.output.err(planBrief(plan, info.resumed, info.runId));
              live.setPlan(plan, info.done);
            },
            onEvent: (e) => live.onEvent(e),
            onInterrupt: (i) => live.interrupted(i, resumeCommand, () => revokeNow()),
            ...(opts.dashboard !== undefined
              ? {
                  waitForConfirmation: true,
                  onStore: async (store, run) => {
                    dashboard = await (await import("../../server/dashboard.ts")).startDashboard(store, {
                      port: opts.dashboard!,
                      fleetFile,
                      runId: run.id,
                    });
                    forget = announceDashboard(ctx, dashboard, {
                      ...(opts.dashboardTokenFile ? { tokenFile: opts.dashboardTokenFile } : {}),
                      statePath: store.location,
                      ttlSeconds: DASHBOARD_TOKEN_TTL_SECONDS,
                    });
                    // a second Ctrl-C exits at once: the token still goes with the command
                    const tokenId = dashboard.tokenId;
                    revokeNow = () => {
                      forget();
                      try {
                        const s = openExistingStore(store.location);
                        try {
                          s.revokeToken(tokenId);
                        } finally {
                          s.close();
                        }
                      } catch {
                        // best effort on the way out: a state file gone or unusable took the token with it
                      }
                    };
                  },
                }
              : {}),
          });
          await live.suspend();
          const code = reportResult(ctx, result, Boolean(opts.json), resumeCommand, fleetFile);
          if (dashboard)
            await (await import("../../server/dashboard.ts")).lingerThenClose(
              dashboard,
              Boolean(process.stdin.isTTY),
              ctx.output.err,
            );
          return code;
        } catch (e) {
          await live.suspend();
          await dashboard?.close();
          throw e;
        } finally {
          await dashboard?.close();
          forget();
        }
      }),
    );

  program
    .command("resume")
    .description(
      "continue an unfinished run (after an escalation, a pause, a crash or a halt for confirmation)",
    )
    .argument("[fleet]", "the fleet file; the state is .rollgate/state.db beside it")
    .option("--state <path>", "the state file")
    .option("--run <id>", "a run id (default: the fleet's one unfinished run)")
    .option("--confirm-finalize", "confirm the points of no return (G4)")
    .option("--escalate-after <k>", "escalate past k × a step's estimate (D8a)", parsePositiveNumber, 2)
    .option(
      "--correct-out-of-order",
      "apply the manual's M3 correction to a matrix server upgraded out of order, instead of escalating",
    )
    .option("--json", "stream events as JSON lines on stdout")
    .action(
      action(
        ctx,
        async (
          fleet: string | undefined,
          opts: {
            state?: string;
            run?: string;
            confirmFinalize?: boolean;
            json?: boolean;
            escalateAfter?: number;
            correctOutOfOrder?: boolean;
          },
        ) => {
          await prepareRunView(ctx.output);
          const { resume } = await import("../../run/apply.ts");
          const { confirmRun, resumeLiveRun } = await import("../../run/control.ts");
          const { locatedNote, locateRun, openExistingStore } = await import("../../run/locate.ts");
          // The fleet's own run (in its state or its lab's, run/locate.ts), never another fleet's.
          const located = await locateRun({ ...opts, ...(fleet ? { fleet } : {}), unfinishedOnly: true });
          const { statePath } = located;
          const note = locatedNote(located);
          if (note && !opts.json) ctx.output.err(note);
          const store = openExistingStore(statePath);
          try {
            const run = await store.getRun(located.run.id) ?? located.run;
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
          const live = new LiveView(ctx, Boolean(opts.json));
          const ask = terminalAsk(ctx, live);
          const resumeCommand = resumeCommandFor(fleet, opts.state, opts.run);
          const result = await resume({
            statePath,
            runId: located.run.id,
            ...(located.fleetFile ? { fleetFile: located.fleetFile } : {}),
            confirmFinalize: Boolean(opts.confirmFinalize),
            escalateFactor: opts.escalateAfter ?? 2,
            ...(opts.correctOutOfOrder ? { correctOutOfOrder: true } : {}),
            ...(ask ? { ask } : {}),
            onPlan: (plan, info) => {
              if (!opts.json) ctx.output.err(planBrief(plan, true, info.runId));
              live.setPlan(plan, info.done);
            },
            onEvent: (e) => live.onEvent(e),
            onInterrupt: (i) => live.interrupted(i, resumeCommand),
          });
          await live.suspend();
          return reportResult(ctx, result, Boolean(opts.json), resumeCommand, located.fleetFile ?? fleet);
        },
      ),
    );
}
