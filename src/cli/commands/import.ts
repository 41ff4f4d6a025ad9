import { lstatSync, statSync } from "node:fs";
import type { Command } from "commander";
import type { PackName } from "../../model/fleet.ts";
import { action, type CliContext, usageError } from "../main.ts";
import { painter } from "../output.ts";

/**
 * `rollgate import ansible INVENTORY [--group-as cluster|supercluster] [--pack P] [--version V]
 * [--fleet NAME] [-o FLEET]`: an Ansible inventory (INI, YAML, or `ansible-inventory --list` JSON)
 * as a fleet file (docs/import.md). Without -o the fleet is printed on stdout; with -o it is
 * written atomically, and only when every host maps (else exit 2, nothing written).
 */
export function registerImport(program: Command, ctx: CliContext): void {
  const imp = program.command("import").description("make a fleet file from another tool's inventory");
  imp
    .command("ansible")
    .description(
      "read an Ansible inventory (INI, YAML or ansible-inventory --list JSON) and print or write a fleet file",
    )
    .argument("<inventory>", "the inventory file")
    .option(
      "--group-as <what>",
      "what a group becomes: cluster (each leaf group) or supercluster (also each parent of leaf groups, DMA)",
      "cluster",
    )
    .option(
      "--pack <pack>",
      "the pack of hosts without rollgate_pack: polyserve-matrix, polycom-dma or generic",
    )
    .option("--version <release>", "the release of hosts without rollgate_version, e.g. 10.0.1")
    .option("--fleet <name>", "the fleet's name (else all's rollgate_fleet, else the inventory's base name)")
    .option("-o, --output <fleet>", "write the fleet file there (atomically) instead of printing it")
    .action(
      action(
        ctx,
        async (
          file: string,
          opts: { groupAs: string; pack?: string; version?: string; fleet?: string; output?: string },
        ) => {
          if (opts.groupAs !== "cluster" && opts.groupAs !== "supercluster")
            throw usageError(
              `rollgate import ansible: --group-as "${opts.groupAs}": expected cluster or supercluster`,
            );
          const { PACK_NAMES } = await import("../../model/fleet.ts");
          const pack = PACK_NAMES.find((p) => p === opts.pack);
          if (opts.pack !== undefined && pack === undefined) {
            const { closest } = await import("../../model/fleet-file.ts");
            const near = closest(opts.pack, PACK_NAMES);
            throw usageError(
              `rollgate import ansible: --pack "${opts.pack}": expected one of ${PACK_NAMES.join(", ")}${near ? ` (did you mean ${near}?)` : ""}`,
            );
          }
          const { isVersionString } = await import("../../model/version.ts");
          if (opts.version !== undefined && !isVersionString(opts.version))
            throw usageError(
              `rollgate import ansible: --version "${opts.version}": expected a release such as 10.0.1`,
            );
          if (opts.fleet !== undefined && !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(opts.fleet))
            throw usageError(
              `rollgate import ansible: --fleet "${opts.fleet}": expected a name of letters, digits, '.', '_' and '-'`,
            );
          const { inventoryToFleet, parseInventory, readInventory, varsFoldersBeside, writeFleetAtomically } =
            await import("../../import/index.ts");
          const { RollgateError } = await import("../../model/errors.ts");
          if (opts.output !== undefined && sameFile(opts.output, file))
            throw usageError(
              `rollgate import ansible: -o ${opts.output} is the inventory itself: writing the fleet file there would replace it; name another file`,
            );
          const text = readInventory(file);
          const parsed = parseInventory(text, file);
          const result = parsed.diagnostics.length
            ? ({ ok: false, diagnostics: parsed.diagnostics, notes: [] } as const)
            : inventoryToFleet(parsed.inventory, {
                groupAs: opts.groupAs,
                ...(pack ? { pack: pack as PackName } : {}),
                ...(opts.version ? { version: opts.version } : {}),
                ...(opts.fleet ? { fleet: opts.fleet } : {}),
              });
          for (const n of result.notes) ctx.output.err(`note: ${n}`);
          // Ansible reads these with the file; rollgate does not: a release or address set there is
          // missing, or replaced by --version, without a word
          if (parsed.inventory.format !== "json")
            for (const dir of varsFoldersBeside(file))
              ctx.output.err(
                `warning: ${dir} is not read (rollgate reads the one inventory file): the variables set there (rollgate_version, ansible_host, …) are not in this fleet file; import the output of \`ansible-inventory -i ${file} --list --export\` to have them`,
              );
          if (!result.ok) {
            const n = result.diagnostics.length;
            throw new RollgateError(
              result.diagnostics[0]!.code,
              `${file}: ${n} host(s) or group(s) of the inventory cannot be mapped (${n} error${n === 1 ? "" : "s"})${opts.output ? `; ${opts.output} was not written` : ""}`,
              { diagnostics: result.diagnostics },
            );
          }
          const clusters = result.fleet.clusters.length;
          const servers = result.fleet.clusters.reduce((s, c) => s + c.servers.length, 0);
          const sc = result.fleet.superclusters?.length ?? 0;
          const summary = `fleet ${result.fleet.fleet}: ${clusters} cluster(s), ${servers} server(s), ${sc} supercluster(s) from ${file}`;
          if (opts.output) {
            writeFleetAtomically(opts.output, result.text);
            ctx.output.out(`${painter(ctx.output.color)("green", "wrote")} ${opts.output}: ${summary}`);
          } else {
            ctx.output.err(summary);
            ctx.output.out(result.text.replace(/\n$/, ""));
          }
          return 0;
        },
      ),
    );
}

/** Whether writing `output` (a rename over it: a link there is replaced, not followed) would replace the file `input`. */
function sameFile(output: string, input: string): boolean {
  try {
    const o = lstatSync(output);
    const i = statSync(input);
    return o.dev === i.dev && o.ino === i.ino;
  } catch {
    return false;
  }
}
