import { Argument, type Command } from "commander";
import { controlRequest, findLab } from "../../lab/control-client.ts";
import { FAULT_KINDS } from "../../lab/faults.ts";
import { stopLabProcess } from "../../lab/process.ts";
import { labPaths, readRecord } from "../../lab/record.ts";
import type { LabStatus } from "../../lab/types.ts";
import { action, type CliContext, parsePositiveNumber, usageError } from "../main.ts";
import { registerLabAct } from "./lab-act.ts";
import { printStatus, unknownServer } from "./lab-output.ts";
import { registerLabUp } from "./lab-up.ts";

/** `rollgate lab` and its subcommands, in the order `rollgate lab --help` lists them. */
export function registerLab(program: Command, ctx: CliContext): void {
  const lab = program
    .command("lab")
    .description("the lab: a simulated fleet on loopback that behaves as the manuals say (docs/lab.md)");
  registerLabUp(lab, ctx);
  registerLabStatus(lab, ctx);
  registerLabDown(lab, ctx);
  registerLabFault(lab, ctx);
  registerLabAct(lab, ctx);
}

function registerLabStatus(lab: Command, ctx: CliContext): void {
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
}

function registerLabDown(lab: Command, ctx: CliContext): void {
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
}

function registerLabFault(lab: Command, ctx: CliContext): void {
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
}
