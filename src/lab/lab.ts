import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import type { Server } from "node:http";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { loadFleetFile } from "../io/fleet-loader.ts";
import { RollgateError } from "../model/errors.ts";
import type { Fleet } from "../model/fleet.ts";
import { CONTROL_ADDRESS, type AddressMapping, mapAddresses } from "./address-map.ts";
import { ApplianceServers } from "./appliance-server.ts";
import { type Scheduler, TimerWheel } from "./clock.ts";
import { createControlServer, listenControl } from "./control-server.ts";
import { checkSpeed, derivedFleetDocument } from "./derived-fleet.ts";
import type { FaultKind } from "./faults.ts";
import { LabJournal } from "./journal.ts";
import { labPaths, type LabRecord, type LabServerInfo, removeRecord, writeRecord } from "./record.ts";
import type { ActionReply, ActionRequest, LabStatus } from "./types.ts";
import { LabWorld } from "./world.ts";

export interface LabOptions {
  /** Time compression: an action takes its estimate ÷ speed (default 1). */
  speed?: number;
  /** The one port every appliance and the control API use; 0 or absent: any free port. */
  port?: number;
  /** Where the derived fleet, record and journal go when `fleet` is not a path (default: a temp dir). */
  dir?: string;
  /** Write the record beside the fleet file (default true when `fleet` is a path). */
  writeRecord?: boolean;
  /** Append the journal to a JSON-lines file (default true). */
  journalFile?: boolean;
  /** Injected time (tests); default the real clock. */
  scheduler?: Scheduler;
  /** Recorded in the lab's record (default "in-process"); `rollgate lab up` sets it. */
  mode?: "foreground" | "detached" | "in-process";
  /** Called by POST /lab/down (the CLI's foreground lab exits on it). */
  onDownRequest?: () => void;
}

export interface Lab {
  fleet: Fleet;
  speed: number;
  port: number;
  controlUrl: string;
  derivedFleetPath: string;
  recordPath: string | undefined;
  journalPath: string | undefined;
  servers: LabServerInfo[];
  /** Servers whose loopback address is not 127.b.c.d (IPv6, collisions), with the reason. */
  remapped: AddressMapping[];
  world: LabWorld;
  status(): LabStatus;
  fault(server: string, kind: FaultKind, options?: { factor?: number; once?: boolean }): void;
  /** Drives a server by hand (as `rollgate lab act`); with wait (default), resolves when it ends. */
  act(server: string, request: ActionRequest, options?: { wait?: boolean }): Promise<ActionReply>;
  stop(): Promise<void>;
}

const PORT_ATTEMPTS = 12;

/** Starts a lab for a fleet file (or a Fleet) in this process. */
export async function startLab(fleetOrPath: string | Fleet, options: LabOptions = {}): Promise<Lab> {
  const speed = options.speed ?? 1;
  const fleetPath = typeof fleetOrPath === "string" ? resolve(fleetOrPath) : undefined;
  const fleet = typeof fleetOrPath === "string" ? loadFleetFile(fleetOrPath) : fleetOrPath;
  checkSpeed(fleet, speed); // before anything is written

  const paths = fleetPath
    ? labPaths(fleetPath)
    : (() => {
        const dir = options.dir ?? mkdtempSync(join(tmpdir(), "rollgate-lab-"));
        return labPaths(join(dir, `${fleet.name}.yaml`));
      })();
  mkdirSync(paths.dir, { recursive: true });

  const mapping = mapAddresses(
    fleet.clusters.flatMap((c) =>
      c.servers.map((s) => ({ server: s.name, cluster: c.name, address: s.address })),
    ),
  );
  const scheduler = options.scheduler ?? new TimerWheel();
  const journalPath = options.journalFile === false ? undefined : paths.journal;
  const journal = new LabJournal(() => scheduler.now(), journalPath ? { file: journalPath } : {});
  const world = new LabWorld(fleet, mapping, scheduler, journal, speed);
  const startedAt = new Date(scheduler.now()).toISOString();

  let port = 0;
  let appliances: ApplianceServers | undefined;
  let control: Server | undefined;
  let lastError: unknown;
  let stopping: Promise<void> | undefined;
  const urlOf = (loopback: string) => `http://${loopback}:${port}`;
  const servers = (): LabServerInfo[] =>
    mapping.map((m) => ({
      name: m.server,
      cluster: m.cluster,
      address: m.address,
      loopback: m.loopback,
      url: urlOf(m.loopback),
      ...(m.remapped ? { remapped: m.remapped } : {}),
    }));
  const status = (): LabStatus => {
    const installs: Record<string, number> = {};
    const list = mapping.map((m) => {
      const s = world.servers.get(m.server)!;
      installs[s.name] = s.installs;
      const a = s.activity ?? s.cluster.activity;
      return {
        name: s.name,
        cluster: s.cluster.name,
        address: s.address,
        loopback: s.loopback,
        url: urlOf(s.loopback),
        release: s.release,
        ...(s.mode !== undefined ? { mode: s.mode } : {}),
        state: world.stateOf(s),
        ...(a
          ? { activity: `${a.action}${a.release ? ` ${a.release}` : ""}${a.mode ? ` ${a.mode}` : ""}` }
          : {}),
      };
    });
    return {
      fleet: fleet.name,
      speed,
      port,
      controlUrl: `http://${CONTROL_ADDRESS}:${port}`,
      startedAt,
      servers: list,
      violations: journal.violations(),
      installs,
      faults: [...world.servers.values()].flatMap((s) =>
        [...s.faults.values()].map((f) => ({
          server: s.name,
          kind: f.kind,
          ...(f.factor !== undefined ? { factor: f.factor } : {}),
          ...(f.once ? { once: true } : {}),
        })),
      ),
      superclusters: [...world.superclusters.values()].map((s) => ({
        ...s,
        members: [...s.members],
        territories: s.territories.map((t) => ({ ...t })),
      })),
      journalSeq: journal.lastSeq,
    };
  };

  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      world.stop();
      await appliances?.close();
      await new Promise<void>((r) => {
        if (!control) return r();
        control.close(() => r());
        control.closeAllConnections();
      });
      journal.add({ kind: "lab", detail: "lab stopped" });
      await journal.close();
      if (recordPath) removeRecord(recordPath);
    })();
    return stopping;
  };

  const requested = options.port ?? 0;
  for (let attempt = 0; attempt < PORT_ATTEMPTS; attempt++) {
    const tryPort = attempt === 0 ? requested : 0;
    control = createControlServer({
      world,
      journal,
      status,
      applianceUrl: (name) => {
        const s = world.servers.get(name);
        return s ? urlOf(s.loopback) : undefined;
      },
      down: () => {
        if (options.onDownRequest) options.onDownRequest();
        else void stop();
      },
    });
    try {
      port = await listenControl(control, tryPort);
    } catch (e) {
      lastError = e;
      control = undefined;
      continue;
    }
    appliances = new ApplianceServers(world, port);
    try {
      await appliances.listen();
      break;
    } catch (e) {
      lastError = e;
      appliances = undefined;
      await new Promise<void>((r) => control!.close(() => r()));
      control = undefined;
    }
  }
  if (!control || !appliances) {
    await journal.close();
    throw new RollgateError(
      "ROLLGATE_E_LAB_START_FAILED",
      `the lab could not bind its addresses: ${(lastError as Error)?.message ?? lastError}`,
      { cause: lastError },
    );
  }

  const controlUrl = `http://${CONTROL_ADDRESS}:${port}`;
  writeFileSync(
    paths.derivedFleet,
    derivedFleetDocument(fleet, { speed, driverUrl: `${controlUrl}/servers/{name}` }),
  );
  const recordPath = (options.writeRecord ?? fleetPath !== undefined) ? paths.record : undefined;
  journal.add({
    kind: "lab",
    detail: `lab up: ${mapping.length} server(s) of ${fleet.name} on port ${port}, speed ${speed}`,
    data: { remapped: mapping.filter((m) => m.remapped) },
  });
  const record: LabRecord = {
    pid: process.pid,
    mode: options.mode ?? "in-process",
    fleet: fleetPath ?? paths.derivedFleet,
    derivedFleet: paths.derivedFleet,
    port,
    controlUrl,
    speed,
    startedAt,
    journal: journalPath ?? null,
    servers: servers(),
  };
  if (recordPath) writeRecord(recordPath, record);

  return {
    fleet,
    speed,
    port,
    controlUrl,
    derivedFleetPath: paths.derivedFleet,
    recordPath,
    journalPath,
    servers: record.servers,
    remapped: mapping.filter((m) => m.remapped),
    world,
    status,
    fault: (server, kind, o = {}) => {
      const r = world.fault(server, { kind, ...o });
      if (!r.ok)
        throw new RollgateError(
          r.code === "unknown-server" ? "ROLLGATE_E_LAB_UNKNOWN_SERVER" : "ROLLGATE_E_USAGE",
          r.message,
        );
    },
    act: async (server, request, o = {}) => {
      const reply = world.perform(server, request, "console");
      if (reply.status === 202 && (o.wait ?? true)) return reply.completion;
      return reply;
    },
    stop,
  };
}
