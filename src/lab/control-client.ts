import { RollgateError } from "../model/errors.ts";
import { isAlive, labPaths, type LabRecord, readRecord, removeRecord } from "./record.ts";

/**
 * How the CLI reaches a running lab: its record beside the fleet file, then its control API on
 * 127.0.0.1. Used by `rollgate lab status|fault|act|down`.
 */
export interface LabFound {
  record: LabRecord;
  recordPath: string;
}

/** The running lab of a fleet file; throws ROLLGATE_E_LAB_NOT_RUNNING (and drops a stale record). */
export function findLab(fleetPath: string): LabFound {
  const recordPath = labPaths(fleetPath).record;
  const record = readRecord(recordPath);
  if (!record)
    throw new RollgateError(
      "ROLLGATE_E_LAB_NOT_RUNNING",
      `no lab is running for ${fleetPath} (start one with: rollgate lab up ${fleetPath} --detach)`,
    );
  if (!isAlive(record.pid)) {
    removeRecord(recordPath);
    throw new RollgateError(
      "ROLLGATE_E_LAB_NOT_RUNNING",
      `the lab of ${fleetPath} (pid ${record.pid}) is no longer running; its stale record was removed`,
    );
  }
  return { record, recordPath };
}

export interface ControlAnswer {
  status: number;
  body: Record<string, unknown>;
}

/** One request to the control API; throws ROLLGATE_E_LAB_UNREACHABLE when no answer comes. */
export async function controlRequest(
  record: Pick<LabRecord, "controlUrl">,
  method: "GET" | "POST",
  path: string,
  body?: unknown,
  timeoutMs = 10_000,
): Promise<ControlAnswer> {
  try {
    const res = await fetch(`${record.controlUrl}${path}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  } catch (e) {
    throw new RollgateError(
      "ROLLGATE_E_LAB_UNREACHABLE",
      `the lab's control API at ${record.controlUrl} did not answer ${method} ${path}: ${(e as Error).message}`,
    );
  }
}

/** True when the control API answers /lab/health. */
export async function labAnswers(record: Pick<LabRecord, "controlUrl">, timeoutMs = 2000): Promise<boolean> {
  try {
    const r = await controlRequest(record, "GET", "/lab/health", undefined, timeoutMs);
    return r.status === 200;
  } catch {
    // refused, timed out, reset: every failure to answer is the "no" this function reports
    return false;
  }
}
