import { Argument, type Command } from "commander";
import { completionScript, SHELLS, type Shell } from "../completion.ts";
import { action, type CliContext } from "../main.ts";

/** `rollgate completion bash|zsh|fish`: prints the shell's completion script (cli/completion.ts). */
export function registerCompletion(program: Command, ctx: CliContext): void {
  program
    .command("completion")
    .description("print a shell completion script, made from rollgate's commands and options")
    .addArgument(new Argument("<shell>", "the shell").choices(SHELLS))
    .action(
      action(ctx, (shell: Shell) => {
        process.stdout.write(completionScript(program, shell));
        return 0;
      }),
    );
}
