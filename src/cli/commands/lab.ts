import { resolve } from "node:path";
import { Argument, type Command, Option } from "commander";
import { RollgateError } from "../../model/errors.ts";
import { controlRequest, findLab, labAnswers } from "../../lab/control-client.ts";
import { FAULT_KINDS } from "../../lab/faults.ts";
import type { startLab } from "../../lab/lab.ts";
import { spawnDetachedLab, stopLabProcess } from "../../lab/process.ts";
import { isAlive, labPaths, type LabRecord, readRecord, removeRecord } from "../../lab/record.ts";
import type { LabStatus } from "../../lab/types.ts";
import { action, type CliContext, parsePort, parsePositiveNumber, parseSpeed, usageError } from "../main.ts";
import { painter } from "../output.ts";

const DEFAULT_PORT = 18080;

/** Short names `rollgate lab act` accepts for the appliance's actions. */
const ACTION_ALIASES: Record<string, string> = {
  join: "join-supercluster",
  leave: "leave-supercluster",
  reassign: "reassign-territories",
  restore: "restore-territories",
  return: "return-to-service",
};

export function registerLab(program: Command, ctx: CliContext): void {
  const lab = program
    .command("lab")
    .description("the lab: a simulated fleet on loopback that behaves as the manuals say (docs/lab.md)");

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
      action(
        ctx,
        async (
          file: string,
          opts: { speed: number; port?: number; detach?: boolean; json?: boolean; detachedChild?: boolean },
        ) => {
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
        },
      ),
    );

  lab
    .command("status")
    .description(
      "show every simulated server's release and state, the rules the lab saw broken, the installs",
    )
    .argument("<fleet>", "the fleet file")
    .option("--json", "print the status as JSON")
    .action(
      action(ctx, async (file: string, opts: { json?: boolean }) => {
        const { record } = findLab(file);
        const r = await controlRequest(record, "GET", "/lab/status");
        const status = r.body as unknown as LabStatus;
        if (opts.json) ctx.output.json(status);
        else printStatus(ctx, status);
        return 0;
      }),
    );

  lab
    .command("down")
    .description("stop the lab of a fleet file and remove its record")
    .argument("<fleet>", "the fleet file")
    .option("--json", "print the result as JSON")
    .action(
      action(ctx, async (file: string, opts: { json?: boolean }) => {
        const recordPath = labPaths(file).record;
        const record = readRecord(recordPath);
        if (!record) {
          if (opts.json) ctx.output.json({ ok: true, stopped: false });
          else ctx.output.out(`no lab is running for ${file}`);
          return 0;
        }
        await stopLabProcess(record, recordPath);
        if (opts.json) ctx.output.json({ ok: true, stopped: true, pid: record.pid });
        else ctx.output.out(`lab of ${file} stopped (pid ${record.pid})`);
        return 0;
      }),
    );

  lab
    .command("fault")
    .description("inject a fault into a simulated server (see docs/lab.md)")
    .argument("<fleet>", "the fleet file")
    .argument("<server>", "the server's name")
    .addArgument(new Argument("<kind>", "the fault").choices(FAULT_KINDS))
    .option(
      "--factor <k>",
      "slow-install: install time multiplier; crash: reboot time multiplier",
      parsePositiveNumber,
    )
    .option("--once", "install faults: only for the next install")
    .option("--json", "print the result as JSON")
    .action(
      action(
        ctx,
        async (
          file: string,
          server: string,
          kind: string,
          opts: { factor?: number; once?: boolean; json?: boolean },
        ) => {
          const { record } = findLab(file);
          const r = await controlRequest(record, "POST", "/lab/fault", {
            server,
            kind,
            ...(opts.factor !== undefined ? { factor: opts.factor } : {}),
            ...(opts.once ? { once: true } : {}),
          });
          if (r.status === 404) throw unknownServer(server, file);
          if (r.status >= 300) throw usageError(String(r.body.message ?? `fault refused (HTTP ${r.status})`));
          if (opts.json) ctx.output.json(r.body);
          else ctx.output.out(`${server}: fault ${kind}${opts.factor ? ` ×${opts.factor}` : ""} injected`);
          return 0;
        },
      ),
    );

  lab
    .command("act")
    .description(
      "drive a simulated server by hand: stop, start, install 3.5.1, mount fs1, unmount fs1, busy-out, leave, join CLUSTER, …",
    )
    .argument("<fleet>", "the fleet file")
    .argument(
      "<server>",
      "the server that receives the action (any server of a DMA cluster acts for the cluster)",
    )
    .argument("<action>", "the action (docs/appliance-api.md)")
    .argument(
      "[arg]",
      "install: RELEASE; mount/unmount: FILESYSTEM; join: CLUSTER; reassign/restore: T=PRIMARY[/BACKUP],…",
    )
    .option("--target <server>", "management operations (disable, mount, unmount): the server acted on (M7)")
    .option("--supercluster <name>", "join: the name of the supercluster a join founds")
    .option("--no-wait", "return once the action is accepted, without waiting for it to end")
    .option("--json", "print the appliance's answer as JSON")
    .action(
      action(
        ctx,
        async (
          file: string,
          server: string,
          name: string,
          arg: string | undefined,
          opts: { target?: string; supercluster?: string; wait: boolean; json?: boolean },
        ) => {
          const { record } = findLab(file);
          const act = ACTION_ALIASES[name] ?? name;
          const body: Record<string, unknown> = { server, action: act, wait: opts.wait };
          if (act === "install") body.release = requireArg(arg, "install needs a release: install 3.5.1");
          else if (act === "mount" || act === "unmount")
            body.filesystem = requireArg(arg, `${act} needs a filesystem: ${act} psfs1`);
          else if (act === "join-supercluster")
            body.joins = requireArg(arg, "join needs a cluster: join dma-nyc");
          else if (act === "reassign-territories" || act === "restore-territories")
            body.territories = parseTerritories(requireArg(arg, `${name} needs T=PRIMARY[/BACKUP],…`));
          if (opts.supercluster) body.supercluster = opts.supercluster;
          // The console acts on the receiver; a management operation's target goes in `target`.
          const payload = { ...body, ...(opts.target ? { target: opts.target } : {}) };
          const r = await controlRequest(
            record,
            "POST",
            `/lab/act${opts.wait ? "" : "?wait=0"}`,
            payload,
            24 * 3600_000,
          );
          const reply = r.body as {
            ok?: boolean;
            code?: string;
            rule?: string;
            message?: string;
            endsAt?: string | null;
          };
          if (r.status === 404 && reply.code === "unknown-server") throw unknownServer(server, file);
          // An action the appliance does not have is bad input (exit 2), not a refusal (exit 1);
          // the appliance's message lists the actions it has.
          if (reply.code === "unknown-action")
            throw usageError(`rollgate lab act: ${reply.message ?? `no action "${act}"`}`);
          if (!reply.ok) {
            throw new RollgateError(
              "ROLLGATE_E_LAB_REFUSED",
              `${server}: ${act} refused [${reply.code}${reply.rule ? `, rule ${reply.rule}` : ""}]: ${reply.message}`,
              {
                details: { status: r.status, code: reply.code, ...(reply.rule ? { rule: reply.rule } : {}) },
              },
            );
          }
          if (opts.json) ctx.output.json(reply);
          else {
            const paint = painter(ctx.output.color);
            const what =
              r.status === 202 ? `accepted${reply.endsAt ? `, ends ${reply.endsAt}` : ""}` : "done";
            ctx.output.out(
              `${paint("green", "ok")} ${server}: ${act}${arg ? ` ${arg}` : ""} ${what}${reply.message ? ` (${reply.message})` : ""}`,
            );
          }
          return 0;
        },
      ),
    );
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

function printStatus(ctx: CliContext, st: LabStatus): void {
  const paint = painter(ctx.output.color);
  const o = ctx.output;
  o.out(`lab of ${st.fleet}: port ${st.port}, speed ${st.speed}, up since ${st.startedAt}`);
  const colour = (state: string) =>
    state === "running"
      ? paint("green", state)
      : state === "isolated" || state === "unreachable"
        ? paint("red", state)
        : paint("yellow", state);
  o.out(
    table(
      ["SERVER", "CLUSTER", "ADDRESS", "RELEASE", "STATE", "INSTALLS", "ACTIVITY"],
      st.servers.map((s) => [
        s.name,
        s.cluster,
        s.address,
        s.release,
        s.state,
        String(st.installs[s.name] ?? 0),
        s.activity ?? "",
      ]),
      { 4: colour },
    ),
  );
  if (st.faults.length)
    o.out(
      `faults: ${st.faults.map((f) => `${f.server} ${f.kind}${f.factor ? ` ×${f.factor}` : ""}`).join(", ")}`,
    );
  if (st.violations.length === 0) o.out(paint("green", "no rule seen broken"));
  else {
    o.out(paint("red", `${st.violations.length} rule(s) seen broken:`));
    for (const v of st.violations) o.out(`  ${paint("bold", v.rule)} ${v.at} ${v.detail}`);
  }
}

function table(
  head: string[],
  rows: string[][],
  paintCol: Record<number, (s: string) => string> = {},
): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: string[], paint: boolean) =>
    r
      .map((cell, i) => {
        const padded = cell.padEnd(widths[i]!);
        return paint && paintCol[i] ? paintCol[i]!(cell) + padded.slice(cell.length) : padded;
      })
      .join("  ")
      .trimEnd();
  return [line(head, false), ...rows.map((r) => line(r, true))].join("\n");
}

function requireArg(arg: string | undefined, message: string): string {
  if (!arg) throw usageError(message);
  return arg;
}

function parseTerritories(text: string): Array<{ name: string; primary: string; backup?: string }> {
  return text.split(",").map((part) => {
    const m = /^([^=]+)=([^/]+)(?:\/(.+))?$/.exec(part.trim());
    if (!m) throw usageError(`"${part}" is not TERRITORY=PRIMARY[/BACKUP]`);
    return { name: m[1]!, primary: m[2]!, ...(m[3] ? { backup: m[3] } : {}) };
  });
}

function unknownServer(server: string, file: string): RollgateError {
  return new RollgateError("ROLLGATE_E_LAB_UNKNOWN_SERVER", `${file} has no server named ${server}`);
}
