import type { Command } from "commander";
import type { CliContext } from "../main.ts";
import { registerApply } from "./apply.ts";
import { registerCompletion } from "./completion.ts";
import { registerDemo } from "./demo.ts";
import { registerFleet } from "./fleet.ts";
import { registerImport } from "./import.ts";
import { registerLab } from "./lab.ts";
import { registerPlan } from "./plan.ts";
import { registerRollback } from "./rollback.ts";
import { registerRules } from "./rules.ts";
import { registerRunControl } from "./run-control.ts";
import { registerSchema } from "./schema.ts";
import { registerServe } from "./serve.ts";
import { registerToken } from "./token.ts";
import { registerValidate } from "./validate.ts";

/** Every command, in the order `rollgate --help` lists them. Add one line per new command. */
export function registerCommands(program: Command, ctx: CliContext): void {
  registerValidate(program, ctx);
  registerPlan(program, ctx);
  registerSchema(program, ctx);
  registerRules(program, ctx);
  registerApply(program, ctx);
  registerRollback(program, ctx);
  registerRunControl(program, ctx);
  registerFleet(program, ctx);
  registerImport(program, ctx);
  registerLab(program, ctx);
  registerDemo(program, ctx);
  registerServe(program, ctx);
  registerToken(program, ctx);
  registerCompletion(program, ctx);
}
