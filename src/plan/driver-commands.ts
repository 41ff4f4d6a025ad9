import { RollgateError } from "../model/errors.ts";
import type { Cluster, Fleet } from "../model/fleet.ts";
import type { DriverCommandName } from "../model/fleet-schema.ts";
import { DMA_ACTIONS, MATRIX_ACTIONS } from "../model/step.ts";
import type { Plan } from "./types.ts";

// every action a plan may hold has a command name (checked by the compiler)
const _actionsHaveCommands: readonly DriverCommandName[] = [...MATRIX_ACTIONS, ...DMA_ACTIONS];
void _actionsHaveCommands;

/** A cluster whose exec or ssh driver lacks commands the plan needs. */
export interface MissingCommands {
  cluster: string;
  /** Where they belong in the fleet file: driver.exec.commands or driver.ssh.commands. */
  field: string;
  commands: string[];
}

/**
 * The commands a plan needs that the fleet's exec and ssh drivers do not have: `status` (every
 * server is observed) and every action of the cluster's steps. Pure; http drivers speak the whole
 * appliance API. A cluster with several drivers uses http, else ssh, else exec (drivers/index.ts).
 */
export function missingDriverCommands(fleet: Fleet, plan: Pick<Plan, "steps">): MissingCommands[] {
  const out: MissingCommands[] = [];
  // the actions of each cluster's steps, in one pass over the plan (not one per cluster)
  const actions = new Map<string, Set<string>>();
  for (const s of plan.steps) {
    const set = actions.get(s.cluster) ?? new Set<string>();
    set.add(s.action);
    actions.set(s.cluster, set);
  }
  for (const c of fleet.clusters) {
    const used = actions.get(c.name);
    if (!used || !c.driver || c.driver.http) continue;
    const kind = c.driver.ssh ? "ssh" : c.driver.exec ? "exec" : undefined;
    if (!kind) continue;
    const commands = c.driver[kind]!.commands;
    const needed = new Set<string>(["status", ...used]);
    const missing = [...needed].filter((a) => !commands[a]);
    if (missing.length) out.push({ cluster: c.name, field: `driver.${kind}.commands`, commands: missing });
  }
  return out;
}

/**
 * Whether a cluster's driver can perform `action` at all: http speaks the whole appliance API; an
 * ssh or exec driver needs a command of that name (an action no plan holds, such as an abort's
 * `enable`, is not required of the fleet file, so it may be missing). Pure.
 */
export function driverCanPerform(cluster: Cluster, action: DriverCommandName): boolean {
  const d = cluster.driver;
  if (!d) return false;
  if (d.http) return true;
  const kind = d.ssh ? d.ssh : d.exec;
  return kind?.commands[action] !== undefined;
}

/** Refuses a plan whose drivers cannot perform it (ROLLGATE_E_DRIVER_INCOMPLETE), before anything runs. */
export function requireDriverCommands(fleet: Fleet, plan: Pick<Plan, "steps">): void {
  const missing = missingDriverCommands(fleet, plan);
  if (missing.length === 0) return;
  throw new RollgateError(
    "ROLLGATE_E_DRIVER_INCOMPLETE",
    `the plan needs commands the fleet file's drivers do not have: ${missing
      .map((m) => `cluster ${m.cluster}: ${m.commands.map((a) => `${m.field}.${a}`).join(", ")}`)
      .join("; ")}; nothing was done`,
    {
      diagnostics: missing.flatMap((m) =>
        m.commands.map((a) => ({
          code: "ROLLGATE_E_DRIVER_INCOMPLETE" as const,
          message: `cluster ${m.cluster} has no "${a}" command, which the plan needs`,
          path: `clusters[${fleet.clusters.findIndex((c) => c.name === m.cluster)}].${m.field}.${a}`,
          expected: "a command for every action of the plan (rollgate plan lists them)",
        })),
      ),
    },
  );
}
