import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, extname, join, resolve } from "node:path";

/**
 * Where a lab keeps its files, beside the fleet file:
 *   <fleet dir>/.rollgate/lab/<fleet base>.lab.yaml      the derived fleet file (drivers → the lab)
 *   <fleet dir>/.rollgate/lab/<fleet base>.lab.json      the record: pid, port, control URL, mapping
 *   <fleet dir>/.rollgate/lab/<fleet base>.journal.jsonl the lab's journal
 *   <fleet dir>/.rollgate/lab/<fleet base>.lab.log       a detached lab's stdout and stderr
 */
export interface LabPaths {
  dir: string;
  derivedFleet: string;
  record: string;
  journal: string;
  log: string;
}

export function labPaths(fleetPath: string): LabPaths {
  const abs = resolve(fleetPath);
  const dir = join(dirname(abs), ".rollgate", "lab");
  const base = basename(abs, extname(abs));
  return {
    dir,
    derivedFleet: join(dir, `${base}.lab.yaml`),
    record: join(dir, `${base}.lab.json`),
    journal: join(dir, `${base}.journal.jsonl`),
    log: join(dir, `${base}.lab.log`),
  };
}

export interface LabServerInfo {
  name: string;
  cluster: string;
  /** The fleet file's address. */
  address: string;
  loopback: string;
  /** The appliance API's base URL (http://<loopback>:<port>). */
  url: string;
  /** Why the loopback address is not 127.b.c.d, when it is not. */
  remapped?: string;
}

export interface LabRecord {
  pid: number;
  /** How the lab runs: a `rollgate lab up` process (foreground or detached), or inside another program. */
  mode: "foreground" | "detached" | "in-process";
  /** The original fleet file (absolute). */
  fleet: string;
  derivedFleet: string;
  port: number;
  controlUrl: string;
  speed: number;
  startedAt: string;
  journal: string | null;
  servers: LabServerInfo[];
}

export function writeRecord(path: string, record: LabRecord): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(record, null, 2)}\n`);
  renameSync(tmp, path);
}

export function readRecord(path: string): LabRecord | undefined {
  if (!existsSync(path)) return undefined;
  try {
    return JSON.parse(readFileSync(path, "utf8")) as LabRecord;
  } catch {
    // removed meanwhile, unreadable or not JSON (a crash mid-write): no record, as the callers treat it
    return undefined;
  }
}

export function removeRecord(path: string): void {
  rmSync(path, { force: true });
}

/** True when a process with this pid exists (signal 0 probes without touching it). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
