import { existsSync } from "node:fs";
import { driverFor as defaultDriverFor } from "../drivers/index.ts";
import type { Driver } from "../drivers/driver.ts";
import { RollgateError } from "../model/errors.ts";
import type { Cluster, Fleet } from "../model/fleet.ts";
import type { Plan } from "../plan/types.ts";
import { isStoreUrl } from "../store/location.ts";
import { openStore } from "../store/open.ts";
import { fleetIdentity } from "./identity.ts";
import { unfinishedRunError } from "./locate.ts";
import { statePathFrom } from "./state-path.ts";

/**
 * D9: what a rollback of each named DMA cluster's last applied upgrade returns to, as the cluster
 * itself says (`rollbackTo` in its status: the release before that upgrade, null when there is
 * none). Read through the cluster's driver from the first server that answers; a cluster none of
 * whose servers says (unreachable, a malformed answer, a driver that does not report it) is
 * refused here, each server with its reason (ROLLGATE_E_ROLLBACK_UNSUPPORTED). Matrices and
 * generic clusters are not asked.
 */
export async function dmaRollbackTargets(
  fleet: Fleet,
  names: readonly string[] | undefined,
  driverFor: (c: Cluster) => Driver = defaultDriverFor,
): Promise<Map<string, string | null>> {
  const out = new Map<string, string | null>();
  const byName = new Map(fleet.clusters.map((c) => [c.name, c]));
  for (const raw of names ?? []) {
    const c = byName.get(raw.trim());
    if (c?.pack !== "polycom-dma" || out.has(c.name)) continue;
    const driver = driverFor(c);
    const why: string[] = [];
    for (const server of c.servers) {
      const ob = await driver.observe({ cluster: c, server });
      if (ob.state === "unreachable" || ob.rollbackTo === undefined) {
        why.push(
          `${server.name}: ${ob.state === "unreachable" ? (ob.error ?? "unreachable") : "its status does not say rollbackTo"}`,
        );
        continue;
      }
      out.set(c.name, ob.rollbackTo);
      break;
    }
    if (!out.has(c.name))
      throw new RollgateError(
        "ROLLGATE_E_ROLLBACK_UNSUPPORTED",
        `${c.name}: no server of it said what a rollback of its last upgrade returns to (D9: rollbackTo), so nothing was planned: ${why.join("; ")}`,
        { details: { cluster: c.name } },
      );
  }
  return out;
}

/**
 * Before a rollback is planned from what the clusters say: an unfinished run of this fleet in its
 * state file comes first. A rollback run cut short (an engine killed, a halt at its point of no
 * return) is what `rollback --yes` goes on with: its plan is returned, so that the run is resumed
 * rather than planned again from a cluster that has rolled back already. Any other unfinished run
 * is refused, as apply refuses it (ROLLGATE_E_RUN_UNFINISHED), before any cluster is asked.
 */
export async function unfinishedRollbackPlan(
  fleetFile: string,
  fleet: Fleet,
  state: string | undefined,
): Promise<Plan | undefined> {
  const statePath = statePathFrom({ ...(state ? { state } : {}), fleet: fleetFile });
  if (!isStoreUrl(statePath) && !existsSync(statePath)) return undefined;
  const store = openStore(statePath, isStoreUrl(statePath) ? {} : { readonly: true });
  try {
    const run = await store.findUnfinishedRun(undefined, undefined, fleetIdentity(fleet));
    if (!run) return undefined;
    const plan = await store.getPlan(run.id);
    if (plan.rollback) return plan;
    throw unfinishedRunError(run, "a rollback", fleetFile);
  } finally {
    await store.close();
  }
}
