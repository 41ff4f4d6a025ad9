import type { Command } from "commander";
import { action, type CliContext, usageError } from "../main.ts";
import { painter } from "../output.ts";
import { runApply } from "./apply.ts";
import { renderPlan } from "./plan.ts";

interface RollbackFlags {
  cluster?: string[];
  json?: boolean;
  explain?: boolean;
  yes?: boolean;
  confirmFinalize?: boolean;
  state?: string;
}

const collect = (v: string, prev: string[] | undefined) => [...(prev ?? []), v];

/**
 * `rollgate rollback FLEET [--cluster C …]`: the plan that returns a matrix part way through its
 * upgrade to the old release (plan/rollback.ts), shown like `rollgate plan`; with `--yes` it is
 * performed, as `rollgate apply FLEET --rollback` performs it (journaled, resumable).
 */
export function registerRollback(program: Command, ctx: CliContext): void {
  program
    .command("rollback")
    .description(
      "plan (and with --yes perform) a rollback: a part-upgraded matrix back to its old release before the point of no return (M4), or a DMA cluster's last applied upgrade (D9)",
    )
    .argument("<fleet>", "the fleet file, as the fleet stands (rollgate fleet sync --write after an abort)")
    .option(
      "--cluster <name>",
      "the matrix or DMA cluster to roll back (repeatable; default every matrix running two releases; a DMA cluster only when named)",
      collect,
    )
    .option("--explain", "list for each step the rules that placed it")
    .option("--json", "print the plan (or, with --yes, the run's events) as JSON on stdout")
    .option("-y, --yes", "perform the rollback now, as rollgate apply --rollback does")
    .option(
      "--confirm-finalize",
      "with --yes: confirm its points of no return beforehand (a DMA cluster's rollback itself, D9: data written since its upgrade may be lost)",
    )
    .option(
      "--state <path>",
      "with --yes: the state file (default: .rollgate/state.db beside the fleet file)",
    )
    .action(
      action(ctx, async (file: string, opts: RollbackFlags) => {
        if (opts.yes) {
          if (opts.explain)
            throw usageError("rollgate rollback --yes: --explain shows a plan; drop it to perform");
          return runApply(ctx, file, {
            strategy: "auto",
            rollback: true,
            yes: true,
            ...(opts.confirmFinalize ? { confirmFinalize: true } : {}),
            ...(opts.cluster ? { cluster: opts.cluster } : {}),
            ...(opts.json ? { json: true } : {}),
            ...(opts.state ? { state: opts.state } : {}),
          });
        }
        if (opts.state !== undefined)
          throw usageError("rollgate rollback: --state is for performing it (with --yes)");
        if (opts.confirmFinalize)
          throw usageError("rollgate rollback: --confirm-finalize is for performing it (with --yes)");
        const { loadFleetFile } = await import("../../io/fleet-loader.ts");
        const { planRollback } = await import("../../plan/planner.ts");
        const { dmaRollbackTargets } = await import("../../run/rollback-targets.ts");
        const fleet = loadFleetFile(file);
        const plan = planRollback(fleet, {
          ...(opts.cluster ? { clusters: opts.cluster } : {}),
          explain: Boolean(opts.explain),
          // a DMA cluster says itself what its rollback returns to (D9): asked, read-only
          dmaRollbackTo: await dmaRollbackTargets(fleet, opts.cluster),
        });
        if (opts.json) {
          ctx.output.json(plan);
          return 0;
        }
        renderPlan(ctx, plan, Boolean(opts.explain), painter(ctx.output.color));
        const names = Object.keys(plan.targets)
          .map((c) => ` --cluster ${c}`)
          .join("");
        ctx.output.out("");
        ctx.output.out(
          `to perform it: rollgate rollback ${file}${names} --yes   (or rollgate apply ${file} --rollback${names})`,
        );
        return 0;
      }),
    );
}
