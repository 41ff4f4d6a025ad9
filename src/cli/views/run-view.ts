import type { Listr, ListrTaskWrapper } from "listr2";
import type { RunEvent } from "../../events/types.ts";
import type { Plan } from "../../plan/types.ts";
import type { Output } from "../output.ts";
import { painter, terminalText } from "../output.ts";
import { describeEvent, formatLeft } from "./describe.ts";

/**
 * How a run is shown while it goes: a live task tree per cluster (listr2) on a terminal, plain
 * timestamped lines otherwise, JSON lines with --json. Every view only reads the event stream.
 */
export interface RunView {
  onEvent(e: RunEvent): void;
  close(): Promise<void>;
}

let ListrClass: typeof Listr | undefined;

/** Loads the task-tree renderer (listr2) when the output is a terminal; call before createRunView. */
export async function prepareRunView(o: Output): Promise<void> {
  if (o.isTTY && !process.env.CI && !ListrClass) ListrClass = (await import("listr2")).Listr;
}

export function createRunView(
  o: Output,
  plan: Plan,
  mode: { json: boolean; done?: Iterable<string> /** plain lines even on a terminal */; plain?: boolean },
): RunView {
  if (mode.json) return { onEvent: (e) => o.json(e), close: async () => {} };
  if (o.isTTY && !process.env.CI && ListrClass && !mode.plain)
    return new TreeView(ListrClass, o, plan, mode.done ?? []);
  return new LineView(o);
}

class LineView implements RunView {
  private readonly paint;
  /** The run state last printed: the engine records an escalated run's state again once it knows what stays out of service. */
  private lastState: string | undefined;
  constructor(private readonly o: Output) {
    this.paint = painter(o.color);
  }
  onEvent(e: RunEvent): void {
    if (e.type === "run.state") {
      if (e.state === this.lastState) return;
      this.lastState = e.state;
    }
    const line = describeEvent(e);
    if (!line) return;
    const time = e.at.slice(11, 19);
    const styled =
      e.type === "escalation" || e.type === "step.failed"
        ? this.paint("red", line)
        : e.type === "step.waiting" || e.type === "confirmation.needed"
          ? this.paint("yellow", line)
          : line;
    this.o.err(`${this.paint("gray", time)} ${styled}`);
  }
  async close(): Promise<void> {}
}

type Wrapper = ListrTaskWrapper<unknown, never, never>;

class TreeView implements RunView {
  private readonly done = new Set<string>();
  private readonly tasks = new Map<
    string,
    { wrapper?: Wrapper; resolve: () => void; reject: (e: Error) => void; steps: string[] }
  >();
  private readonly clusterOf = new Map<string, string>();
  private readonly listr: Listr;
  private readonly running: Promise<unknown>;
  private readonly paint;
  /**
   * close() was called. listr2 calls a task's function only after it has rendered, a tick or more
   * after the constructor: a task that starts after close() must end at once, or `running` (and
   * so close()) never settles, which hung `resume` and the answer "n" at a terminal.
   */
  private closed = false;

  constructor(
    ListrCtor: typeof Listr,
    o: Output,
    private readonly plan: Plan,
    done: Iterable<string>,
  ) {
    this.paint = painter(o.color);
    for (const id of done) this.done.add(id);
    const clusters = [...new Set(plan.steps.map((s) => s.cluster))];
    for (const s of plan.steps) this.clusterOf.set(s.id, s.cluster);
    this.listr = new ListrCtor(
      clusters.map((name) => ({
        title: terminalText(name),
        task: (_ctx: unknown, wrapper: Wrapper) =>
          new Promise<void>((resolve, reject) => {
            const steps = plan.steps.filter((s) => s.cluster === name).map((s) => s.id);
            this.tasks.set(name, { wrapper, resolve, reject, steps });
            if (this.closed) this.stopTask(name);
            else this.refresh(name);
          }),
      })),
      // listr2 would otherwise install its own SIGINT handler, which exits 127 at once: Ctrl-C
      // belongs to the engine (src/run/apply.ts: the run pauses, then the engine exits 1).
      { concurrent: true, exitOnError: false, registerSignalListeners: false },
    );
    this.running = this.listr.run().catch(() => undefined);
  }

  private refresh(cluster: string, note?: string): void {
    const t = this.tasks.get(cluster);
    // a closed tree is not written to: listr2 throws on a finished task's output
    if (!t?.wrapper || this.closed) return;
    const n = t.steps.filter((s) => this.done.has(s)).length;
    // listr2 writes to the terminal itself: its text is escaped here as Output's is
    t.wrapper.title = terminalText(
      `${cluster}  ${n}/${t.steps.length} steps  ${this.paint("gray", formatLeft(this.plan, this.done))}`,
    );
    if (note) t.wrapper.output = terminalText(note);
    if (n === t.steps.length) t.resolve();
  }

  onEvent(e: RunEvent): void {
    const step = "step" in e && typeof e.step === "string" ? e.step : undefined;
    const cluster = step ? this.clusterOf.get(step) : undefined;
    if (e.type === "step.done" && step) this.done.add(step);
    if (e.type === "escalation") {
      const c = e.escalation.cluster;
      const t = c ? this.tasks.get(c) : undefined;
      // not a thrown error: it ends the cluster's task in the view, in red (the run's escalation
      // itself is ROLLGATE_E_ESCALATED)
      t?.reject(
        new Error(
          terminalText(
            this.paint(
              "red",
              `ESCALATION [${e.escalation.rule ?? e.escalation.code}] ${e.escalation.detail}`,
            ),
          ),
        ),
      );
      return;
    }
    if (cluster) this.refresh(cluster, describeEvent(e));
  }

  private stopTask(name: string): void {
    const t = this.tasks.get(name);
    if (!t) return;
    const n = t.steps.filter((s) => this.done.has(s)).length;
    if (n < t.steps.length)
      t.wrapper?.skip(terminalText(`${name}  ${n}/${t.steps.length} steps, stopped here`));
    t.resolve();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const name of this.tasks.keys()) this.stopTask(name);
    await this.running;
  }
}
