import { Argument, type Command } from "commander";
import { action, type CliContext } from "../main.ts";

/** The shells `rollgate completion` writes a script for (cli/completion.ts). */
const SHELLS = ["bash", "zsh", "fish"] as const;

/** `rollgate completion bash|zsh|fish`: prints the shell's completion script, loaded when asked for. */
export function registerCompletion(program: Command, ctx: CliContext): void {
  program
    .command("completion")
    .description("print a shell completion script, made from rollgate's commands and options")
    .addArgument(new Argument("<shell>", "the shell").choices(SHELLS))
    .action(
      action(ctx, async (shell: (typeof SHELLS)[number]) => {
        const { completionScript } = await import("../completion.ts");
        process.stdout.write(completionScript(program, shell));
        return 0;
      }),
    );
}
