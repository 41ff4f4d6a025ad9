import type { Command } from "commander";
import { action, type CliContext } from "../main.ts";

export function registerSchema(program: Command, ctx: CliContext): void {
  program
    .command("schema")
    .description("print the JSON Schema of the fleet file (for editors: see README, 'Editor support')")
    .action(
      action(ctx, async () => {
        const { fleetJsonSchema } = await import("../../model/fleet-schema.ts");
        ctx.output.out(JSON.stringify(fleetJsonSchema(), null, 2));
        return 0;
      }),
    );
}
