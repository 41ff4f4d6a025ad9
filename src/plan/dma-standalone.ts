import { RollgateError } from "../model/errors.ts";
import type { Cluster, Fleet } from "../model/fleet.ts";
import type { Step } from "../model/step.ts";
import { makeStep } from "./dma-steps.ts";
import type { DomainPlan } from "./rolling.ts";
import { fmtPct } from "./rolling.ts";

/** A DMA cluster outside any supercluster: the basic procedure (D7), a full outage of the cluster. */
export function planStandaloneDma(fleet: Fleet, c: Cluster, target: string): DomainPlan {
  if (fleet.defaults.capacityFloor > 0)
    throw new RollgateError(
      "ROLLGATE_E_PLAN_FLOOR_UNREACHABLE",
      `cluster ${c.name} is in no supercluster and its install runs on all its servers (D7): it is fully out of service, below the floor ${fmtPct(fleet.defaults.capacityFloor)} (G3). Set defaults.capacityFloor to 0 to allow it`,
      { details: { cluster: c.name } },
    );
  const steps: Step[] = [];
  let prev: string[] = [];
  let t = 0;
  for (const a of ["busy-out", "install", "verify", "return-to-service"] as const) {
    const st = makeStep("patch", c, a, t, prev);
    st.rules = a === "install" ? ["D7"] : a === "verify" ? ["D8"] : ["D7", "G3"];
    if (a === "install") st.release = target;
    steps.push(st);
    prev = [st.id];
    t = st.end;
  }
  return { domain: c.name, steps, ms: t, lowerBoundMs: t };
}
