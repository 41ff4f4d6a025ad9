import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { loadFleetFile } from "../io/fleet-loader.ts";
import { labPaths } from "../lab/record.ts";
import { RollgateError } from "../model/errors.ts";
import { openStore } from "../store/open.ts";
import type { Store } from "../store/types.ts";
import type { RunRecord } from "../store/types.ts";
import { FINISHED_STATES } from "../events/types.ts";
import { fleetIdentity } from "./identity.ts";
import { isStoreUrl, redactStoreUrl } from "../store/location.ts";
import { defaultStatePath, statePathFrom } from "./state-path.ts";

export { defaultStatePath, statePathFrom };

/** Opens an existing state file (never creates one); the opening itself is store/open.ts's. */
export { openExistingStore } from "../store/open.ts";

/** The fleet a command names, as runs record it: by its servers (identity), and its name. */
export interface FleetRef {
  /** Unset when the file cannot be read now (moved, or being edited): then runs started from it. */
  name?: string;
  /** fleetIdentity(fleet): a run belongs to this fleet when its fleet_id is this. */
  id?: string;
  file: string;
}

/**
 * The fleet a file names. A file that cannot be read or is invalid (an operator mid-edit who
 * needs to pause now) still names the runs started from that very path.
 */
export function fleetRefOf(fleetFile: string): FleetRef {
  const file = resolve(fleetFile);
  try {
    const fleet = loadFleetFile(fleetFile);
    return { name: fleet.name, id: fleetIdentity(fleet), file };
  } catch (e) {
    if (!(e instanceof RollgateError)) throw e; // unreadable or invalid only; a bug is not hidden
    return { file };
  }
}

/** A run of `fleet`: the same servers; a run recorded before identities were kept, by name. */
export const runOfFleet = (run: RunRecord, fleet: FleetRef): boolean => {
  if (fleet.id === undefined) return resolve(run.fleetFile) === fleet.file;
  return run.fleetId !== undefined ? run.fleetId === fleet.id : run.fleet === fleet.name;
};

const fleetWords = (f: FleetRef) => (f.name ? `fleet ${f.name} (${f.file})` : `the fleet of ${f.file}`);

const isUnfinished = (r: RunRecord) => !FINISHED_STATES.includes(r.state);

const describeRun = (r: RunRecord, statePath?: string) =>
  `${r.id} (fleet ${r.fleet} → ${r.target}, ${r.state}, from ${r.fleetFile}${statePath ? `; --state ${redactStoreUrl(statePath)}` : ""})`;

export interface PickOptions {
  run?: string;
  /** Pause, resume, abort: a finished run is an error, not an answer. */
  unfinishedOnly?: boolean;
  /** The fleet the command named: only its runs are candidates. */
  fleet?: FleetRef;
}

/**
 * The run a control command acts on: the one named (`--run`); else, of the named fleet's runs (or
 * of every run when no fleet is named), the one unfinished run, else the newest run. Several
 * unfinished candidates are refused (ROLLGATE_E_RUN_AMBIGUOUS, listing them): a command never
 * guesses which run to steer. One state file may hold the runs of several fleets (every
 * lab-derived fleet file of a folder shares `.rollgate/lab/.rollgate/state.db`).
 */
export async function pickRun(store: Store, options: PickOptions): Promise<RunRecord> {
  return pickFrom([{ statePath: store.location, runs: await store.listRuns() }], options).run;
}

interface Candidates {
  statePath: string;
  runs: RunRecord[];
}

function pickFrom(sources: Candidates[], options: PickOptions): { run: RunRecord; statePath: string } {
  const where = sources.map((s) => redactStoreUrl(s.statePath)).join(" and ");
  if (options.run) {
    for (const s of sources) {
      const r = s.runs.find((x) => x.id === options.run);
      if (!r) continue;
      // A fleet file named with another fleet's run: refused, never acted on (issue 14).
      if (options.fleet && !runOfFleet(r, options.fleet))
        throw new RollgateError(
          "ROLLGATE_E_RUN_OTHER_FLEET",
          `run ${r.id} is not a run of ${fleetWords(options.fleet)}: it is a run of fleet ${r.fleet} (from ${r.fleetFile}); name that fleet's file with --run ${r.id}, or a run of ${options.fleet.file}`,
        );
      return { run: r, statePath: s.statePath };
    }
    throw new RollgateError(
      "ROLLGATE_E_RUN_NOT_FOUND",
      `no run ${options.run}${options.fleet ? ` of ${fleetWords(options.fleet)}` : ""} in ${where}`,
    );
  }
  const all = sources.flatMap((s) => s.runs.map((run) => ({ run, statePath: s.statePath })));
  const fleet = options.fleet;
  const mine = fleet ? all.filter((c) => runOfFleet(c.run, fleet)) : all;
  const open = mine.filter((c) => isUnfinished(c.run));
  if (open.length > 1) {
    const several = sources.length > 1;
    throw new RollgateError(
      "ROLLGATE_E_RUN_AMBIGUOUS",
      `${open.length} unfinished runs${fleet ? ` of ${fleetWords(fleet)}` : ""} in ${where}; name one with --run ID: ${open
        .map((c) => describeRun(c.run, several ? c.statePath : undefined))
        .join("; ")}`,
    );
  }
  if (open.length === 1) return open[0]!;
  const newest = [...mine].sort((a, b) => b.run.createdAt.localeCompare(a.run.createdAt))[0];
  if (!newest) {
    const others = all.map((c) => describeRun(c.run)).slice(0, 5);
    throw new RollgateError(
      "ROLLGATE_E_RUN_NOT_FOUND",
      fleet
        ? `no run of ${fleet.name ? `fleet ${fleet.name} (the servers of ${fleet.file})` : `the fleet of ${fleet.file} (which cannot be read now: runs started from it)`} in ${where}${others.length ? `; it holds runs of other fleets: ${others.join("; ")} (name the fleet file of the run you mean; --run ID picks one of this fleet's runs)` : ""}`
        : `${where} holds no run`,
    );
  }
  if (options.unfinishedOnly)
    throw new RollgateError(
      "ROLLGATE_E_RUN_FINISHED",
      `run ${newest.run.id} has already ${newest.run.state === "completed" ? "completed" : "been aborted"}`,
    );
  return newest;
}

export interface LocatedRun {
  statePath: string;
  run: RunRecord;
  /**
   * The fleet file to drive the run with: the one named when the run is in its own state file,
   * else the file the run was started from (a lab's derived fleet file).
   */
  fleetFile?: string;
  /** Set when the run was found in the state of the lab of the fleet file named (docs/lab.md). */
  viaLab?: { derivedFleet: string };
}

/**
 * Which state file(s) and run a run command (status, pause, resume, abort) means.
 *
 * - `--state PATH`: that file only (with a fleet named, only that fleet's runs in it).
 * - A fleet file: its own state (`.rollgate/state.db` beside it) and, when a lab of it has been up
 *   (its derived fleet file `.rollgate/lab/<base>.lab.yaml` exists), the derived file's state —
 *   so the original file steers its lab rehearsal just as the derived file does. Only runs of that
 *   fleet (by its servers, fleetIdentity) count.
 * - Neither: `.rollgate/state.db` here, every run in it.
 */
export async function locateRun(options: {
  fleet?: string;
  state?: string;
  run?: string;
  unfinishedOnly?: boolean;
}): Promise<LocatedRun> {
  const fleet = options.fleet ? fleetRefOf(options.fleet) : undefined;
  const own = statePathFrom(options);
  const paths = [own];
  let derived: string | undefined;
  // an explicit store (--state, ROLLGATE_STATE) is the only place looked in
  if (options.fleet && !(options.state || process.env.ROLLGATE_STATE)) {
    const d = labPaths(options.fleet).derivedFleet;
    if (existsSync(d)) {
      derived = d;
      const labState = defaultStatePath(d);
      if (labState !== own) paths.push(labState);
    }
  }
  // a PostgreSQL store is present when named; a readonly open says if it holds no store
  const present = paths.filter((p) => isStoreUrl(p) || existsSync(p));
  if (!present.length && options.fleet && !existsSync(options.fleet))
    throw new RollgateError(
      "ROLLGATE_E_FLEET_NOT_FOUND",
      `no fleet file at ${resolve(options.fleet)} (and no state file beside it): check the path`,
    );
  if (!present.length) {
    throw new RollgateError(
      "ROLLGATE_E_RUN_NOT_FOUND",
      `no state file at ${paths.join(" or ")}: no run has been started for this fleet (use --state PATH to point at one)`,
    );
  }
  const sources = present.map(async (statePath) => {
    const store = openStore(statePath, { readonly: true });
    try {
      return { statePath, runs: await store.listRuns() };
    } finally {
      await store.close();
    }
  });
  const picked = pickFrom(await Promise.all(sources), {
    ...(options.run ? { run: options.run } : {}),
    ...(options.unfinishedOnly ? { unfinishedOnly: true } : {}),
    ...(fleet ? { fleet } : {}),
  });
  const inLab = derived !== undefined && picked.statePath !== own;
  return {
    statePath: picked.statePath,
    run: picked.run,
    ...(inLab ? { fleetFile: picked.run.fleetFile, viaLab: { derivedFleet: derived! } } : {}),
    ...(!inLab && options.fleet ? { fleetFile: resolve(options.fleet) } : {}),
  };
}

/** What a run command says on stderr about where it found the run, when that is not obvious. */
export function locatedNote(l: LocatedRun): string | undefined {
  return l.viaLab
    ? `the lab's run ${l.run.id}: read from ${l.statePath} (the state of ${l.viaLab.derivedFleet})`
    : undefined;
}

/**
 * ROLLGATE_E_RUN_UNFINISHED: one unfinished run per fleet (by its servers). `starting` says what
 * was asked ("a rollback", "a run to 3.5.1"); the way on is to resume that run or abort it
 * (`abort --rollback` is named for an upgrade run, which it can take back).
 */
export function unfinishedRunError(other: RunRecord, starting: string, fleetFile: string): RollgateError {
  const takeBack = starting === "a rollback" && !other.target.startsWith("rollback ");
  return new RollgateError(
    "ROLLGATE_E_RUN_UNFINISHED",
    `run ${other.id} of this fleet (${other.target}) is unfinished (${other.state}): finish it before starting ${starting}: rollgate resume ${fleetFile}, or rollgate abort ${fleetFile}${takeBack ? " (--rollback rolls its part-upgraded matrices back)" : ""}`,
    { details: { run: other.id, target: other.target, state: other.state } },
  );
}
