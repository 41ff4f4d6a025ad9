import type { RunEvent } from "../../events/types.ts";
import type { Plan } from "../../plan/types.ts";
import type { Interrupt } from "../../run/apply.ts";
import type { EventLog } from "../logging.ts";
import type { CliContext } from "../main.ts";
import { painter } from "../output.ts";
import { createRunView, type RunView } from "./run-view.ts";

/**
 * The live view of a run, created on the first event (after the plan was shown and accepted) and
 * closed around every question, so that a prompt is never drawn over by the task tree.
 */
export class LiveView {
  private view: RunView | undefined;
  private plan: Plan | undefined;
  private readonly done = new Set<string>();
  /** A question is open: events are followed but nothing is drawn over the prompt. */
  private asking = false;
  /** After a Ctrl-C the run's end is told in plain lines: a task tree would redraw over the message. */
  private plain = false;
  /**
   * With --log-format json: every event is a log line on stderr (cli/logging.ts), and no view is
   * drawn there (--json still streams the events on stdout).
   */
  constructor(
    private readonly ctx: CliContext,
    private readonly json: boolean,
    private readonly log?: EventLog,
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
    this.log?.setPlan(plan);
  }
  onEvent(e: RunEvent): void {
    if (!this.plan) return;
    if (e.type === "step.done") this.done.add(e.step);
    if (e.type === "step.started") this.started.add(e.step);
    this.log?.onEvent(e);
    if (this.log && !this.json) return;
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
