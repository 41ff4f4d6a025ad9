import { redactStoreUrl } from "../../store/location.ts";
import { formatDuration } from "../../model/duration.ts";
import { shellWord } from "../../model/shell.ts";
import type { Plan } from "../../plan/types.ts";
import type { DriveResult } from "../../run/apply.ts";
import type { CliContext } from "../main.ts";
import { type Paint, painter } from "../output.ts";

/** The plan in one line (and its findings), before a run starts or resumes. */
export function planBrief(plan: Plan, resumed: boolean, runId?: string): string {
  const pnr = plan.steps.filter((s) => s.pointOfNoReturn).length;
  return `${resumed ? `resuming run ${runId}: ` : ""}plan ${plan.strategy} → ${plan.target}: ${plan.steps.length} steps, ~${formatDuration(plan.estimate.seconds)} (lower bound ${formatDuration(plan.estimate.lowerBoundSeconds)}), min capacity ${Math.round(plan.estimate.minCapacity * 100)}%, ${pnr} point(s) of no return, verified (${plan.verification.statesChecked} states)${(plan.findings ?? []).map((f) => `\nfound: ${f}`).join("")}${plan.limit ? `\nlimit: ${plan.limit.join(", ")}; left alone: ${(plan.leftAlone ?? []).map((l) => `${l.cluster} (${l.reason})`).join(", ") || "nothing"}` : ""}`;
}

/**
 * What a completed run did, in words: "every step done, fleet on 3.5.1", or for a limited run
 * only what it moved and how many clusters it left alone: "every step done, matrix-a on 3.5.1;
 * 4 clusters left alone (--limit)" (a limited run never claims the whole fleet).
 */
export function completedSentence(plan: Plan): string {
  if (plan.rollback)
    return `every step done, rolled back: ${Object.entries(plan.targets)
      .map(([c, t]) => `${c} on ${t}`)
      .join(", ")}`;
  if (!plan.limit) return `every step done, fleet on ${plan.target}`;
  const byRelease = new Map<string, string[]>();
  for (const [c, t] of Object.entries(plan.targets)) byRelease.set(t, [...(byRelease.get(t) ?? []), c]);
  const moved = [...byRelease].map(([t, cs]) => `${cs.join(", ")} on ${t}`).join(", ");
  const alone = plan.leftAlone?.length ?? 0;
  return `every step done, ${moved || "nothing moved"}; ${alone} cluster${alone === 1 ? "" : "s"} left alone (--limit)`;
}

/** How an operator continues the run (the fleet file or --state as given on this command line). */
export function resumeCommandFor(fleet: string | undefined, state?: string, run?: string): string {
  // a PostgreSQL URL is printed without its password (`postgres://***@host/db`)
  const where = state ? `--state ${redactStoreUrl(state)}` : undefined;
  return ["rollgate resume", fleet, where, run ? `--run ${run}` : undefined].filter(Boolean).join(" ");
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
  if (r.leftAlone) {
    // a standby that drove nothing: the run as it is, and why
    if (json)
      ctx.output.json({ ok: r.state === "completed", state: r.state, run: r.runId, leftAlone: r.leftAlone });
    ctx.output.err(r.leftAlone);
    return r.state === "completed" ? 0 : 1;
  }
  if (json) {
    ctx.output.json({
      ok: r.state === "completed",
      state: r.state,
      run: r.runId,
      ...(r.state === "completed" ? { summary: completedSentence(r.plan) } : {}),
      ...(r.plan.limit ? { limit: r.plan.limit, leftAlone: r.plan.leftAlone ?? [] } : {}),
      ...(r.escalation ? { escalation: r.escalation } : {}),
      ...(r.needsConfirmation ? { needsConfirmation: r.needsConfirmation } : {}),
      ...(r.declined ? { declined: true } : {}),
    });
  }
  switch (r.state) {
    case "completed":
      if (!json) reportCompleted(ctx, paint, r, fleetFile);
      return 0;
    case "escalated":
      reportEscalated(ctx, paint, r, resumeCommand);
      return 1;
    case "awaiting-confirmation":
      reportAwaitingConfirmation(ctx, paint, r, resumeCommand);
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

function reportCompleted(ctx: CliContext, paint: Paint, r: DriveResult, fleetFile: string | undefined): void {
  ctx.output.out(paint("green", `run ${r.runId} completed: ${completedSentence(r.plan)}`));
  // the file still says the releases (and superclusters) from before: the next plan starts from it
  if (fleetFile)
    ctx.output.err(
      `the fleet file still describes the fleet before this run: \`rollgate fleet sync ${shellWord(fleetFile)} --write\` brings it up to date before the next upgrade`,
    );
}

function reportEscalated(ctx: CliContext, paint: Paint, r: DriveResult, resumeCommand: string): void {
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
}

function reportAwaitingConfirmation(
  ctx: CliContext,
  paint: Paint,
  r: DriveResult,
  resumeCommand: string,
): void {
  if (r.declined) {
    ctx.output.err(
      paint(
        "yellow",
        `run ${r.runId} halted before ${r.needsConfirmation}: you answered no at its point of no return (G4); it was not started, and the run stays resumable [ROLLGATE_E_CONFIRM_REQUIRED]`,
      ),
    );
    ctx.output.err(`  continue with: ${resumeCommand} (asks again), or ${resumeCommand} --confirm-finalize`);
    return;
  }
  ctx.output.err(
    paint(
      "yellow",
      `run ${r.runId} halted before ${r.needsConfirmation}: a point of no return (G4) needs confirmation [ROLLGATE_E_CONFIRM_REQUIRED]`,
    ),
  );
  ctx.output.err(`  continue with: ${resumeCommand} --confirm-finalize`);
}
