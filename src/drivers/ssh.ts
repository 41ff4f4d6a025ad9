import type { SshDriverSpec } from "../model/fleet.ts";
import type { ActionTarget } from "./driver.ts";
import { type CommandRunner, ExecDriver } from "./exec.ts";

/**
 * The ssh driver: the exec driver's commands, run on the server itself over OpenSSH (`ssh`, run
 * without a local shell). The remote side runs a command line through the login shell, so every
 * argument is quoted for a POSIX shell after its placeholders are filled in: a value from the
 * fleet, the plan or a server stays one literal argument there too. Host keys are always checked
 * (StrictHostKeyChecking=yes, BatchMode=yes: no prompt, no password). See docs/drivers.md.
 */
export function shellQuote(arg: string): string {
  // no "=" unquoted: a first word like FOO=bar would be an assignment, not a command
  if (/^[A-Za-z0-9_@%+:,./-]+$/.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

function fill(template: string, target: ActionTarget): string {
  return template.replace(/\{(name|address)\}/g, (_m, key: string) =>
    key === "name" ? target.server.name : target.server.address,
  );
}

/** An ssh_config value, quoted so that a path with spaces stays one value. */
const configValue = (v: string) => `"${v}"`;

export function sshRunner(spec: SshDriverSpec): CommandRunner {
  return {
    kind: "ssh",
    code: "ROLLGATE_E_SSH_DRIVER",
    field: "driver.ssh.commands",
    wrap(argv, target) {
      const host = fill(spec.host ?? "{address}", target);
      return [
        "ssh",
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        "ConnectTimeout=10",
        "-o",
        "LogLevel=ERROR",
        ...(spec.port ? ["-p", String(spec.port)] : []),
        ...(spec.identity ? ["-i", spec.identity, "-o", "IdentitiesOnly=yes"] : []),
        ...(spec.knownHosts ? ["-o", `UserKnownHostsFile=${configValue(spec.knownHosts)}`] : []),
        ...(spec.user ? ["-l", spec.user] : []),
        "--",
        host,
        argv.map(shellQuote).join(" "),
      ];
    },
    // ssh exits 255 when it could not connect or authenticate (the command's own codes pass through)
    transportFailure: (code, stderr) =>
      code === 255
        ? `ssh to the server failed: ${stderr.trim().split("\n").slice(-2).join(" ") || "exit 255"}`
        : undefined,
  };
}

export class SshDriver extends ExecDriver {
  constructor(spec: SshDriverSpec) {
    super(spec, sshRunner(spec));
  }
}
