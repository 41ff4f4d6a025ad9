import {
  chmodSync,
  closeSync,
  fsyncSync,
  openSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { driverFor as defaultDriverFor } from "../drivers/index.ts";
import type { Driver, ServerObservation } from "../drivers/driver.ts";
import { parseFleetText } from "../model/fleet-file.ts";
import { readFleetText } from "../io/fleet-loader.ts";
import { RollgateError } from "../model/errors.ts";
import type { Cluster, Fleet } from "../model/fleet.ts";
import { type FleetChange, lineDiff, type ObservedCluster, syncFleetText } from "../model/fleet-sync.ts";

/**
 * `rollgate fleet sync FLEET [--write]`: observe every server through its driver (G5) and bring
 * the fleet file up to what they report (model/fleet-sync.ts). With `write`, the file is replaced
 * atomically (a temporary file beside it, fsync, rename), keeping its mode.
 */
export interface FleetSyncReport {
  file: string;
  /** True when the file already says what the servers report. */
  upToDate: boolean;
  written: boolean;
  changes: FleetChange[];
  /** What the servers report differently that is not written (territories' temporary assignment, …). */
  notes: FleetChange[];
  /** The lines that change, `-`/`+` with line numbers. */
  diff: string[];
  /** The fleet file as it should read. */
  text: string;
}

/** The observations of a fleet's servers, per cluster, as fleet sync reads them. */
export function observedClusters(
  fleet: Fleet,
  observations: ReadonlyArray<{ cluster: Cluster; obs: ServerObservation }>,
): ObservedCluster[] {
  return fleet.clusters
    .map((c): ObservedCluster | undefined => {
      const mine = observations.filter((o) => o.cluster.name === c.name && o.obs.state !== "unreachable");
      if (mine.length === 0) return undefined;
      const releases: Record<string, string> = {};
      for (const o of mine) releases[o.obs.server] = o.obs.release;
      const out: ObservedCluster = { cluster: c.name, releases };
      const view = mine.find((o) => o.obs.supercluster !== undefined)?.obs;
      if (c.pack === "polycom-dma" && view) {
        out.supercluster = view.supercluster ?? null;
        out.members = view.superclusterMembers ?? [];
        out.territories = (view.territories ?? []).map((t) => ({
          name: t.name,
          primary: t.primary,
          ...(t.backup ? { backup: t.backup } : {}),
        }));
      }
      return out;
    })
    .filter((x): x is ObservedCluster => x !== undefined);
}

/** What the fleet file should say, given what its servers report; the file's own text kept. */
export function fleetFileUpdate(
  file: string,
  fleet: Fleet,
  observations: ReadonlyArray<{ cluster: Cluster; obs: ServerObservation }>,
): { before: string; text: string; changes: FleetChange[]; diff: string[] } {
  const before = readFleetText(file);
  const { text, changes } = syncFleetText(before, fleet, observedClusters(fleet, observations));
  return { before, text, changes, diff: text === before ? [] : lineDiff(before, text) };
}

export async function syncFleetFile(
  file: string,
  options: { write: boolean; driverFor?: (c: Cluster) => Driver },
): Promise<FleetSyncReport> {
  const before = readFleetText(file);
  const parsed = parseFleetText(before, file);
  if (!parsed.ok)
    throw new RollgateError(
      parsed.diagnostics[0]!.code,
      `${file}: the fleet file is not valid; fix it before syncing`,
      {
        diagnostics: parsed.diagnostics,
      },
    );
  const fleet = parsed.fleet;
  const noDriver = fleet.clusters.filter((c) => !c.driver?.http && !c.driver?.ssh && !c.driver?.exec);
  if (noDriver.length)
    throw new RollgateError(
      "ROLLGATE_E_NO_DRIVER",
      `no driver for cluster(s) ${noDriver.map((c) => c.name).join(", ")}: fleet sync observes every server through its driver (add driver.http, driver.ssh or driver.exec, or use \`rollgate lab up\`)`,
    );
  const driverFor = options.driverFor ?? defaultDriverFor;
  const observations = await Promise.all(
    fleet.clusters.flatMap((cluster) =>
      cluster.servers.map(async (server) => ({
        cluster,
        obs: await driverFor(cluster).observe({ cluster, server }),
      })),
    ),
  );
  const unreachable = observations.filter((o) => o.obs.state === "unreachable");
  if (unreachable.length)
    throw new RollgateError(
      "ROLLGATE_E_PREFLIGHT_UNREACHABLE",
      `cannot reach ${unreachable.length} server(s): ${unreachable.map((o) => `${o.obs.server} (${o.cluster.name})${o.obs.error ? `: ${o.obs.error}` : ""}`).join(", ")}; the fleet file was not changed`,
    );
  const { text, changes, notes } = syncFleetText(before, fleet, observedClusters(fleet, observations));
  const upToDate = text === before;
  if (options.write && !upToDate) writeAtomically(file, text);
  return {
    file,
    upToDate,
    written: options.write && !upToDate,
    changes,
    notes,
    diff: upToDate ? [] : lineDiff(before, text),
    text,
  };
}

function writeAtomically(file: string, text: string): void {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  const mode = statSync(file).mode & 0o7777;
  const fd = openSync(tmp, "wx", mode);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    unlinkSync(tmp);
    throw e;
  }
  closeSync(fd);
  chmodSync(tmp, mode);
  renameSync(tmp, file);
}
