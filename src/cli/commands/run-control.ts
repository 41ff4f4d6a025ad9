import { redactStoreUrl } from "../../store/location.ts";
import { resolve } from "node:path";
import type { Command } from "commander";
import { formatDuration } from "../../model/duration.ts";
import { FINISHED_STATES } from "../../events/types.ts";
import type { pauseRun } from "../../run/control.ts";
import type { LocatedRun } from "../../run/locate.ts";
import { defaultStatePath } from "../../run/state-path.ts";
import type { Store } from "../../store/types.ts";
import type { RunRecord } from "../../store/types.ts";
import type { RunSummary } from "../../run/summary.ts";
import { RollgateError } from "../../model/errors.ts";
import { action, type CliContext, usageError } from "../main.ts";
import { painter } from "../output.ts";

interface StateOpts {
  state?: string;
  run?: string;
  json?: boolean;
}

const stateOption = (cmd: Command) =>
  cmd
    .argument(
      "[fleet]",
      "the fleet file (or its lab's derived file): its runs only, in .rollgate/state.db beside it or its lab's state",
    )
    .option("--state <path>", "the state file (instead of finding it from the fleet file)")
    .option("--run <id>", "a run id (default: the fleet's one unfinished run, else its newest)")
    .option("--json", "print the result as JSON");

/**
 * Finds the run a command means (run/locate.ts: the fleet's own runs, in its state and its lab's),
 * opens its state file, runs fn, closes it. Says on stderr when the run came from the lab's state.
 */
async function withRun<T>(
  ctx: CliContext,
  fleet: string | undefined,
  opts: StateOpts & { unfinishedOnly?: boolean },
  access: { readonly: boolean },
  fn: (store: Store, run: RunRecord, located: LocatedRun) => T | Promise<T>,
): Promise<T> {
  // loaded here, not to register the commands: the store (SQLite) and the fleet file's code
  const { locatedNote, locateRun, openExistingStore } = await import("../../run/locate.ts");
  const located = await locateRun({ ...opts, ...(fleet ? { fleet } : {}) });
  const note = locatedNote(located);
  if (note && !opts.json) ctx.output.err(note);
  const store = openExistingStore(located.statePath, access);
  try {
    return await fn(store, (await store.getRun(located.run.id)) ?? located.run, located);
  } finally {
    await store.close();
  }
}

/**
 * The resume command that reaches this run from anywhere: its fleet file (the one named, else the
 * one it was started from), --state when that is not the fleet file's default state, and --run
 * when the operator named one (a bare `rollgate resume` fails from another folder, or when the
 * state file holds another unfinished run).
 */
export function resumeCommandOf(located: LocatedRun, run: RunRecord, namedRun?: string): string {
  return commandOf("resume", located, run, namedRun);
}

/** The same for `rollgate abort FLEET --return-to-service`. */
export function abortReturnCommandOf(located: LocatedRun, run: RunRecord, namedRun?: string): string {
  return commandOf("abort", located, run, namedRun, "--return-to-service");
}

function commandOf(
  verb: string,
  located: LocatedRun,
  run: RunRecord,
  namedRun?: string,
  flag?: string,
): string {
  const fleetFile = located.fleetFile ?? resolve(run.fleetFile);
  const state = resolve(located.statePath) === defaultStatePath(fleetFile) ? undefined : located.statePath;
  return [
    `rollgate ${verb}`,
    fleetFile,
    flag,
    state ? `--state ${redactStoreUrl(state)}` : undefined,
    namedRun ? `--run ${namedRun}` : undefined,
  ]
    .filter(Boolean)
    .join(" ");
}

/** What an abort with return to service brought back and left out, each with its rule ids. */
function abortLines(abort: NonNullable<RunSummary["abort"]>, color: boolean): string[] {
  const paint = painter(color);
  const lines: string[] = [];
  for (const r of abort.returnedWhy ?? [])
    lines.push(`  returned: ${r.server ?? r.cluster} [${r.rules.join(", ")}] ${r.reason}`);
  for (const o of abort.leftOutOfService)
    lines.push(
      paint("red", `  left out of service: ${o.server ?? o.cluster} [${o.rule ?? o.code}] ${o.reason}`),
    );
  return lines;
}

/**
 * The run as lines. resumeCommand: the command that drives it on; abortReturnCommand, for a run
 * aborting with return to service asked, the abort that drives it too.
 */
export function renderSummary(
  s: RunSummary,
  color: boolean,
  resumeCommand = "rollgate resume",
  abortReturnCommand?: string,
): string[] {
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
  if (s.limit) lines.push(`limit     ${s.limit.join(", ")} (every other cluster left alone)`);
  // aborting with no engine (the API's abort: the server runs none; an engine that died): nothing
  // moves it on until a command drives it
  if (!s.engine && s.run.state === "aborting")
    lines.push(
      paint(
        "yellow",
        `aborting  no engine drives the abort on: ${abortReturnCommand ? `\`${abortReturnCommand}\` or ` : ""}\`${resumeCommand}\` does (it finishes the abort${abortReturnCommand ? ", returning to service what the run took out" : ""})`,
      ),
    );
  for (const r of s.running) lines.push(`running   ${r}`);
  for (const w of s.waiting) {
    if (!w.blockers) lines.push(paint("yellow", `waiting   ${w.step}: blocked by ${w.rule}: ${w.reason}`));
    else {
      // several rules hold it back: one a line, each with its own reason
      lines.push(paint("yellow", `waiting   ${w.step}: blocked by ${w.blockers.length} rules:`));
      for (const b of w.blockers) lines.push(paint("yellow", `            ${b.rule}: ${b.reason}`));
    }
  }
  for (const c of s.awaitingConfirmation)
    lines.push(
      paint("yellow", `confirm   ${c} is a point of no return (G4): ${resumeCommand} --confirm-finalize`),
    );
  for (const a of s.alerts) lines.push(paint("yellow", `ALERT [${a.rule}] ${a.message}`));
  for (const u of s.undelivered)
    lines.push(
      paint(
        "yellow",
        `notify    ${u.kind} (${u.id}) to ${u.url} not delivered after ${u.attempts} attempt(s): ${u.error}`,
      ),
    );
  if (s.abort) {
    lines.push(
      `returned to service after the abort: ${s.abort.returned.length ? s.abort.returned.join(", ") : "none"}`,
    );
    lines.push(...abortLines(s.abort, color));
  }
  if (s.escalation) {
    lines.push(paint("red", `ESCALATION [${s.escalation.rule ?? s.escalation.code}] ${s.escalation.detail}`));
    if (s.escalation.manual) lines.push(`  manual: "${s.escalation.manual}"`);
    for (const o of s.escalation.outOfService ?? [])
      lines.push(paint("red", `  left out of service: ${o.cluster} [${o.rule ?? o.code}] ${o.reason}`));
    lines.push(`  fix the cause, then: ${resumeCommand}`);
  }
  return lines;
}

export function registerRunControl(program: Command, ctx: CliContext): void {
  stateOption(
    program
      .command("status")
      .description("show the state of a run: progress, running and waiting steps, escalations"),
  ).action(
    action(ctx, async (fleet: string | undefined, opts: StateOpts) => {
      const { summarizeRun } = await import("../../run/summary.ts");
      const { returnToServiceRequested } = await import("../../run/control.ts");
      return withRun(ctx, fleet, opts, { readonly: true }, async (store, run, located) => {
        const s = await summarizeRun(store, run);
        if (opts.json)
          ctx.output.json({
            ...s,
            // a PostgreSQL URL without its password
            statePath: redactStoreUrl(located.statePath),
            ...(located.viaLab ? { viaLab: located.viaLab } : {}),
          });
        else
          for (const l of renderSummary(
            s,
            ctx.output.color,
            resumeCommandOf(located, run, opts.run),
            run.state === "aborting" && (await returnToServiceRequested(store, run.id))
              ? abortReturnCommandOf(located, run, opts.run)
              : undefined,
          ))
            ctx.output.out(l);
        return 0;
      });
    }),
  );

  const control = (name: string, description: string, fn: () => Promise<typeof pauseRun>) =>
    stateOption(program.command(name).description(description)).action(
      action(ctx, async (fleet: string | undefined, opts: StateOpts) => {
        const run = await fn();
        return withRun(
          ctx,
          fleet,
          { ...opts, unfinishedOnly: true },
          { readonly: false },
          async (store, record) => {
            const r = await run(store, record, `an operator (rollgate ${name})`);
            if (opts.json) ctx.output.json({ ok: true, ...r });
            else ctx.output.out(r.message);
            return 0;
          },
        );
      }),
    );
  control(
    "pause",
    "start no new step; running steps finish (resume continues)",
    async () => (await import("../../run/control.ts")).pauseRun,
  );
  stateOption(
    program
      .command("abort")
      .description(
        "finish running steps, start no more, end the run (every step boundary keeps the rules); with --return-to-service, then bring back into service what the run took out",
      )
      .option(
        "--return-to-service",
        "once running steps finish, return to service what the run took out that may return: each DMA cluster it busied out still a member of its supercluster on one release (D6, D3), territories restored; each Matrix server it stopped that may rejoin (M4, M3, M5; not mid-install, M9), and each it only disabled, enabled again (M9); the others are named with the rule that keeps them out. Waits for the outcome and reports it (drives the return itself when no engine runs)",
      )
      .option(
        "--rollback",
        "abort with --return-to-service, bring the fleet file up to date (as fleet sync --write), then roll the run's part-upgraded matrices back to their old release, lowest address first (M3), as rollgate rollback --yes; refused before anything is done once a matrix's point of no return has begun (M4)",
      ),
  ).action(
    action(
      ctx,
      async (
        fleet: string | undefined,
        opts: StateOpts & { returnToService?: boolean; rollback?: boolean },
      ) => {
        const rollback = opts.rollback === true;
        const rts = opts.returnToService === true || rollback;
        const { abortRun, rollbackRefusal } = await import("../../run/control.ts");
        if (rollback)
          await withRun(
            ctx,
            fleet,
            { ...opts, unfinishedOnly: false },
            { readonly: true },
            async (store, run, located) => {
              const { loadFleetFile } = await import("../../io/fleet-loader.ts");
              const { driverCanPerform } = await import("../../plan/driver-commands.ts");
              // the fleet file's drivers say whether a server the run only disabled can be enabled
              const clusters = located.fleetFile ? loadFleetFile(located.fleetFile).clusters : [];
              const no = await rollbackRefusal(store, run, (name) => {
                const c = clusters.find((x) => x.name === name);
                return c !== undefined && driverCanPerform(c, "enable");
              });
              if (no) throw new RollgateError(no.code, no.message);
              if (!located.fleetFile)
                throw usageError(
                  "rollgate abort --rollback: name the fleet file (the rollback is planned from it, once it is brought up to date)",
                );
            },
          );
        const asked = await withRun(
          ctx,
          fleet,
          // with a return to service, an aborted run too (its return may be asked again, control.ts)
          { ...opts, unfinishedOnly: !rts },
          { readonly: false },
          async (store, run, located) => ({
            r: await abortRun(store, run, "an operator (rollgate abort)", {
              returnToService: rts,
              noEngine: "this command drives the return itself now, as `rollgate resume` would",
            }),
            located,
          }),
        );
        const { r, located } = asked;
        if (!rts || r.state !== "aborting") {
          if (opts.json) ctx.output.json({ ok: true, ...r });
          else ctx.output.out(r.message);
          return 0;
        }
        if (!opts.json) ctx.output.out(r.message);
        // With --return-to-service the command waits for the outcome and reports it, server by
        // server with rule ids: no engine alive (an escalated run that ended, a crash), it drives
        // the return itself (the engine starts no step of the plan, only the return: run/engine/abort-return.ts);
        // otherwise the live engine does it once its running steps have finished.
        if (r.engine) await waitUntilFinished(located.statePath, r.run);
        if (!(await finished(located.statePath, r.run))) {
          const { resume } = await import("../../run/apply.ts");
          await resume({
            statePath: located.statePath,
            runId: r.run,
            ...(located.fleetFile ? { fleetFile: located.fleetFile } : {}),
            confirmFinalize: false,
          });
        }
        const { summarizeRun } = await import("../../run/summary.ts");
        const summary = await withRun(
          ctx,
          fleet,
          { ...opts, run: r.run },
          { readonly: true },
          async (store, run) => await summarizeRun(store, run),
        );
        if (opts.json)
          ctx.output.json({
            ok: summary.run.state === "aborted",
            run: r.run,
            state: summary.run.state,
            message: r.message,
            ...(summary.abort ? { abort: summary.abort } : {}),
          });
        else if (summary.abort) {
          ctx.output.out(
            `returned to service after the abort: ${summary.abort.returned.length ? summary.abort.returned.join(", ") : "none"}`,
          );
          for (const l of abortLines(summary.abort, ctx.output.color)) ctx.output.out(l);
        } else ctx.output.out(`run ${r.run} is ${summary.run.state}`);
        if (summary.run.state !== "aborted") return 1;
        // a matrix server the return left out of service (its enable failed, its start was refused)
        // would count out of service in the rollback (M1, G3) and hold it at its first step: the
        // rollback is not started, and nothing more is done (the fleet file is not rewritten)
        const heldOut = rollback ? (summary.abort?.leftOutOfService ?? []).filter((l) => l.server) : [];
        if (heldOut.length > 0) {
          const names = heldOut.map((l) => l.server).join(", ");
          const file = located.fleetFile ?? "FLEET";
          // asked again, abort --rollback does the return again (what has come back since counts as
          // back), then the sync and the rollback
          const wayOn = `Bring ${names} back into service (or, for a step still under way, let it end), then ask again: rollgate abort ${file} --rollback`;
          const message = `rollback not started: ${names} ${heldOut.length === 1 ? "is" : "are"} out of service after the abort (${heldOut.map((l) => `${l.server}: ${l.rule ?? l.code}`).join("; ")}), and a rollback counts ${heldOut.length === 1 ? "it" : "them"} out of service (M1, G3); the fleet file is as it was. ${wayOn}`;
          if (opts.json) ctx.output.json({ ok: false, rollback: "not-started", message });
          else ctx.output.err(message);
          return 1;
        }
        return rollback
          ? await rollBackAfterAbort(
              ctx,
              located.fleetFile!,
              located.statePath,
              r.run,
              opts.json === true,
              opts.state,
            )
          : 0;
      },
    ),
  );
}

/**
 * `abort --rollback`, once the run is aborted and returned to service: the fleet file brought up
 * to what the servers report, then the run's matrices that run two releases go back to the old
 * one (plan/rollback.ts, performed as `rollgate rollback --yes` does). A matrix on one release has
 * nothing to take back (the abort came before any install ended).
 */
async function rollBackAfterAbort(
  ctx: CliContext,
  fleetFile: string,
  statePath: string,
  runId: string,
  json: boolean,
  state: string | undefined,
): Promise<number> {
  const { syncFleetFile } = await import("../../run/fleet-sync.ts");
  const synced = await syncFleetFile(fleetFile, { write: true });
  if (!json)
    ctx.output.out(
      `rollback: ${fleetFile} brought up to date (${synced.changes.length} change(s), as rollgate fleet sync --write)`,
    );
  const { loadFleetFile } = await import("../../io/fleet-loader.ts");
  const { openExistingStore } = await import("../../run/locate.ts");
  const fleet = loadFleetFile(fleetFile);
  const store = openExistingStore(statePath, { readonly: true });
  let planned: string[];
  try {
    planned = Object.keys((await store.getPlan(runId)).targets);
  } finally {
    await store.close();
  }
  const mixed = fleet.clusters.filter(
    (c) =>
      planned.includes(c.name) &&
      c.pack === "polyserve-matrix" &&
      new Set(c.servers.map((s) => s.version)).size > 1,
  );
  if (mixed.length === 0) {
    const message = `rollback: nothing to take back, every matrix of run ${runId} runs one release (no install had ended)`;
    if (json) ctx.output.json({ ok: true, rollback: "nothing", message });
    else ctx.output.out(message);
    return 0;
  }
  const { runApply } = await import("./apply.ts");
  const code = await runApply(ctx, fleetFile, {
    strategy: "auto",
    rollback: true,
    yes: true,
    cluster: mixed.map((c) => c.name),
    ...(json ? { json: true } : {}),
    ...(state ? { state } : {}),
  });
  if (code === 0) {
    // the file was written for the rollback's plan: it is brought up to date again, as it now is
    const after = await syncFleetFile(fleetFile, { write: true });
    if (!json)
      ctx.output.out(`rollback: ${fleetFile} brought up to date again (${after.changes.length} change(s))`);
  }
  return code;
}

async function finished(statePath: string, runId: string): Promise<boolean> {
  const { openExistingStore } = await import("../../run/locate.ts");
  const store = openExistingStore(statePath, { readonly: true });
  try {
    const run = await store.getRun(runId);
    return !run || FINISHED_STATES.includes(run.state);
  } finally {
    await store.close();
  }
}

/** Waits (polling the state file) until the engine driving the run has ended it, or is gone. */
async function waitUntilFinished(statePath: string, runId: string): Promise<void> {
  const { openExistingStore } = await import("../../run/locate.ts");
  for (;;) {
    const store = openExistingStore(statePath, { readonly: true });
    try {
      const run = await store.getRun(runId);
      if (!run || FINISHED_STATES.includes(run.state) || !(await store.engineHolder(run.fleet))) return;
    } finally {
      await store.close();
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
