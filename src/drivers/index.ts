import { RollgateError } from "../model/errors.ts";
import type { Cluster } from "../model/fleet.ts";
import type { Driver } from "./driver.ts";
import { ExecDriver } from "./exec.ts";
import { HttpDriver } from "./http.ts";

const http = new HttpDriver();
const execDrivers = new WeakMap<Cluster, ExecDriver>();

/** The driver a cluster's fleet-file entry names (http over exec when both are given). */
export function driverFor(cluster: Cluster): Driver {
  if (cluster.driver?.http) return http;
  if (cluster.driver?.exec) {
    let d = execDrivers.get(cluster);
    if (!d) {
      d = new ExecDriver(cluster.driver.exec);
      execDrivers.set(cluster, d);
    }
    return d;
  }
  throw new RollgateError(
    "ROLLGATE_E_NO_DRIVER",
    `cluster ${cluster.name} has no driver: add driver.http or driver.exec to the fleet file`,
  );
}

export type { Driver } from "./driver.ts";
