import { copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { RunEvent } from "../events/types.ts";
import { loadFleetFile } from "../io/fleet-loader.ts";
import { startLab } from "../lab/index.ts";
import type { Fleet } from "../model/fleet.ts";
import { compareVersions } from "../model/version.ts";
import type { StrategyChoice } from "../model/step.ts";
import type { Plan } from "../plan/types.ts";
import type { Store } from "../store/types.ts";
import type { RunRecord } from "../store/types.ts";
import { apply, type DriveHooks, type DriveResult } from "./apply.ts";
import { DEMO_SPEED } from "./demo-speed.ts";
import { targetsOf } from "./rule-gate.ts";

/** The demo's fleet (examples/demo.yaml) and its targets: DMA 10.0.1 → 10.1.0 (incompatible), matrix 3.5.0 → 3.5.1. */
export const DEMO_FLEET = fileURLToPath(new URL("../../examples/demo.yaml", import.meta.url));
export const DEMO_TARGETS = ["polycom-dma=10.1.0", "polyserve-matrix=3.5.1"];
export { DEMO_SPEED };

export interface DemoReport {
  ok: boolean;
  fleet: string;
  strategy: string;
  speed: number;
  /**
   * The upgrade's duration in real-world seconds as the run showed it: the plan's time (simulated:
   * the lab performs each action in its estimate ÷ speed) plus the engine's own overhead, which
   * does not shrink with the lab's speed and so is counted once, not × speed.
   */
  durationSeconds: number;
  /** The run's wall time, seconds. */
  wallSeconds: number;
  /** Wall time the plan's actions take in the lab at this speed: planSeconds ÷ speed. */
  simulatedWallSeconds: number;
  /** Wall time beyond the plan's (observing, journaling, polling, starting): wallSeconds − simulatedWallSeconds. */
  engineOverheadSeconds: number;
  /** The plan's estimate, real-world seconds. */
  planSeconds: number;
  lowerBoundSeconds: number;
  /** The plan's estimate over its lower bound (1.02: within 2 % of the best possible). */
  planOverBound: number;
  /** The plan's longest mixed-release window, real-world seconds (M6, D6). */
  planMixedWindowSeconds: number;
  maintenanceWindowSeconds: number | null;
  minCapacity: number;
  capacityFloor: number;
  /**
   * Longest time any cluster (matrix) or supercluster (DMA) ran mixed releases, measured from the
   * run's observations (wall time × speed, so the engine's overhead between them is × speed too).
   */
  mixedWindows: Record<string, number>;
  rulesChecked: { statesVerified: number; ruleIds: string[] };
  labViolations: number;
  violations: unknown[];
  serversOnTarget: number;
  servers: number;
  installsPerServer: Record<string, number>;
  escalation?: unknown;
  runState: string;
  /** With `rollbackDemo`: the D9 part (a patch that comes back wrong on one DMA cluster, rolled back). */
  rollback?: RollbackDemoReport;
}

/** The demo's rollback (D9): what went wrong, what was done about it, what the lab saw. */
export interface RollbackDemoReport {
  ok: boolean;
  cluster: string;
  /** The patch that came back wrong, as "10.1.0 → 10.1.1". */
  patch: string;
  /** The patch run's end: escalated, with the rule (D8b) and the words. */
  patchState: string;
  escalation?: { rule?: string; detail?: string };
  /** The rollback's plan, in the operator's words (its findings). */
  findings: string[];
  /** The command that performs it, as an operator would type it. */
  command: string;
  /** The rollback run's end, and the cluster's release after it. */
  rollbackState: string;
  release: string;
  /** The lab restored the cluster's data store to its state before the patch (D9). */
  dataStoreRestored: boolean;
  /** The cluster is a member of its supercluster and in service again. */
  rejoined: boolean;
  labViolations: number;
}

export interface DemoOptions {
  speed?: number;
  planner: (fleet: Fleet, targets: string[], strategy: StrategyChoice) => Plan;
  compare: (fleet: Fleet, targets: string[]) => Array<{ strategy: string; seconds: number } | undefined>;
  onPlan?: (plan: Plan) => void;
  onEvent?: (e: RunEvent) => void;
  onStore?: (store: Store, run: RunRecord) => void | Promise<void>;
  /** Ctrl-C or SIGTERM while the engine runs (apply.ts's DriveHooks.onInterrupt). */
  onInterrupt?: DriveHooks["onInterrupt"];
  /** Where the demo keeps its files (default a new temp dir, removed when the demo ends). */
  dir?: string;
  /**
   * After the upgrade, show D9: a patch of the DMA supercluster comes back wrong on one cluster
   * (a D8b fault), the run escalates, and the rollback of that cluster's last upgrade is planned
   * (`rollbackPlanner`) and performed. Its progress lines go to `onPhase`.
   */
  rollbackDemo?: {
    planner: (fleet: Fleet, cluster: string, rollbackTo: ReadonlyMap<string, string | null>) => Plan;
    onPhase?: (line: string) => void | Promise<void>;
  };
}

/** The demo's D9 part: the cluster whose patch comes back wrong, and the patch. */
export const DEMO_ROLLBACK = { cluster: "dma-bos", server: "bos-2", patch: "10.1.1" } as const;

/** Runs the demo: a lab on loopback, the plan, the engine, and a report of what the lab saw. */
export async function runDemo(options: DemoOptions): Promise<DemoReport> {
  const speed = options.speed ?? DEMO_SPEED;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), "rollgate-demo-"));
  const ownDir = options.dir === undefined;
  const fleetPath = join(dir, "demo.yaml");
  copyFileSync(DEMO_FLEET, fleetPath);
  const lab = await startLab(fleetPath, { speed });
  try {
    const fleet = loadFleetFile(lab.derivedFleetPath);
    const mixed = new MixedWindows(fleet);
    const started = Date.now();
    let plan: Plan | undefined;
    const result: DriveResult = await apply({
      fleetFile: lab.derivedFleetPath,
      targets: DEMO_TARGETS,
      strategy: "incremental",
      yes: true,
      confirmFinalize: true,
      planner: options.planner,
      onPlan: (p) => {
        plan = p;
        mixed.targets = targetsOf(p);
        options.onPlan?.(p);
      },
      onEvent: (e) => {
        mixed.see(e);
        options.onEvent?.(e);
      },
      ...(options.onStore ? { onStore: options.onStore } : {}),
      ...(options.onInterrupt ? { onInterrupt: options.onInterrupt } : {}),
    });
    const wallSeconds = (Date.now() - started) / 1000;
    const status = lab.status();
    const targets = targetsOf(result.plan);
    const onTarget = status.servers.filter((s) => {
      const t = targets.get(s.cluster);
      return t !== undefined && compareVersions(s.release, t) === 0 && s.state === "running";
    }).length;
    const mw = options.compare(fleet, DEMO_TARGETS).find((c) => c?.strategy === "maintenance-window");
    const p = plan ?? result.plan;
    const installsOk = status.servers.every((s) => status.installs[s.name] === 1);
    const report: DemoReport = {
      ok:
        result.state === "completed" &&
        status.violations.length === 0 &&
        onTarget === status.servers.length &&
        installsOk,
      fleet: fleet.name,
      strategy: p.strategy,
      speed,
      ...durations(p, speed, wallSeconds),
      maintenanceWindowSeconds: mw ? Math.round(mw.seconds * speed) : null,
      minCapacity: p.estimate.minCapacity,
      capacityFloor: fleet.defaults.capacityFloor,
      mixedWindows: mixed.result(speed),
      rulesChecked: {
        statesVerified: p.verification.statesChecked,
        ruleIds: [...new Set(p.steps.flatMap((s) => s.rules))].sort(),
      },
      labViolations: status.violations.length,
      violations: status.violations,
      serversOnTarget: onTarget,
      servers: status.servers.length,
      installsPerServer: status.installs,
      ...(result.escalation ? { escalation: result.escalation } : {}),
      runState: result.state,
    };
    if (options.rollbackDemo && report.ok) {
      report.rollback = await rollbackDemo(lab, options, options.rollbackDemo);
      report.ok = report.rollback.ok;
    }
    return report;
  } finally {
    await lab.stop();
    if (ownDir) rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The run's time split into the plan's (simulated) and the engine's own (real). The derived fleet
 * file's estimates are the fleet's ÷ speed, so the plan of it is × speed back in real-world time.
 * Before, the report gave wall time × speed as the duration: the engine's overhead × speed
 * (10 s of observing and journaling at 600× read as 100 minutes more of upgrade).
 */
export function durations(
  p: Plan,
  speed: number,
  wallSeconds: number,
): Pick<
  DemoReport,
  | "durationSeconds"
  | "wallSeconds"
  | "simulatedWallSeconds"
  | "engineOverheadSeconds"
  | "planSeconds"
  | "lowerBoundSeconds"
  | "planOverBound"
  | "planMixedWindowSeconds"
> {
  const planSeconds = p.estimate.seconds * speed;
  const simulatedWall = p.estimate.seconds;
  const overhead = Math.max(0, wallSeconds - simulatedWall);
  const tenth = (x: number) => Math.round(x * 10) / 10;
  return {
    durationSeconds: Math.round(planSeconds + overhead),
    wallSeconds: tenth(wallSeconds),
    simulatedWallSeconds: tenth(simulatedWall),
    engineOverheadSeconds: tenth(overhead),
    planSeconds: Math.round(planSeconds),
    lowerBoundSeconds: Math.round(p.estimate.lowerBoundSeconds * speed),
    planOverBound:
      Math.round((p.estimate.seconds / Math.max(1e-9, p.estimate.lowerBoundSeconds)) * 100) / 100,
    planMixedWindowSeconds: Math.round((p.estimate.mixedWindowSeconds ?? 0) * speed),
  };
}

/** Measures mixed-release windows from observation events: per matrix cluster, per DMA supercluster. */
class MixedWindows {
  targets = new Map<string, string>();
  private readonly release = new Map<string, string>();
  private readonly since = new Map<string, number>();
  private readonly longest = new Map<string, number>();

  constructor(private readonly fleet: Fleet) {
    for (const c of fleet.clusters)
      for (const s of c.servers) this.release.set(`${c.name}/${s.name}`, s.version);
  }

  private groups(): Map<string, string[]> {
    const g = new Map<string, string[]>();
    for (const c of this.fleet.clusters) {
      const key = c.supercluster ?? c.name;
      g.set(key, [...(g.get(key) ?? []), ...c.servers.map((s) => `${c.name}/${s.name}`)]);
    }
    return g;
  }

  see(e: RunEvent): void {
    if (e.type !== "observation" || e.state === "unreachable") return;
    this.release.set(`${e.cluster}/${e.server}`, e.release);
    const now = Date.parse(e.at);
    for (const [group, members] of this.groups()) {
      const releases = new Set(members.map((m) => this.release.get(m)));
      const isMixed = releases.size > 1;
      const since = this.since.get(group);
      if (isMixed && since === undefined) this.since.set(group, now);
      if (!isMixed && since !== undefined) {
        this.longest.set(group, Math.max(this.longest.get(group) ?? 0, now - since));
        this.since.delete(group);
      }
    }
  }

  result(speed: number): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [group] of this.groups())
      out[group] = Math.round(((this.longest.get(group) ?? 0) / 1000) * speed);
    return out;
  }
}

/**
 * D9 in the lab, after the upgrade: the fleet file brought up to date, a patch of the DMA
 * supercluster (10.1.0 → 10.1.1) whose install leaves bos-2 off dma-bos's dashboard (D8b, that
 * install only), so the run escalates at dma-bos's verification. The operator's way on, done here
 * as rollgate would be told: abort the run, bring the file up to date, and roll dma-bos's last
 * upgrade back (`rollgate rollback FLEET --cluster dma-bos --yes --confirm-finalize`).
 */
async function rollbackDemo(
  lab: Awaited<ReturnType<typeof startLab>>,
  options: DemoOptions,
  rb: NonNullable<DemoOptions["rollbackDemo"]>,
): Promise<RollbackDemoReport> {
  const say = async (line: string) => {
    await rb.onPhase?.(line);
  };
  const { syncFleetFile } = await import("./fleet-sync.ts");
  const { dmaRollbackTargets } = await import("./rollback-targets.ts");
  const { abortRun } = await import("./control.ts");
  const { openStore } = await import("../store/open.ts");
  const file = lab.derivedFleetPath;
  const { cluster, server, patch } = DEMO_ROLLBACK;
  await syncFleetFile(file, { write: true });
  const before = loadFleetFile(file).clusters.find((c) => c.name === cluster)!.version;
  await say(
    `rollback demo (D9): a patch of the DMA supercluster to ${patch}; its install leaves ${server} off ${cluster}'s dashboard (D8b)`,
  );
  lab.fault(server, "dashboard-missing", { once: true });
  const up = await apply({
    fleetFile: file,
    targets: [`polycom-dma=${patch}`],
    strategy: "patch",
    yes: true,
    confirmFinalize: true,
    planner: options.planner,
  });
  const esc = up.escalation as { rule?: string; detail?: string } | undefined;
  await say(`  the patch run ${up.state}${esc ? `: [${esc.rule}] ${esc.detail}` : ""}`);
  const store = openStore(up.statePath);
  try {
    const run = await store.getRun(up.runId);
    if (run && run.state !== "completed" && run.state !== "aborted")
      await abortRun(store, run, "rollgate demo");
  } finally {
    await store.close();
  }
  await syncFleetFile(file, { write: true });
  const fleet = loadFleetFile(file);
  const plan = rb.planner(fleet, cluster, await dmaRollbackTargets(fleet, [cluster]));
  for (const f of plan.findings ?? []) await say(`  ${f}`);
  const command = `rollgate rollback FLEET --cluster ${cluster} --yes --confirm-finalize`;
  await say(`  ${command}`);
  const back = await apply({
    fleetFile: file,
    targets: [],
    strategy: "auto",
    yes: true,
    confirmFinalize: true,
    planner: () => plan,
  });
  const status = lab.status();
  const c = lab.world.clusters.get(cluster)!;
  const release = c.servers[0]!.release;
  const dataStoreRestored = c.dataStore.lineage.some((l) =>
    l.startsWith("restored to its state before the upgrade"),
  );
  const rejoined = c.supercluster !== null && c.inService;
  await say(
    `  ${cluster} ${back.state}: on ${release}, ${rejoined ? `back in ${c.supercluster}` : "not back in a supercluster"}; lab violations ${status.violations.length}`,
  );
  return {
    ok:
      up.state === "escalated" &&
      back.state === "completed" &&
      compareVersions(release, before) === 0 &&
      dataStoreRestored &&
      rejoined &&
      status.violations.length === 0,
    cluster,
    patch: `${before} → ${patch}`,
    patchState: up.state,
    ...(esc
      ? {
          escalation: {
            ...(esc.rule ? { rule: esc.rule } : {}),
            ...(esc.detail ? { detail: esc.detail } : {}),
          },
        }
      : {}),
    findings: plan.findings ?? [],
    command,
    rollbackState: back.state,
    release,
    dataStoreRestored,
    rejoined,
    labViolations: status.violations.length,
  };
}
