import type { Command } from "commander";
import { formatDuration } from "../../model/duration.ts";
import type { StrategyComparison } from "../../plan/planner.ts";
import type { Plan } from "../../plan/types.ts";
import { action, type CliContext, usageError } from "../main.ts";
import { type Paint, painter } from "../output.ts";

interface PlanFlags {
  to?: string[];
  strategy: string;
  compare?: boolean;
  explain?: boolean;
  json?: boolean;
  limit?: string[];
}

const collect = (v: string, prev: string[] | undefined) => [...(prev ?? []), v];

export function registerPlan(program: Command, ctx: CliContext): void {
  program
    .command("plan")
    .description("plan a verified upgrade of the fleet: every step, its rules, timing and capacity")
    .argument("<fleet>", "the fleet file (YAML, apiVersion rollgate/v1)")
    .option(
      "--to <version>",
      "target release; repeat as CLUSTER=V, SUPERCLUSTER=V or PACK=V for a mixed fleet",
      collect,
    )
    .option(
      "--strategy <name>",
      "auto | rolling | patch | maintenance-window | incremental | all-at-once | two-halves",
      "auto",
    )
    .option(
      "--limit <name>",
      "plan only this cluster, supercluster or pack (matrix, dma, generic); repeatable, the union",
      collect,
    )
    .option("--compare", "show every applicable strategy side by side")
    .option("--explain", "list for each step the rules that placed it")
    .option("--json", "print the plan as JSON on stdout")
    .action(
      action(ctx, async (file: string, opts: PlanFlags) => {
        if (!opts.to || opts.to.length === 0)
          throw usageError("rollgate plan: --to VERSION is required (e.g. --to 3.5.1)");
        const { loadFleetFile } = await import("../../io/fleet-loader.ts");
        const { compareStrategies, planUpgrade } = await import("../../plan/planner.ts");
        const fleet = loadFleetFile(file);
        const paint = painter(ctx.output.color);
        if (opts.compare) {
          const rows = compareStrategies(fleet, { to: opts.to, ...limitOf(opts) });
          if (opts.json) ctx.output.json({ ok: true, fleet: fleet.name, strategies: rows });
          else renderComparison(ctx, rows, fleet.defaults.capacityFloor, paint);
          return 0;
        }
        const plan = planUpgrade(fleet, {
          to: opts.to,
          strategy: opts.strategy,
          explain: Boolean(opts.explain),
          ...limitOf(opts),
        });
        if (opts.json) ctx.output.json(plan);
        else renderPlan(ctx, plan, Boolean(opts.explain), paint);
        return 0;
      }),
    );
}

const limitOf = (opts: PlanFlags) => (opts.limit ? { limit: opts.limit } : {});

/** `--limit`: what the plan leaves alone, one line per cluster. */
export function renderLeftAlone(ctx: CliContext, plan: Plan, paint: Paint): void {
  if (!plan.limit) return;
  ctx.output.out(paint("dim", `limit: ${plan.limit.join(", ")}`));
  for (const l of plan.leftAlone ?? [])
    ctx.output.out(
      paint("dim", `left alone: ${l.cluster}${l.supercluster ? ` (${l.supercluster})` : ""}: ${l.reason}`),
    );
}

function pct(x: number): string {
  return `${Math.floor(x * 100 + 1e-9)}%`;
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + " ".repeat(n - s.length);
}

export function renderPlan(ctx: CliContext, plan: Plan, explain: boolean, paint: Paint): void {
  const o = ctx.output;
  o.out(
    paint(
      "bold",
      plan.rollback
        ? `Plan for ${plan.fleet}: roll back ${Object.entries(plan.rollback.from)
            .map(([c, from]) => `${c} from ${from} to ${plan.targets[c]}`)
            .join(", ")}, ${plan.steps.length} steps`
        : `Plan for ${plan.fleet}: upgrade to ${plan.target}, strategy ${plan.strategy}, ${plan.steps.length} steps`,
    ),
  );
  // what the planner found in the fleet (a supercluster part way through its upgrade, G5)
  for (const f of plan.findings ?? []) o.out(paint("yellow", `found: ${f}`));
  renderLeftAlone(ctx, plan, paint);
  o.out("");
  const rows = plan.steps.map((s) => [
    `+${formatDuration(s.start)}`,
    formatDuration(s.end - s.start),
    s.server ? `${s.cluster}/${s.server}` : s.cluster,
    s.action +
      (s.joins ? ` → ${s.joins}` : "") +
      (s.release && s.action === "install" ? ` ${s.release}` : "") +
      (s.mode && s.action === "set-mode" ? ` ${s.mode}` : "") +
      (s.founds ? ` (founds ${s.founds})` : "") +
      (s.unassigned?.length ? ` (records ${s.unassigned.length} territories)` : ""),
    s.rules.join(" "),
  ]);
  const head = ["start", "takes", "where", "action", "rules"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  o.out(paint("dim", `   ${head.map((h, i) => pad(h, widths[i]!)).join("  ")}`));
  const passOf = new Map<string, number>();
  plan.steps.forEach((s, k) => {
    if (s.pass && passOf.get(s.cluster) !== s.pass.n) {
      // a chained path (M8): each pass is a rolling upgrade of its own, with its own point of no return
      passOf.set(s.cluster, s.pass.n);
      o.out(
        paint(
          "bold",
          `   ${s.cluster}: pass ${s.pass.n} of ${s.pass.of}, to ${s.pass.mode === undefined ? s.pass.to : `mode ${s.pass.mode} on ${s.pass.to}`} (${s.pass.rule})`,
        ),
      );
    }
    const mark = s.pointOfNoReturn ? paint("yellow", "⚠ ") : "  ";
    const line = rows[k]!.map((c, i) => pad(c, widths[i]!))
      .join("  ")
      .trimEnd();
    o.out(` ${mark}${s.pointOfNoReturn ? paint("yellow", line) : line}`);
    if (s.pointOfNoReturn)
      o.out(paint("yellow", `     point of no return (G4): needs explicit confirmation before it runs`));
    if (explain) for (const e of s.explain ?? []) o.out(paint("dim", `       ${e}`));
  });
  if (explain && plan.choice) {
    o.out("");
    o.out(plan.choice);
  }
  const e = plan.estimate;
  o.out("");
  o.out(
    `duration      ${formatDuration(e.seconds)} (lower bound ${formatDuration(e.lowerBoundSeconds)}, ratio ${(e.seconds / Math.max(1, e.lowerBoundSeconds)).toFixed(2)})`,
  );
  o.out(`min capacity  ${pct(e.minCapacity)} in service (floor ${pct(plan.capacityFloor)})`);
  o.out(`outage        ${formatDuration(e.outageSeconds ?? 0)}`);
  o.out(
    `mixed window  ${formatDuration(e.mixedWindowSeconds ?? 0)} (longest time a cluster runs two releases, M6)`,
  );
  const pnr = plan.steps.filter((s) => s.pointOfNoReturn).length;
  o.out(`no return     ${pnr} step(s) marked ⚠`);
  const v = plan.verification;
  o.out(
    `verification  ${v.ok ? paint("green", "ok") : paint("red", "FAILED")}, ${v.statesChecked} states checked, every rule at every instant and in every failure branch`,
  );
}

function renderComparison(ctx: CliContext, rows: StrategyComparison[], floor: number, paint: Paint): void {
  const o = ctx.output;
  const head = [
    "strategy",
    "duration",
    "lower bound",
    "min capacity",
    "outage",
    "mixed window",
    "keeps floor",
  ];
  const cells = rows.map((r) =>
    r.seconds === undefined
      ? [r.strategy, "-", "-", "-", "-", "-", "no"]
      : [
          r.strategy,
          formatDuration(r.seconds),
          formatDuration(r.lowerBoundSeconds ?? 0),
          pct(r.minCapacity ?? 0),
          formatDuration(r.outageSeconds ?? 0),
          formatDuration(r.mixedWindowSeconds ?? 0),
          r.keepsFloor ? "yes" : "no",
        ],
  );
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  o.out(paint("bold", `Strategies (capacity floor ${pct(floor)})`));
  o.out(paint("dim", head.map((h, i) => pad(h, widths[i]!)).join("  ")));
  for (const c of cells)
    o.out(
      c
        .map((x, i) => pad(x, widths[i]!))
        .join("  ")
        .trimEnd(),
    );
  for (const r of rows) if (r.reason) o.out(paint("dim", `${r.strategy}: ${r.reason}`));
  // auto never takes M12's alternatives (a full stop, two halves): only --strategy does
  const m12 = (s: string) => s === "all-at-once" || s === "two-halves";
  const usable = rows.filter((r) => r.ok && r.seconds !== undefined && !m12(r.strategy));
  const halves = rows.find((r) => r.strategy === "two-halves" && r.ok);
  const fullStop = rows.find((r) => r.strategy === "all-at-once" && r.ok);
  if (fullStop && usable.length === 0)
    o.out(
      `auto takes no full stop: pass --strategy all-at-once for it (the matrix down for ${formatDuration(fullStop.outageSeconds ?? 0)}, M12)`,
    );
  else if (usable.length > 0) {
    const best = usable.reduce((a, b) => ((b.seconds ?? 0) < (a.seconds ?? 0) ? b : a));
    o.out(
      `auto picks ${paint("bold", best.strategy)}: the fastest that keeps the floor${best.strategy === "maintenance-window" ? `; a floor of ${pct(floor)} allows a full outage: service is fully unavailable for ${formatDuration(best.outageSeconds ?? 0)} (D5)` : ""}`,
    );
  } else o.out(paint("red", "no strategy keeps the capacity floor"));
  if (fullStop && usable.length > 0)
    o.out(
      paint(
        "dim",
        `all-at-once only when asked (--strategy all-at-once): the matrix is down for ${formatDuration(fullStop.outageSeconds ?? 0)} (M12)`,
      ),
    );
  if (halves)
    o.out(
      paint(
        "dim",
        `two-halves only when asked (--strategy two-halves): half of the matrix out at once, never all of it, ${formatDuration(halves.seconds ?? 0)} (M12)`,
      ),
    );
}
