import { resolve } from "node:path";
import { type Command, Option } from "commander";
import { RollgateError } from "../../model/errors.ts";
import { labAnswers } from "../../lab/control-client.ts";
import type { startLab } from "../../lab/lab.ts";
import { spawnDetachedLab } from "../../lab/process.ts";
import { isAlive, labPaths, type LabRecord, readRecord, removeRecord } from "../../lab/record.ts";
import { action, type CliContext, parsePort, parseSpeed } from "../main.ts";
import { painter } from "../output.ts";
import { table } from "./lab-output.ts";

const DEFAULT_PORT = 18080;

interface UpOptions {
  speed: number;
  port?: number;
  detach?: boolean;
  json?: boolean;
  detachedChild?: boolean;
}

/** `rollgate lab up`: start the lab of a fleet file, in the foreground or detached. */
export function registerLabUp(lab: Command, ctx: CliContext): void {
  lab
    .command("up")
    .description(
      "start one simulated appliance per server, and write a derived fleet file that points at them",
    )
    .argument("<fleet>", "the fleet file")
    .option("--speed <n>", "time compression: an action takes its estimate ÷ N", parseSpeed, 1)
    .option(
      "--port <port>",
      `the port of every appliance (default ${DEFAULT_PORT}, another if taken)`,
      parsePort,
    )
    .option("--detach", "start the lab in the background and return once it is up")
    .option("--json", "print the derived fleet file and the servers as JSON")
    .addOption(new Option("--detached-child").hideHelp())
    .action(
      action(ctx, async (file: string, opts: UpOptions) => {
        const { loadFleetFile } = await import("../../io/fleet-loader.ts");
        const { checkSpeed } = await import("../../lab/derived-fleet.ts");
        // a bad fleet file, or a speed that would make its derived file invalid, before anything starts
        checkSpeed(loadFleetFile(file), opts.speed);
        await refuseIfRunning(file);
        if (opts.detach) {
          const record = await spawnDetachedLab(file, {
            speed: opts.speed,
            port: opts.port ?? DEFAULT_PORT,
          });
          printUp(ctx, record, Boolean(opts.json), true);
          return 0;
        }
        return runInForeground(ctx, file, opts);
      }),
    );
}

/** The lab in this process, until `lab down` (or a detached parent) asks it to stop, or a signal. */
async function runInForeground(ctx: CliContext, file: string, opts: UpOptions): Promise<number> {
  let release: () => void = () => {};
  const stopRequested = new Promise<void>((r) => (release = r));
  let labHandle: Awaited<ReturnType<typeof startLab>>;
  try {
    const { startLab } = await import("../../lab/lab.ts");
    labHandle = await startLab(file, {
      speed: opts.speed,
      port: opts.port ?? DEFAULT_PORT,
      mode: opts.detachedChild ? "detached" : "foreground",
      onDownRequest: () => release(),
    });
  } catch (e) {
    if (e instanceof RollgateError) throw e;
    throw new RollgateError("ROLLGATE_E_LAB_START_FAILED", (e as Error).message);
  }
  const record = readRecord(labHandle.recordPath!)!;
  printUp(ctx, record, Boolean(opts.json), false);
  const onSignal = () => release();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  await stopRequested;
  process.off("SIGINT", onSignal);
  process.off("SIGTERM", onSignal);
  await labHandle.stop();
  if (!opts.json) ctx.output.err("lab stopped");
  return 0;
}

async function refuseIfRunning(file: string): Promise<void> {
  const recordPath = labPaths(file).record;
  const record = readRecord(recordPath);
  if (!record) return;
  if (isAlive(record.pid) && (await labAnswers(record)))
    throw new RollgateError(
      "ROLLGATE_E_LAB_RUNNING",
      `a lab is already running for ${file} (pid ${record.pid}, ${record.controlUrl}); stop it with: rollgate lab down ${file}`,
    );
  removeRecord(recordPath);
}

function printUp(ctx: CliContext, record: LabRecord, json: boolean, detached: boolean): void {
  if (json) {
    ctx.output.json({
      fleet: record.derivedFleet,
      servers: record.servers.map((s) => ({
        name: s.name,
        address: s.address,
        url: s.url,
        ...(s.remapped ? { remapped: s.remapped } : {}),
      })),
      pid: record.pid,
      port: record.port,
      controlUrl: record.controlUrl,
      speed: record.speed,
      record: labPaths(record.fleet).record,
    });
    return;
  }
  const paint = painter(ctx.output.color);
  const o = ctx.output;
  o.out(
    `${paint("green", "lab up")}: ${record.servers.length} simulated server(s) on port ${record.port}, speed ${record.speed}${detached ? ` (pid ${record.pid})` : ""}`,
  );
  o.out(`derived fleet file: ${record.derivedFleet}`);
  o.out(`control API:        ${record.controlUrl}`);
  const remapped = record.servers.filter((s) => s.remapped);
  if (remapped.length) {
    o.out(paint("yellow", `${remapped.length} address(es) mapped to the lab's pool:`));
    for (const s of remapped) o.out(`  ${s.name} ${s.address} → ${s.loopback} (${s.remapped})`);
  }
  if (record.servers.length <= 50)
    o.out(
      table(
        ["SERVER", "CLUSTER", "ADDRESS", "URL"],
        record.servers.map((s) => [s.name, s.cluster, s.address, s.url]),
      ),
    );
  o.out(
    detached ? `stop it with: rollgate lab down ${resolve(record.fleet)}` : "press Ctrl-C to stop the lab",
  );
}
