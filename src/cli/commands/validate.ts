import type { Command } from "commander";
import { action, type CliContext } from "../main.ts";
import { painter } from "../output.ts";

export function registerValidate(program: Command, ctx: CliContext): void {
  program
    .command("validate")
    .description(
      "check a fleet file: shape, names, addresses, references, durations, versions (all errors at once)",
    )
    .argument("<fleet>", "the fleet file (YAML, apiVersion rollgate/v1)")
    .option("--json", "print the result as JSON on stdout")
    .action(
      action(ctx, async (file: string, opts: { json?: boolean }) => {
        const { loadFleetFile } = await import("../../io/fleet-loader.ts");
        const fleet = loadFleetFile(file);
        const servers = fleet.clusters.reduce((n, c) => n + c.servers.length, 0);
        const summary = {
          ok: true,
          file,
          fleet: fleet.name,
          clusters: fleet.clusters.length,
          servers,
          superclusters: fleet.superclusters.length,
        };
        if (opts.json) ctx.output.json(summary);
        else {
          const paint = painter(ctx.output.color);
          ctx.output.out(
            `${paint("green", "ok")} ${file}: fleet ${fleet.name}, ${summary.clusters} cluster(s), ${servers} server(s), ${summary.superclusters} supercluster(s)`,
          );
        }
        return 0;
      }),
    );
}
