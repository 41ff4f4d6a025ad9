import type { Command } from "commander";
import { action, type CliContext } from "../main.ts";
import { painter } from "../output.ts";
import { shellWord } from "../../model/shell.ts";

/**
 * `rollgate fleet sync FLEET [--write] [--json]`: the fleet file brought up to what its servers
 * report (releases, DMA superclusters: names, members, territories), observed through the
 * drivers (G5). Without --write the updated file is printed on stdout (the changes on stderr);
 * with --write it replaces the file atomically, keeping its comments and layout.
 */
export function registerFleet(program: Command, ctx: CliContext): void {
  const fleet = program
    .command("fleet")
    .description("fleet file tools: sync it with what the servers report");
  fleet
    .command("sync")
    .description(
      "observe every server and print the fleet file updated to what they report (releases, superclusters, territories); --write writes it",
    )
    .argument("<fleet>", "the fleet file")
    .option("--write", "replace the fleet file (atomically, comments and layout kept)")
    .option("--json", "print { ok, file, upToDate, written, changes, notes, diff, text } as JSON")
    .action(
      action(ctx, async (file: string, opts: { write?: boolean; json?: boolean }) => {
        const { syncFleetFile } = await import("../../run/fleet-sync.ts");
        const r = await syncFleetFile(file, { write: Boolean(opts.write) });
        if (opts.json) {
          ctx.output.json({ ok: true, ...r });
          return 0;
        }
        const paint = painter(ctx.output.color);
        const summary = r.upToDate
          ? `${paint("green", "up to date")} ${file}: it says what the servers report`
          : `${r.written ? paint("green", "wrote") : paint("yellow", "out of date")} ${file}: ${r.changes.length} change(s)${r.written ? "" : ` (rollgate fleet sync ${shellWord(file)} --write writes them)`}`;
        for (const n of r.notes) ctx.output.err(`note: ${n.path}: ${n.detail}`);
        if (opts.write) {
          ctx.output.out(summary);
          for (const c of r.changes) ctx.output.out(`  ${c.path}: ${c.detail}`);
        } else {
          ctx.output.err(summary);
          for (const c of r.changes) ctx.output.err(`  ${c.path}: ${c.detail}`);
          ctx.output.out(r.text.replace(/\n$/, ""));
        }
        return 0;
      }),
    );
}
