import { createInterface } from "node:readline/promises";
import { type Command, Option } from "commander";
import { formatDuration } from "../../model/duration.ts";

import { requireDriverCommands } from "../../plan/driver-commands.ts";
import { planUpgrade } from "../../plan/planner.ts";
import { STRATEGIES, type Plan, type StrategyChoice } from "../../plan/types.ts";
import { apply, type DriveResult, resume } from "../../run/apply.ts";
import { confirmRun, resumeLiveRun } from "../../run/control.ts";
import { openExistingStore, pickRun, statePathFrom } from "../../run/locate.ts";
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
  constructor(
    private readonly ctx: CliContext,
    private readonly json: boolean,
  ) {}
  setPlan(plan: Plan, done: Iterable<string> = []): void {
    this.plan = plan;
    for (const id of done) this.done.add(id);
  }
  onEvent(e: RunEvent): void {
    if (!this.plan) return;
    if (e.type === "step.done") this.done.add(e.step);
    if (this.asking && !this.json) return;
    this.view ??= createRunView(this.ctx.output, this.plan, { json: this.json, done: this.done });
    this.view.onEvent(e);
  }
  async suspend(): Promise<void> {
    await this.view?.close();
    this.view = undefined;
  }
  /** Runs a question with the view closed; the view comes back with the next event. */
  async around<T>(question: () => Promise<T>): Promise<T> {
    await this.suspend();
    this.asking = true;
    try {
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
  return (question, signal) =>
    live.around(async () => {
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      try {
        const answer = await rl.question(
          terminalText(`${painter(ctx.output.color)("bold", question)} [y/N] `),
          signal ? { signal } : {},
        );
        return /^y(es)?$/i.test(answer.trim());
      } finally {
        rl.close();
      }
    });
}

function planBrief(plan: Plan, resumed: boolean, runId?: string): string {
  const pnr = plan.steps.filter((s) => s.pointOfNoReturn).length;
  return `${resumed ? `resuming run ${runId}: ` : ""}plan ${plan.strategy} → ${plan.target}: ${plan.steps.length} steps, ~${formatDuration(plan.estimate.seconds)} (lower bound ${formatDuration(plan.estimate.lowerBoundSeconds)}), min capacity ${Math.round(plan.estimate.minCapacity * 100)}%, ${pnr} point(s) of no return, verified (${plan.verification.statesChecked} states)`;
}

/** Prints the end of a run and returns the exit code: 0 completed, 1 halted. */
export function reportResult(ctx: CliContext, r: DriveResult, json: boolean): number {
  const paint = painter(ctx.output.color);
  if (json) {
    ctx.output.json({
      ok: r.state === "completed",
      state: r.state,
      run: r.runId,
      ...(r.escalation ? { escalation: r.escalation } : {}),
      ...(r.needsConfirmation ? { needsConfirmation: r.needsConfirmation } : {}),
    });
  }
  switch (r.state) {
    case "completed":
      if (!json)
        ctx.output.out(
          paint("green", `run ${r.runId} completed: every step done, fleet on ${r.plan.target}`),
        );
      return 0;
    case "escalated": {
      const e = r.escalation!;
      ctx.output.err(paint("red", `run ${r.runId} ESCALATED [${e.rule}] ${e.detail} [ROLLGATE_E_ESCALATED]`));
      if (e.manual) ctx.output.err(`  manual: "${e.manual}"`);
      for (const o of e.outOfService ?? [])
        ctx.output.err(paint("red", `  left out of service: ${o.cluster} [${o.rule}] ${o.reason}`));
      ctx.output.err(
        "  nothing more was started through the escalated cluster(s) nor after them; fix the cause, then: rollgate resume",
      );
      return 1;
    }
    case "awaiting-confirmation":
      ctx.output.err(
        paint(
          "yellow",
          `run ${r.runId} halted before ${r.needsConfirmation}: a point of no return (G4) needs confirmation [ROLLGATE_E_CONFIRM_REQUIRED]`,
        ),
      );
      ctx.output.err("  continue with: rollgate resume --confirm-finalize");
      return 1;
    case "aborted":
      ctx.output.err(paint("yellow", `run ${r.runId} aborted [ROLLGATE_E_ABORTED]`));
      return 1;
    default:
      ctx.output.err(paint("yellow", `run ${r.runId} ${r.state}; continue with: rollgate resume`));
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
        const live = new LiveView(ctx, Boolean(opts.json));
        const ask = terminalAsk(ctx, live);
        let dashboard:
          | Awaited<ReturnType<typeof import("../../server/dashboard.ts")["startDashboard"]>>
          | undefined;
        let forget = () => {};
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
            ...(opts.dashboard !== undefined
              ? {
                  waitForConfirmation: true,
                  onStore: async (store) => {
                    dashboard = await (await import("../../server/dashboard.ts")).startDashboard(store, {
                      port: opts.dashboard!,
                      fleetFile,
                    });
                    forget = announceDashboard(ctx, dashboard, {
                      ...(opts.dashboardTokenFile ? { tokenFile: opts.dashboardTokenFile } : {}),
                      statePath: store.path,
                      ttlSeconds: DASHBOARD_TOKEN_TTL_SECONDS,
                    });
                  },
                }
              : {}),
          });
          await live.suspend();
          const code = reportResult(ctx, result, Boolean(opts.json));
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
    .option("--run <id>", "a run id (default: the newest unfinished run)")
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
          const statePath = statePathFrom({ ...opts, ...(fleet ? { fleet } : {}) });
          const store = openExistingStore(statePath);
          try {
            const run = pickRun(store, { ...opts, unfinishedOnly: true });
            // An engine is alive (paused, or waiting for a confirmation): hand it the word.
            // Otherwise nothing is written here: resume() checks its input first.
            if (store.engineHolder(run.fleet)) {
              if (opts.confirmFinalize) confirmRun(store, run, "--confirm-finalize");
              const handed = resumeLiveRun(store, run, "an operator (rollgate resume)");
              if (handed) {
                if (opts.json) ctx.output.json({ ok: true, ...handed });
                else ctx.output.out(handed.message);
                return 0;
              }
            }
          } finally {
            store.close();
          }
          const live = new LiveView(ctx, Boolean(opts.json));
          const ask = terminalAsk(ctx, live);
          const result = await resume({
            statePath,
            ...(opts.run ? { runId: opts.run } : {}),
            ...(fleet ? { fleetFile: fleet } : {}),
            confirmFinalize: Boolean(opts.confirmFinalize),
            escalateFactor: opts.escalateAfter ?? 2,
            ...(opts.correctOutOfOrder ? { correctOutOfOrder: true } : {}),
            ...(ask ? { ask } : {}),
            onPlan: (plan, info) => {
              if (!opts.json) ctx.output.err(planBrief(plan, true, info.runId));
              live.setPlan(plan, info.done);
            },
            onEvent: (e) => live.onEvent(e),
          });
          await live.suspend();
          return reportResult(ctx, result, Boolean(opts.json));
        },
      ),
    );
}
