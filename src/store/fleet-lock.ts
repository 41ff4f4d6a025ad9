import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, realpathSync, unlinkSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { RollgateError } from "../model/errors.ts";
import { pidAlive } from "./sqlite.ts";

/**
 * One engine drives a fleet at a time, whatever state file each was given. The state file's own
 * lock (SqliteStore.acquireEngineLock) covers engines sharing a state file; this one covers the
 * fleet file itself, on this host: a lock file named after the fleet file's real path, created
 * exclusively (O_EXCL), holding the engine's pid. A lock left by a killed engine (its process
 * gone) is taken over. Engines on other hosts share nothing here but the state file.
 */
export interface FleetLock {
  path: string;
  release(): void;
}

interface Holder {
  pid: number;
  host: string;
  fleetFile: string;
  since: string;
}

export function lockDir(): string {
  return join(tmpdir(), "rollgate-engines");
}

export function acquireFleetLock(fleetFile: string, now: () => Date = () => new Date()): FleetLock {
  const real = realpathSync(fleetFile);
  const dir = lockDir();
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${createHash("sha256").update(real).digest("hex").slice(0, 24)}.lock`);
  const me: Holder = { pid: process.pid, host: hostname(), fleetFile: real, since: now().toISOString() };
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      writeFileSync(path, `${JSON.stringify(me)}\n`, { flag: "wx" });
      return {
        path,
        release: () => {
          try {
            if ((JSON.parse(readFileSync(path, "utf8")) as Holder).pid === process.pid) unlinkSync(path);
          } catch {
            /* gone already */
          }
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    let held: Holder | undefined;
    try {
      held = JSON.parse(readFileSync(path, "utf8")) as Holder;
    } catch {
      held = undefined; // being written, or removed meanwhile: try again
    }
    if (held && held.pid !== process.pid && pidAlive(held.pid)) {
      throw new RollgateError(
        "ROLLGATE_E_RUN_LOCKED",
        `another rollgate engine (pid ${held.pid} on ${held.host}, since ${held.since}) is driving fleet file ${real}; one engine drives a fleet at a time`,
        { details: { pid: held.pid, host: held.host, lock: path } },
      );
    }
    if (held) {
      try {
        unlinkSync(path); // left by an engine that is gone (or by this process): take it over
      } catch {
        /* another engine took it over first: the next attempt sees its lock */
      }
    }
  }
  throw new RollgateError("ROLLGATE_E_RUN_LOCKED", `could not take the engine lock ${path} for ${real}`);
}
