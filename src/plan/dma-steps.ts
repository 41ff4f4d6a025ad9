import type { Cluster } from "../model/fleet.ts";
import type { Step, StepAction } from "../model/step.ts";
import { estimateMs } from "./time.ts";

export type DmaStrategy = "patch" | "incremental" | "maintenance-window";

export const EPS = 1e-9;

/** A step's duration in integer ms (plan/time.ts); a DMA install lasts install + settle (D7). */
export function stepMs(c: Cluster, action: StepAction): number {
  return action === "install" ? estimateMs(c, "install") + estimateMs(c, "settle") : estimateMs(c, action);
}

export interface Sched {
  cluster: Cluster;
  /** out-of-service window: busy-out start to return-to-service end */
  start: number;
  /** start of the cluster's slot: its reassignment, if any, then the window */
  slotStart: number;
  end: number;
  steps: Step[];
}

const RULES: Record<DmaStrategy, Partial<Record<StepAction, string[]>>> = {
  patch: {
    "reassign-territories": ["D3", "D4", "G3"],
    "busy-out": ["D3", "G3"],
    install: ["D3", "D7"],
    verify: ["D8"],
    "return-to-service": ["D8", "G3"],
    "restore-territories": ["D3", "D4"],
  },
  incremental: {
    "reassign-territories": ["D4", "D6"],
    "busy-out": ["D4", "G3"],
    "leave-supercluster": ["D4", "D6"],
    install: ["D2", "D4", "D7"],
    verify: ["D8"],
    "join-supercluster": ["D10", "D2", "D6"],
    "return-to-service": ["D6", "D8", "G3"],
    "restore-territories": ["D6", "D4"],
  },
  "maintenance-window": {
    "reassign-territories": ["D5"],
    "busy-out": ["D5"],
    "leave-supercluster": ["D4", "D5"],
    install: ["D5", "D7"],
    verify: ["D8"],
    "join-supercluster": ["D10", "D5"],
    "restore-territories": ["D5"],
    "return-to-service": ["D5"],
  },
};

export function makeStep(
  strategy: DmaStrategy,
  c: Cluster,
  action: StepAction,
  start: number,
  after: string[],
  suffix = "",
): Step {
  return {
    id: `${c.name}/${action}${suffix}`,
    action,
    cluster: c.name,
    after,
    start,
    end: start + stepMs(c, action),
    rules: RULES[strategy][action] ?? [],
    pointOfNoReturn: false,
  };
}

/**
 * One cluster's out-of-service chain starting at `s`: busy-out … return-to-service (D3/D7 for a
 * patch; D4, D6, D10 for an incremental upgrade, where every cluster but the founder joins the
 * founder once the founder is verified).
 */
export function clusterChain(
  strategy: "patch" | "incremental",
  c: Cluster,
  s: number,
  target: string,
  founder: { name: string; verifyEnd: number } | undefined,
  newSc: string,
): Sched {
  const steps: Step[] = [];
  let t = s;
  let prev: string[] = [];
  const push = (action: StepAction, at = t): Step => {
    const st = makeStep(strategy, c, action, at, prev);
    steps.push(st);
    prev = [st.id];
    t = st.end;
    return st;
  };
  push("busy-out");
  if (strategy === "incremental") push("leave-supercluster");
  const inst = push("install");
  inst.release = target;
  const ver = push("verify");
  if (strategy === "incremental") {
    if (!founder || founder.name === c.name) {
      ver.founds = newSc;
      ver.supercluster = newSc;
      ver.rules = ["D8", "D6", "D10"];
    } else {
      const j = push("join-supercluster", Math.max(t, founder.verifyEnd));
      j.joins = founder.name;
      j.supercluster = newSc;
      j.after = [...j.after, `${founder.name}/verify`];
    }
  }
  push("return-to-service");
  return { cluster: c, start: s, slotStart: s, end: t, steps };
}
