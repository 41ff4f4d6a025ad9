import type { Command } from "commander";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatDuration } from "../../model/duration.ts";
import type { Plan } from "../../plan/types.ts";
import type { DemoReport } from "../../run/demo.ts";
import { DEMO_SPEED } from "../../run/demo-speed.ts";
import { action, type CliContext, parsePort, parseSpeed } from "../main.ts";
import { painter } from "../output.ts";
import { DASHBOARD_TOKEN_TTL_SECONDS } from "../../server/defaults.ts";
import { announceDashboard, refuseTokenFile } from "../dashboard-link.ts";
import { type LogOpts, startLogging } from "../log-options.ts";
import { createRunView, prepareRunView, type RunView } from "../views/run-view.ts";

function renderReport(ctx: CliContext, r: DemoReport): void {
  const paint = painter(ctx.output.color);
  const pct = (x: number) => `${Math.round(x * 100)}%`;
  const lines = [
    "",
    paint("bold", `rollgate demo: ${r.fleet}, ${r.strategy} upgrade in the lab at ${r.speed}× speed`),
    `  duration            ${formatDuration(r.durationSeconds)}: the plan's ${formatDuration(r.planSeconds)} (simulated, ${r.simulatedWallSeconds}s at ${r.speed}×) + ${r.engineOverheadSeconds}s of engine overhead (${r.wallSeconds}s of wall time in all)`,
    `  plan                ${formatDuration(r.planSeconds)}, lower bound ${formatDuration(r.lowerBoundSeconds)} (${r.planOverBound.toFixed(2)}× the bound)`,
    `  maintenance window  ${r.maintenanceWindowSeconds === null ? "n/a" : `${formatDuration(r.maintenanceWindowSeconds)} with service fully down (D5)`}`,
    `  minimum capacity    ${pct(r.minCapacity)} (floor ${pct(r.capacityFloor)}: service never went below it)`,
    `  mixed-release       ${Object.entries(r.mixedWindows)
      .map(([k, v]) => `${k} ${formatDuration(v)}`)
      .join(
        ", ",
      )} (measured: wall time × speed, overhead included; the plan's longest ${formatDuration(r.planMixedWindowSeconds)})`,
    `  rules checked       ${r.rulesChecked.ruleIds.join(" ")}; ${r.rulesChecked.statesVerified} plan states verified`,
    `  lab violations      ${r.labViolations === 0 ? paint("green", "0") : paint("red", String(r.labViolations))}`,
    `  servers on target   ${r.serversOnTarget}/${r.servers}, each installed ${Object.values(r.installsPerServer).every((n) => n === 1) ? "exactly once" : JSON.stringify(r.installsPerServer)}`,
    ...(r.rollback
      ? [
          `  rollback (D9)       ${r.rollback.cluster}: the patch ${r.rollback.patch} ${r.rollback.patchState}${r.rollback.escalation ? ` [${r.rollback.escalation.rule}]` : ""}; rolled back (${r.rollback.rollbackState}) to ${r.rollback.release}, data store as before the patch: ${r.rollback.dataStoreRestored ? "yes" : "no"}, back in its supercluster: ${r.rollback.rejoined ? "yes" : "no"}, lab violations ${r.rollback.labViolations}`,
          `                      as an operator: ${r.rollback.command}`,
        ]
      : [
          paint(
            "dim",
            "  rollback            rollgate demo --rollback-demo then patches the DMA supercluster, one cluster comes back wrong (D8) and its last upgrade is rolled back (D9)",
          ),
        ]),
    r.ok ? paint("green", "  ok") : paint("red", `  NOT ok (run ${r.runState})`),
  ];
  for (const l of lines) ctx.output.out(l);
}

export function registerDemo(program: Command, ctx: CliContext): void {
  program
    .command("demo")
    .description(
      "upgrade a simulated fleet end to end: a DMA supercluster (incremental, under a capacity floor) and a matrix",
    )
    .option("--speed <n>", "lab time compression (a 15m install takes 15m/N)", parseSpeed, DEMO_SPEED)
    .option("--json", "stream events as JSON lines; the last line is the report")
    .option(
      "--rollback-demo",
      "then show a rollback (D9): a patch of the DMA supercluster comes back wrong on one cluster (D8), the run escalates, and that cluster's last upgrade is rolled back",
    )
    .option(
      "--dashboard [port]",
      "serve the dashboard beside the demo (default port 7450); at a terminal it stays up after the run until Ctrl-C",
      parsePort,
    )
    .option(
      "--dashboard-token-file <path>",
      "write the dashboard's link with its token to this file (mode 0600, removed at the end) instead of printing it",
    )
    .action(
      action(
        ctx,
        async (
          opts: {
            speed: number;
            json?: boolean;
            dashboard?: number | true;
            rollbackDemo?: boolean;
            dashboardTokenFile?: string;
          } & LogOpts,
        ) => {
          refuseTokenFile(opts.dashboardTokenFile);
          const eventLog = await startLogging(ctx, opts, "demo");
          // with --log-format json the events are log lines: no view on stderr (--json still streams them)
          const drawn = !eventLog || Boolean(opts.json);
          await prepareRunView(ctx.output);
          const { compareStrategies, planRollback, planUpgrade } = await import("../../plan/planner.ts");
          const { runDemo } = await import("../../run/demo.ts");
          let view: RunView | undefined;
          let plan: Plan | undefined;
          let forget = () => {};
          let dashboard:
            | Awaited<ReturnType<typeof import("../../server/dashboard.ts")["startDashboard"]>>
            | undefined;
          // the demo's files (fleet, lab, state) live in a temporary folder, removed once the
          // dashboard (which reads the state file until Ctrl-C) is closed
          const dir = mkdtempSync(join(tmpdir(), "rollgate-demo-"));
          const removeDir = () => rmSync(dir, { recursive: true, force: true });
          process.once("exit", removeDir); // a second Ctrl-C exits at once
          const report = await runDemo({
            dir,
            speed: opts.speed,
            planner: (fleet, to, strategy) => planUpgrade(fleet, { to, strategy }),
            ...(opts.rollbackDemo
              ? {
                  rollbackDemo: {
                    planner: (fleet, cluster, dmaRollbackTo) =>
                      planRollback(fleet, { clusters: [cluster], dmaRollbackTo }),
                    onPhase: async (line) => {
                      // the upgrade's task tree is done: closed before the rollback's lines
                      const open = view;
                      view = undefined;
                      await open?.close();
                      ctx.output.err(line);
                    },
                  },
                }
              : {}),
            compare: (fleet, to) =>
              compareStrategies(fleet, { to }).map((c) =>
                c.seconds === undefined ? undefined : { strategy: c.strategy, seconds: c.seconds },
              ),
            onPlan: (p) => {
              plan = p;
              eventLog?.setPlan(p);
              if (drawn) view = createRunView(ctx.output, p, { json: Boolean(opts.json) });
            },
            onEvent: (e) => {
              eventLog?.onEvent(e);
              view?.onEvent(e);
            },
            onInterrupt: (i) => {
              const key = i.signal === "SIGINT" ? "Ctrl-C" : i.signal;
              if (i.count > 1) {
                ctx.output.err(`${key} again: stopping the demo now`);
                process.exit(1);
              }
              // the task tree holds back what is written while it draws: close it first
              const closing = view;
              view = drawn
                ? createRunView(ctx.output, plan!, { json: Boolean(opts.json), plain: true })
                : undefined;
              const say = () =>
                ctx.output.err(
                  `${key}: stopping the demo: running steps finish, no new step starts; ${key} again to stop now`,
                );
              void (closing?.close() ?? Promise.resolve()).then(say, say);
            },
            ...(opts.dashboard !== undefined
              ? {
                  onStore: async (store, run) => {
                    dashboard = await (await import("../../server/dashboard.ts")).startDashboard(store, {
                      port: opts.dashboard!,
                      runId: run.id,
                    });
                    forget = announceDashboard(ctx, dashboard, {
                      ...(opts.dashboardTokenFile ? { tokenFile: opts.dashboardTokenFile } : {}),
                      statePath: store.location,
                      ttlSeconds: DASHBOARD_TOKEN_TTL_SECONDS,
                    });
                  },
                }
              : {}),
          }).catch(async (e: unknown) => {
            await dashboard?.close();
            forget();
            removeDir();
            throw e;
          });
          try {
            await view?.close();
            if (opts.json) ctx.output.json(report);
            else renderReport(ctx, report);
            if (dashboard)
              await (await import("../../server/dashboard.ts")).lingerThenClose(
                dashboard,
                Boolean(process.stdin.isTTY),
                ctx.output.err,
              );
          } finally {
            await dashboard?.close();
            forget();
            removeDir();
          }
          return report.ok ? 0 : 1;
        },
      ),
    );
}
