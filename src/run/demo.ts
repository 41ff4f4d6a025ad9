import { copyFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { RunEvent } from "../events/types.ts";
import { loadFleetFile } from "../io/fleet-loader.ts";
import { startLab } from "../lab/index.ts";
import type { Fleet } from "../model/fleet.ts";
import { compareVersions } from "../model/version.ts";
import type { Plan, StrategyChoice } from "../plan/types.ts";
import type { SqliteStore } from "../store/sqlite.ts";
import type { RunRecord } from "../store/types.ts";
import { apply, type DriveHooks, type DriveResult } from "./apply.ts";
import { targetsOf } from "./rule-gate.ts";

/** The demo's fleet (examples/demo.yaml) and its targets: DMA 10.0.1 → 10.1.0 (incompatible), matrix 3.5.0 → 3.5.1. */
export const DEMO_FLEET = fileURLToPath(new URL("../../examples/demo.yaml", import.meta.url));
export const DEMO_TARGETS = ["polycom-dma=10.1.0", "polyserve-matrix=3.5.1"];
export const DEMO_SPEED = 600;

export interface DemoReport {
  ok: boolean;
  fleet: string;
  strategy: string;
  speed: number;
  /** Wall time of the run × speed: the upgrade's duration in real-world seconds. */
  durationSeconds: number;
  wallSeconds: number;
  planSeconds: number;
  lowerBoundSeconds: number;
  maintenanceWindowSeconds: number | null;
  minCapacity: number;
  capacityFloor: number;
  /** Longest time, real-world seconds, any cluster (matrix) or supercluster (DMA) ran mixed releases (M6, D6). */
  mixedWindows: Record<string, number>;
  rulesChecked: { statesVerified: number; ruleIds: string[] };
  labViolations: number;
  violations: unknown[];
  serversOnTarget: number;
  servers: number;
  installsPerServer: Record<string, number>;
  escalation?: unknown;
  runState: string;
}

export interface DemoOptions {
  speed?: number;
  planner: (fleet: Fleet, targets: string[], strategy: StrategyChoice) => Plan;
  compare: (fleet: Fleet, targets: string[]) => Array<{ strategy: string; seconds: number } | undefined>;
  onPlan?: (plan: Plan) => void;
  onEvent?: (e: RunEvent) => void;
  onStore?: (store: SqliteStore, run: RunRecord) => void | Promise<void>;
  /** Ctrl-C or SIGTERM while the engine runs (apply.ts's DriveHooks.onInterrupt). */
  onInterrupt?: DriveHooks["onInterrupt"];
  /** Where the demo keeps its files (default a new temp dir). */
  dir?: string;
}

/** Runs the demo: a lab on loopback, the plan, the engine, and a report of what the lab saw. */
export async function runDemo(options: DemoOptions): Promise<DemoReport> {
  const speed = options.speed ?? DEMO_SPEED;
  const dir = options.dir ?? mkdtempSync(join(tmpdir(), "rollgate-demo-"));
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
      durationSeconds: Math.round(wallSeconds * speed),
      wallSeconds: Math.round(wallSeconds * 10) / 10,
      planSeconds: Math.round(p.estimate.seconds * speed),
      lowerBoundSeconds: Math.round(p.estimate.lowerBoundSeconds * speed),
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
    return report;
  } finally {
    await lab.stop();
  }
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
