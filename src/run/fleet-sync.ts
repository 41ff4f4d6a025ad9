import {
  accessSync,
  constants,
  existsSync,
  chmodSync,
  realpathSync,
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
import { acquireHostLock } from "../store/host-lock.ts";
import { openStore } from "../store/open.ts";
import { fleetClaims, fleetIdentity } from "./identity.ts";
import { defaultStatePath } from "./locate.ts";
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
      // M11: the modes a matrix's servers report
      const modes: Record<string, string> = {};
      for (const o of mine) if (o.obs.mode !== undefined) modes[o.obs.server] = o.obs.mode;
      if (Object.keys(modes).length) out.modes = modes;
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
  options: { write: boolean; driverFor?: (c: Cluster) => Driver; statePath?: string },
): Promise<FleetSyncReport> {
  const before = readFleetText(file);
  // --write: the real file (through any symbolic link), and only if the user may write it
  const real = options.write ? realpathSync(file) : file;
  if (options.write) assertWritable(file, real);
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
  if (options.write && !upToDate) {
    // not while an engine holds this fleet: the host lock (any engine on this host driving one of
    // its servers), and an unfinished run of it in its state file (an engine elsewhere, or one
    // that stopped part way and will be resumed)
    const lock = await acquireHostLock(real, await fleetClaims(fleet, file));
    try {
      await refuseUnfinishedRun(file, fleet, options.statePath);
      writeAtomically(real, text);
    } finally {
      lock.release();
    }
  }
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

function assertWritable(file: string, real: string): void {
  const shown = real === file ? file : `${file} (→ ${real})`;
  let ok = true;
  try {
    accessSync(real, constants.W_OK);
  } catch {
    // realpath found the file: access(W_OK) fails only for no write access (EACCES, EROFS, EPERM)
    ok = false;
  }
  // root may write anything: a file with no write bit at all is still the operator's "read-only"
  if (ok && process.getuid?.() === 0 && (statSync(real).mode & 0o222) === 0) ok = false;
  if (!ok)
    throw new RollgateError(
      "ROLLGATE_E_FLEET_NOT_WRITABLE",
      `${shown} is read-only (mode ${(statSync(real).mode & 0o777).toString(8).padStart(4, "0")}): fleet sync --write does not rewrite it; make it writable (chmod u+w) or run fleet sync without --write and apply the printed text yourself; nothing was written`,
    );
}

async function refuseUnfinishedRun(file: string, fleet: Fleet, statePath?: string): Promise<void> {
  const path = statePath ?? defaultStatePath(file);
  if (!existsSync(path)) return;
  const store = openStore(path, { readonly: true });
  try {
    const run = await store.findUnfinishedRun(undefined, undefined, fleetIdentity(fleet));
    if (run)
      throw new RollgateError(
        "ROLLGATE_E_RUN_LOCKED",
        `run ${run.id} of fleet ${run.fleet} (→ ${run.target}) is not finished (${run.state}) in ${path}: fleet sync --write does not rewrite the fleet file under an engine; wait for it to end (or abort it: rollgate abort ${file}), see rollgate status ${file}; nothing was written`,
        { details: { runId: run.id, state: run.state } },
      );
  } finally {
    await store.close();
  }
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
