import { RollgateError } from "../model/errors.ts";
import type { Cluster } from "../model/fleet.ts";
import type { Driver } from "./driver.ts";
import { ExecDriver } from "./exec.ts";
import { HttpDriver } from "./http.ts";
import { SshDriver } from "./ssh.ts";

const http = new HttpDriver();
const commandDrivers = new WeakMap<Cluster, ExecDriver>();

/** The driver a cluster's fleet-file entry names (http, else ssh, else exec, when several are given). */
export function driverFor(cluster: Cluster): Driver {
  const spec = cluster.driver;
  if (spec?.http) return http;
  if (spec?.ssh || spec?.exec) {
    let d = commandDrivers.get(cluster);
    if (!d) {
      d = spec.ssh ? new SshDriver(spec.ssh) : new ExecDriver(spec.exec!);
      commandDrivers.set(cluster, d);
    }
    return d;
  }
  throw new RollgateError(
    "ROLLGATE_E_NO_DRIVER",
    `cluster ${cluster.name} has no driver: add driver.http, driver.ssh or driver.exec to the fleet file`,
  );
}

export type { Driver } from "./driver.ts";
