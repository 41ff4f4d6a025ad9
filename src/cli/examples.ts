import type { Command } from "commander";

/**
 * The `Examples:` section at the end of every command's `--help`, by command path ("" is the
 * program, "lab up" a subcommand). Real invocations on the fleet files of examples/, run from
 * the checkout; test/cli/help-examples.test.ts checks that every command has some and runs a few.
 * A new command adds its lines here.
 */
export const EXAMPLES: Record<string, readonly string[]> = {
  "": [
    "rollgate validate examples/matrix-seed.yaml",
    "rollgate plan examples/matrix-seed.yaml --to 3.5.1 --explain",
    "rollgate demo --speed 600",
    "source <(rollgate completion bash)",
  ],
  validate: [
    "rollgate validate examples/matrix-seed.yaml",
    "rollgate validate examples/mixed-fleet.yaml --json",
  ],
  plan: [
    "rollgate plan examples/matrix-seed.yaml --to 3.5.1 --explain",
    "rollgate plan examples/dma-supercluster.yaml --to 10.1.0 --compare",
    "rollgate plan examples/mixed-fleet.yaml --to polyserve-matrix=3.5.1 --to polycom-dma=10.1.0 --json",
  ],
  schema: ["rollgate schema > fleet.schema.json"],
  rules: ["rollgate rules", "rollgate rules --pack polycom-dma --json"],
  apply: [
    "rollgate lab up examples/matrix-seed.yaml --speed 600 --detach",
    "rollgate apply examples/.rollgate/lab/matrix-seed.lab.yaml --to 3.5.1",
    "rollgate apply examples/.rollgate/lab/matrix-seed.lab.yaml --to 3.5.1 --yes --confirm-finalize --log-format json",
    "rollgate apply examples/.rollgate/lab/matrix-seed.lab.yaml --to 3.5.1 --dashboard 0 --dashboard-token-file /tmp/rollgate-dashboard.url",
    "rollgate apply examples/.rollgate/lab/matrix-seed.lab.yaml --rollback --cluster matrix-a",
  ],
  rollback: [
    "rollgate rollback examples/.rollgate/lab/matrix-seed.lab.yaml --cluster matrix-a",
    "rollgate rollback examples/.rollgate/lab/matrix-seed.lab.yaml --cluster matrix-a --yes --json",
  ],
  resume: [
    "rollgate resume examples/.rollgate/lab/matrix-seed.lab.yaml",
    "rollgate resume examples/.rollgate/lab/matrix-seed.lab.yaml --confirm-finalize --log-format json --log-level debug",
  ],
  engine: [
    "rollgate engine --state postgres://rollgate@db.example:5432/rollgate --confirm-finalize",
    "ROLLGATE_STATE=postgres://rollgate@db.example:5432/rollgate rollgate engine --run run-20260101120000-abc123 --json",
  ],
  status: [
    "rollgate status examples/.rollgate/lab/matrix-seed.lab.yaml",
    "rollgate status examples/.rollgate/lab/matrix-seed.lab.yaml --json",
  ],
  pause: ["rollgate pause examples/.rollgate/lab/matrix-seed.lab.yaml"],
  abort: [
    "rollgate abort examples/.rollgate/lab/matrix-seed.lab.yaml",
    "rollgate abort examples/.rollgate/lab/matrix-seed.lab.yaml --return-to-service",
    "rollgate abort examples/.rollgate/lab/matrix-seed.lab.yaml --rollback",
  ],
  fleet: ["rollgate fleet sync examples/.rollgate/lab/matrix-seed.lab.yaml"],
  "fleet sync": [
    "rollgate fleet sync examples/.rollgate/lab/matrix-seed.lab.yaml",
    "rollgate fleet sync examples/.rollgate/lab/matrix-seed.lab.yaml --write",
  ],
  import: [
    "rollgate import ansible examples/ansible/hosts.ini --pack polyserve-matrix --version 3.5.0 -o fleet.yaml",
  ],
  "import ansible": [
    "rollgate import ansible examples/ansible/hosts.ini --pack polyserve-matrix --version 3.5.0 -o fleet.yaml",
    "rollgate import ansible examples/ansible/inventory.yaml --group-as supercluster --pack polycom-dma --version 10.0.1",
  ],
  lab: [
    "rollgate lab up examples/matrix-seed.yaml --speed 600 --detach",
    "rollgate lab down examples/matrix-seed.yaml",
  ],
  "lab up": [
    "rollgate lab up examples/matrix-seed.yaml --speed 600 --detach",
    "rollgate lab up examples/dma-supercluster.yaml --speed 600 --detach --json",
  ],
  "lab status": [
    "rollgate lab status examples/matrix-seed.yaml",
    "rollgate lab status examples/matrix-seed.yaml --json",
  ],
  "lab down": ["rollgate lab down examples/matrix-seed.yaml"],
  "lab fault": [
    "rollgate lab fault examples/matrix-seed.yaml srv2 install-fails --once",
    "rollgate lab fault examples/matrix-seed.yaml srv3 slow-install --factor 5",
  ],
  "lab act": [
    "rollgate lab act examples/matrix-seed.yaml srv3 stop",
    "rollgate lab act examples/matrix-seed.yaml srv3 install 3.5.1",
  ],
  demo: [
    "rollgate demo",
    "rollgate demo --speed 6000 --json",
    "rollgate demo --dashboard 0 --dashboard-token-file /tmp/rollgate-dashboard.url",
    "rollgate demo --speed 6000 --log-format json --log-level debug 2> demo.log",
  ],
  serve: [
    "rollgate serve examples/matrix-seed.yaml",
    "rollgate serve --state .rollgate/state.db --port 0 --json --log-format json",
  ],
  token: ["rollgate token create --role viewer --ttl 8h --state .rollgate/state.db"],
  "token create": [
    "rollgate token create --role viewer --ttl 8h --state .rollgate/state.db",
    "rollgate token create --role operator --ttl 1h examples/matrix-seed.yaml",
  ],
  "token list": [
    "rollgate token list --state .rollgate/state.db",
    "rollgate token list examples/matrix-seed.yaml --json",
  ],
  "token revoke": [
    "rollgate token revoke TOKEN_ID examples/matrix-seed.yaml  # TOKEN_ID: an id that `rollgate token list` shows",
  ],
  completion: [
    "source <(rollgate completion bash)",
    "rollgate completion zsh > ~/.zfunc/_rollgate",
    "rollgate completion fish > ~/.config/fish/completions/rollgate.fish",
  ],
};

/** A command's path from the program: "" for the program, "lab up" for a subcommand. */
export function commandPath(cmd: Command): string {
  const names: string[] = [];
  for (let c: Command | null = cmd; c?.parent; c = c.parent) names.unshift(c.name());
  return names.join(" ");
}

/** Every command of the program, the program first, depth first in the order --help lists them. */
export function everyCommand(program: Command): Command[] {
  return [program, ...program.commands.flatMap((c) => everyCommand(c))];
}

/** Adds each command's Examples: section to its --help (none for a command missing from EXAMPLES). */
export function addExamples(program: Command): void {
  for (const cmd of everyCommand(program)) {
    const lines = EXAMPLES[commandPath(cmd)];
    if (lines?.length) cmd.addHelpText("after", `\nExamples:\n${lines.map((l) => `  $ ${l}`).join("\n")}`);
  }
}
