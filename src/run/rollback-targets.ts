import { driverFor as defaultDriverFor } from "../drivers/index.ts";
import type { Driver } from "../drivers/driver.ts";
import type { Cluster, Fleet } from "../model/fleet.ts";

/**
 * D9: what a rollback of each named DMA cluster's last applied upgrade returns to, as the cluster
 * itself says (`rollbackTo` in its status: the release before that upgrade, null when there is
 * none). Read through the cluster's driver from the first server that answers; a cluster that
 * does not say (unreachable, or a driver that does not report it) is left out, and the planner
 * refuses it saying why. Matrices and generic clusters are not asked.
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
    for (const server of c.servers) {
      const ob = await driver.observe({ cluster: c, server });
      if (ob.state === "unreachable" || ob.rollbackTo === undefined) continue;
      out.set(c.name, ob.rollbackTo);
      break;
    }
  }
  return out;
}
