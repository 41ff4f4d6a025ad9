import { FINISHED_STATES, RUN_STATES } from "../events/types.ts";
import type { RunRecord } from "../store/types.ts";
import type { ServerContext } from "./context.ts";

/** A label value, escaped as the Prometheus text format asks (backslash, quote, newline). */
function label(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function labels(l: Record<string, string>): string {
  return `{${Object.entries(l)
    .map(([k, v]) => `${k}="${label(v)}"`)
    .join(",")}}`;
}

/** The newest run of each fleet: what a scraper watches (a token scoped to one run: that run). */
async function watchedRuns(ctx: ServerContext, onlyRun?: string): Promise<RunRecord[]> {
  const seen = new Set<string>();
  if (onlyRun !== undefined) return (await ctx.store.listRuns()).filter((r) => r.id === onlyRun);
  return (await ctx.store.listRuns()).filter((r) => {
    if (seen.has(r.fleet)) return false;
    seen.add(r.fleet);
    return true;
  });
}

/** GET /metrics: Prometheus text format 0.0.4, one series set per fleet's newest run. */
export async function renderMetrics(ctx: ServerContext, now = Date.now(), onlyRun?: string): Promise<string> {
  const runs = await Promise.all(
    (await watchedRuns(ctx, onlyRun)).map(async (run) => ({ run, m: await ctx.model(run) })),
  );
  const out: string[] = [];
  const family = (name: string, type: "counter" | "gauge", help: string, rows: string[]) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...rows);
  };
  const base = (run: RunRecord) => ({ fleet: run.fleet, run: run.id });
  family(
    "rollgate_steps_done_total",
    "counter",
    "Steps of the run's plan done.",
    runs.map(({ run, m }) => `rollgate_steps_done_total${labels(base(run))} ${m.stepsDone}`),
  );
  family(
    "rollgate_steps_failed_total",
    "counter",
    "Step failures (each escalates the run).",
    runs.map(({ run, m }) => `rollgate_steps_failed_total${labels(base(run))} ${m.stepsFailed}`),
  );
  family(
    "rollgate_steps",
    "gauge",
    "Steps in the run's plan.",
    runs.map(({ run, m }) => `rollgate_steps${labels(base(run))} ${m.plan.steps.length}`),
  );
  family(
    "rollgate_run_state",
    "gauge",
    "1 for the run's present state, 0 for the others.",
    runs.flatMap(({ run }) =>
      RUN_STATES.map(
        (s) => `rollgate_run_state${labels({ ...base(run), state: s })} ${run.state === s ? 1 : 0}`,
      ),
    ),
  );
  family(
    "rollgate_capacity_fraction",
    "gauge",
    "Fraction of capacity in service, per capacity domain (a supercluster, else a cluster) (G3).",
    runs.flatMap(({ run, m }) =>
      Object.entries(m.domains()).map(
        ([domain, f]) => `rollgate_capacity_fraction${labels({ ...base(run), domain })} ${f}`,
      ),
    ),
  );
  family(
    "rollgate_capacity_floor",
    "gauge",
    "The capacity floor the plan keeps (G3).",
    runs.map(({ run, m }) => `rollgate_capacity_floor${labels(base(run))} ${m.plan.capacityFloor}`),
  );
  const mixed = runs.map(({ run, m }) => ({
    run,
    s: m.mixedSeconds(now, !FINISHED_STATES.includes(run.state)),
  }));
  family(
    "rollgate_mixed_release_seconds",
    "counter",
    "Seconds a cluster has run mixed releases (M6), from observations.",
    mixed.flatMap(({ run, s }) =>
      Object.entries(s)
        .filter(([k]) => k.startsWith("cluster:"))
        .map(
          ([k, v]) => `rollgate_mixed_release_seconds${labels({ ...base(run), cluster: k.slice(8) })} ${v}`,
        ),
    ),
  );
  family(
    "rollgate_supercluster_mixed_release_seconds",
    "counter",
    "Seconds a supercluster's clusters have run mixed releases (D6), from observations.",
    mixed.flatMap(({ run, s }) =>
      Object.entries(s)
        .filter(([k]) => k.startsWith("supercluster:"))
        .map(
          ([k, v]) =>
            `rollgate_supercluster_mixed_release_seconds${labels({ ...base(run), supercluster: k.slice(13) })} ${v}`,
        ),
    ),
  );
  return `${out.join("\n")}\n`;
}
