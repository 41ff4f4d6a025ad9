import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { RollgateError } from "../model/errors.ts";
import { controlRequest, labAnswers } from "./control-client.ts";
import { isAlive, labPaths, type LabRecord, readRecord, removeRecord } from "./record.ts";

/**
 * A lab as its own process: `rollgate lab up --detach` starts `rollgate lab up` (foreground)
 * detached, waits until its record appears and its control API answers, and returns;
 * `rollgate lab down` asks it to stop and waits until it has.
 */
const BIN = fileURLToPath(new URL("../../bin/rollgate.js", import.meta.url));

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function spawnDetachedLab(
  fleetPath: string,
  options: { speed: number; port?: number; timeoutMs?: number },
): Promise<LabRecord> {
  const abs = resolve(fleetPath);
  const paths = labPaths(abs);
  mkdirSync(paths.dir, { recursive: true });
  const log = openSync(paths.log, "w");
  const args = [BIN, "lab", "up", abs, "--speed", String(options.speed), "--detached-child"];
  if (options.port !== undefined) args.push("--port", String(options.port));
  const child = spawn(process.execPath, args, {
    detached: true,
    stdio: ["ignore", log, log],
    env: { ...process.env, NO_COLOR: "1" },
  });
  closeSync(log);
  let exited: number | null | undefined;
  child.on("exit", (code) => (exited = code));
  child.unref();
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  for (let delay = 20; ; delay = Math.min(delay * 2, 250)) {
    const rec = readRecord(paths.record);
    if (rec && rec.pid === child.pid && (await labAnswers(rec))) return rec;
    if (exited !== undefined || Date.now() > deadline) {
      if (exited === undefined && child.pid) process.kill(child.pid, "SIGTERM");
      const out = existsSync(paths.log)
        ? readFileSync(paths.log, "utf8").trim().split("\n").slice(-8).join("\n")
        : "";
      throw new RollgateError(
        "ROLLGATE_E_LAB_START_FAILED",
        `the lab process ${exited !== undefined ? `exited (code ${exited})` : "did not come up in time"}${out ? `:\n${out}` : ""}`,
        { details: { log: paths.log } },
      );
    }
    await pause(delay);
  }
}

/** Stops the lab of a record and removes the record. Signals only `rollgate lab up` processes. */
export async function stopLabProcess(
  record: LabRecord,
  recordPath: string,
  timeoutMs = 20_000,
): Promise<void> {
  let asked = false;
  try {
    const r = await controlRequest(record, "POST", "/lab/down", {}, 5000);
    asked = r.status < 300;
  } catch {
    // no answer (gone, stuck, refused): the lab is stopped by a signal below instead
    asked = false;
  }
  const ownProcess = record.mode !== "in-process";
  if (!asked && ownProcess && isAlive(record.pid)) process.kill(record.pid, "SIGTERM");
  const deadline = Date.now() + timeoutMs;
  for (let delay = 20; ; delay = Math.min(delay * 2, 250)) {
    const gone = ownProcess ? !isAlive(record.pid) : !(await labAnswers(record, 500));
    if (gone) break;
    if (Date.now() > deadline) {
      if (ownProcess && isAlive(record.pid)) process.kill(record.pid, "SIGKILL");
      break;
    }
    await pause(delay);
  }
  const still = readRecord(recordPath);
  if (still && still.pid === record.pid) removeRecord(recordPath);
}
