import type { RunState } from "../events/types.ts";
import type { RunRecord } from "./types.ts";

/** A row of the `runs` table, as both stores keep it (SQLite and PostgreSQL: the same columns). */
export interface RunRow {
  id: string;
  fleet: string;
  fleet_file: string;
  target: string;
  strategy: string;
  state: string;
  created_at: string;
  updated_at: string;
  confirmed_json: string;
  fleet_id: string | null;
}

/**
 * The columns of a RunRow, for the queries that read runs: never `SELECT *`, which would copy the
 * plan (`plan_json`, megabytes for a fleet of thousands) out of the database at every read of a
 * run's state (the engine reads it each loop turn).
 */
export const RUN_COLUMNS =
  "id, fleet, fleet_file, target, strategy, state, created_at, updated_at, confirmed_json, fleet_id";

/** The run as every other folder sees it. */
export function toRecord(r: RunRow): RunRecord {
  return {
    id: r.id,
    fleet: r.fleet,
    fleetFile: r.fleet_file,
    target: r.target,
    strategy: r.strategy,
    state: r.state as RunState,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    confirmed: JSON.parse(r.confirmed_json) as string[],
    ...(r.fleet_id ? { fleetId: r.fleet_id } : {}),
  };
}
