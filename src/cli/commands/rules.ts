import type { Command } from "commander";
import type { RuleEntry } from "../../rules/registry.ts";
import { action, type CliContext, usageError } from "../main.ts";
import { painter } from "../output.ts";

export function registerRules(program: Command, ctx: CliContext): void {
  program
    .command("rules")
    .description("list the rules rollgate knows: id, kind, built or not, where each is enforced")
    .option(
      "--pack <pack>",
      "only one pack's rules: polyserve-matrix, polycom-dma, generic, or general (the G rules)",
    )
    .option(
      "--json",
      "print the rules as JSON on stdout (an array of registry entries, each with its doc link and the functions that decide it)",
    )
    .action(
      action(ctx, async (opts: { pack?: string; json?: boolean }) => {
        const { REGISTRY, RULE_PACKS } = await import("../../rules/packs.ts");
        const { ruleDocLink } = await import("../../rules/registry.ts");
        const { functionsOf } = await import("../../rules/index.ts");
        const { PACK_NAMES } = await import("../../model/fleet.ts");
        let rules: readonly RuleEntry[] = REGISTRY;
        if (opts.pack !== undefined) {
          const packs = [...PACK_NAMES, "general"] as const;
          const pack = packs.find((p) => p === opts.pack);
          if (pack === undefined) {
            const { closest } = await import("../../model/fleet-file.ts");
            const near = closest(opts.pack, packs);
            throw usageError(
              `rollgate rules: unknown pack "${opts.pack}": expected one of ${packs.join(", ")}${near ? ` (did you mean ${near}?)` : ""}`,
            );
          }
          rules = pack === "general" ? REGISTRY.filter((r) => r.pack === "general") : RULE_PACKS[pack].rules;
        }
        if (opts.json) {
          ctx.output.json(rules.map((r) => ({ ...r, doc: ruleDocLink(r.id), functions: functionsOf(r.id) })));
          return 0;
        }
        const paint = painter(ctx.output.color);
        const rows = rules.map((r) => [
          r.id,
          r.kind,
          r.status,
          r.enforcedBy.length ? r.enforcedBy.join(", ") : "-",
          `${r.statement} (${ruleDocLink(r.id)})`,
        ]);
        const head = ["ID", "KIND", "STATUS", "ENFORCED BY", "STATEMENT"];
        const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
        const line = (cells: string[]) =>
          cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ");
        ctx.output.out(paint("bold", line(head)));
        for (const [i, row] of rows.entries()) {
          const text = line(row);
          ctx.output.out(rules[i]!.status === "built" ? text : paint("yellow", text));
        }
        const noted = rules.filter((r) => r.note !== undefined);
        if (noted.length) ctx.output.out("");
        for (const r of noted) ctx.output.out(`${r.id}: ${r.note}`);
        const missing = rules.filter((r) => r.status === "not built");
        ctx.output.out(
          `\n${rules.length} rules, ${missing.length} not built${missing.length ? `: ${missing.map((r) => r.id).join(", ")}` : ""}`,
        );
        return 0;
      }),
    );
}
