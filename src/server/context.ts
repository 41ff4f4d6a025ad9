import { statSync } from "node:fs";
import { loadFleetFile } from "../io/fleet-loader.ts";
import type { Fleet } from "../model/fleet.ts";
import type { Store, RunRecord } from "../store/types.ts";
import { RollgateError } from "../model/errors.ts";
import { FINISHED_STATES, type RunEvent } from "../events/types.ts";
import { type FleetRef, fleetRefOf, runOfFleet } from "../run/locate.ts";
import { RunModel } from "./run-model.ts";

/**
 * What every route shares: the store, the fleet files it may read, and one RunModel per run,
 * brought up to date with only the events it has not seen.
 */
export class ServerContext {
  private readonly models = new Map<string, RunModel>();
  private readonly fleets = new Map<string, { mtimeMs: number; fleet: Fleet | undefined }>();

  constructor(
    /** For reading (read-only when the server opened the state file itself). */
    readonly store: Store,
    readonly fleetFile: string | undefined,
    /** For the operator's actions: a read-write connection to the same file. */
    readonly writer: () => Store = () => store,
    /** The state file, when the server opened it by name (the commands it suggests name it). */
    readonly statePath?: string,
  ) {}

  async run(id: string): Promise<RunRecord> {
    const run = await this.store.getRun(id);
    if (!run) throw new RollgateError("ROLLGATE_E_API_NOT_FOUND", `no run ${id} in the state file`);
    return run;
  }

  /**
   * The run a page shows by default: the newest unfinished one, else the newest; of the fleet
   * `serve FLEET` names when it names one (a state file may hold other fleets' runs).
   */
  async defaultRun(): Promise<RunRecord | undefined> {
    const runs = await this.store.listRuns();
    this.fleetRef ??= this.fleetFile ? fleetRefOf(this.fleetFile) : undefined;
    const ref = this.fleetRef;
    const ours = ref ? runs.filter((r) => runOfFleet(r, ref)) : runs;
    return ours.find((r) => !FINISHED_STATES.includes(r.state)) ?? ours[0];
  }
  private fleetRef: FleetRef | undefined;

  /** A fleet file, read once per change; undefined when it is gone (a finished demo's temp dir). */
  fleet(path: string | undefined): Fleet | undefined {
    if (!path) return undefined;
    let mtimeMs: number;
    try {
      mtimeMs = statSync(path).mtimeMs;
    } catch {
      // gone (a finished demo's temp dir) or unreadable: the fleet last read, if any, is all there is
      return this.fleets.get(path)?.fleet;
    }
    const cached = this.fleets.get(path);
    if (cached && cached.mtimeMs === mtimeMs) return cached.fleet;
    let fleet: Fleet | undefined;
    try {
      fleet = loadFleetFile(path);
    } catch (e) {
      // a file mid-edit (unreadable, invalid: a catalog error) shows the fleet last read; a bug throws
      if (!(e instanceof RollgateError)) throw e;
      fleet = cached?.fleet;
    }
    this.fleets.set(path, { mtimeMs, fleet });
    return fleet;
  }

  /** The fleet a run was started from: `serve --fleet` when it names the same fleet, else the run's file. */
  fleetOf(run: RunRecord): Fleet | undefined {
    const given = this.fleet(this.fleetFile);
    if (given && given.name === run.fleet) return given;
    return this.fleet(run.fleetFile);
  }

  async model(run: RunRecord): Promise<RunModel> {
    let m = this.models.get(run.id);
    if (!m) {
      m = new RunModel(await this.store.getPlan(run.id), this.fleetOf(run));
      this.models.set(run.id, m);
    }
    const fresh: RunEvent[] = await this.store.events(run.id, m.lastSeq);
    m.apply(fresh);
    return m;
  }
}
