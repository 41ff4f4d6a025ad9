import type { Command } from "commander";
import { formatDuration } from "../../model/duration.ts";
import { RollgateError } from "../../model/errors.ts";
import { openExistingStore, pickRun, statePathFrom } from "../../run/locate.ts";
import { summarizeRun, type RunSummary } from "../../run/summary.ts";
import { action, type CliContext } from "../main.ts";
import { painter } from "../output.ts";

interface StateOpts {
  state?: string;
  run?: string;
  json?: boolean;
}

const stateOption = (cmd: Command) =>
  cmd
    .argument("[fleet]", "the fleet file; the state is .rollgate/state.db beside it")
    .option("--state <path>", "the state file (instead of finding it from the fleet file)")
    .option("--run <id>", "a run id (default: the newest unfinished run)")
    .option("--json", "print the result as JSON");

export function renderSummary(s: RunSummary, color: boolean): string[] {
  const paint = painter(color);
  const stateColor =
    s.run.state === "completed"
      ? "green"
      : s.run.state === "escalated" || s.run.state === "aborted"
        ? "red"
        : "yellow";
  const lines = [
    `run ${s.run.id} · ${s.run.fleet} → ${s.target} · ${s.strategy} · ${paint(stateColor, s.run.state)}`,
    `progress ${s.progress.done}/${s.progress.total} steps · ~${formatDuration(s.secondsLeft)} left by the plan (plan ${formatDuration(s.estimate.seconds)}, lower bound ${formatDuration(s.estimate.lowerBoundSeconds)})`,
    `engine ${s.engine ? `pid ${s.engine.pid} on ${s.engine.host} since ${s.engine.since}` : "not running"}`,
  ];
  for (const r of s.running) lines.push(`running   ${r}`);
  for (const w of s.waiting)
    lines.push(paint("yellow", `waiting   ${w.step}: blocked by ${w.rule}: ${w.reason}`));
  for (const c of s.awaitingConfirmation)
    lines.push(
      paint("yellow", `confirm   ${c} is a point of no return (G4): rollgate resume --confirm-finalize`),
    );
  if (s.escalation) {
    lines.push(paint("red", `ESCALATION [${s.escalation.rule}] ${s.escalation.detail}`));
    if (s.escalation.manual) lines.push(`  manual: "${s.escalation.manual}"`);
    lines.push("  fix the cause, then: rollgate resume");
  }
  return lines;
}

export function registerRunControl(program: Command, ctx: CliContext): void {
  stateOption(
    program
      .command("status")
      .description("show the state of a run: progress, running and waiting steps, escalations"),
  ).action(
    action(ctx, (fleet: string | undefined, opts: StateOpts) => {
      const store = openExistingStore(statePathFrom({ ...opts, ...(fleet ? { fleet } : {}) }));
      try {
        const s = summarizeRun(store, pickRun(store, opts));
        if (opts.json) ctx.output.json(s);
        else for (const l of renderSummary(s, ctx.output.color)) ctx.output.out(l);
        return 0;
      } finally {
        store.close();
      }
    }),
  );

  stateOption(
    program.command("pause").description("start no new step; running steps finish (resume continues)"),
  ).action(
    action(ctx, (fleet: string | undefined, opts: StateOpts) => {
      const store = openExistingStore(statePathFrom({ ...opts, ...(fleet ? { fleet } : {}) }));
      try {
        const run = pickRun(store, { ...opts, unfinishedOnly: true });
        if (run.state !== "running" && run.state !== "awaiting-confirmation" && run.state !== "pending") {
          throw new RollgateError(
            "ROLLGATE_E_USAGE",
            `run ${run.id} is ${run.state}; only a running run can be paused`,
          );
        }
        store.setState(run.id, "paused", "paused by an operator (rollgate pause)");
        if (opts.json) ctx.output.json({ ok: true, run: run.id, state: "paused" });
        else
          ctx.output.out(
            `paused run ${run.id}: running steps finish, no new step starts (rollgate resume continues)`,
          );
        return 0;
      } finally {
        store.close();
      }
    }),
  );

  stateOption(
    program
      .command("abort")
      .description("finish running steps, start no more, end the run (every step boundary keeps the rules)"),
  ).action(
    action(ctx, (fleet: string | undefined, opts: StateOpts) => {
      const store = openExistingStore(statePathFrom({ ...opts, ...(fleet ? { fleet } : {}) }));
      try {
        const run = pickRun(store, { ...opts, unfinishedOnly: true });
        const live = store.engineHolder(run.fleet);
        store.setState(run.id, live ? "aborting" : "aborted", "aborted by an operator (rollgate abort)");
        const msg = live
          ? `aborting run ${run.id}: the engine (pid ${live.pid}) finishes its running steps and starts no more`
          : `aborted run ${run.id} (no engine was running)`;
        if (opts.json) ctx.output.json({ ok: true, run: run.id, state: live ? "aborting" : "aborted" });
        else ctx.output.out(msg);
        return 0;
      } finally {
        store.close();
      }
    }),
  );
}
