import { createHash } from "node:crypto";
import { lstatSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SshDriverSpec } from "../model/fleet.ts";
import type { ActionTarget } from "./driver.ts";
import { type CommandRunner, ExecDriver } from "./exec.ts";

/**
 * The ssh driver: the exec driver's commands, run on the server itself over OpenSSH (`ssh`, run
 * without a local shell). The remote side runs a command line through the login shell, so every
 * argument is quoted for a POSIX shell after its placeholders are filled in: a value from the
 * fleet, the plan or a server stays one literal argument there too. Host keys are always checked
 * (StrictHostKeyChecking=yes, BatchMode=yes: no prompt, no password). Commands to one server
 * share one connection (OpenSSH multiplexing: ControlMaster, a master kept 30 s after its last
 * command), at most SESSIONS_PER_CONNECTION at once. See docs/drivers.md.
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

/**
 * Commands in flight over one multiplexed connection: sshd refuses a session past its MaxSessions
 * (10 by default, the master's own included), and ssh then fails instead of connecting anew.
 */
export const SESSIONS_PER_CONNECTION = 8;
/** How long a master connection stays after its last command (ssh's ControlPersist, seconds). */
export const CONTROL_PERSIST_SECONDS = 30;

/**
 * The directory of this user's control sockets, private to it (created 0700; refused when another
 * user owns it or others may enter it: a socket there is a logged-in connection). None: no
 * multiplexing, each command connects on its own. Looked for once per process.
 */
function privateControlDir(): string | undefined {
  const uid = process.getuid?.();
  const dir = join(tmpdir(), `rollgate-ssh-${uid ?? "user"}`);
  try {
    mkdirSync(dir, { mode: 0o700, recursive: true });
    const st = lstatSync(dir);
    const safe = st.isDirectory() && (uid === undefined || st.uid === uid) && (st.mode & 0o077) === 0;
    return safe ? dir : undefined;
  } catch {
    return undefined;
  }
}
let controlDir: { path: string | undefined } | undefined;

/**
 * The control socket of one server as this spec reaches it: the identity and known-hosts file are
 * part of its name (with ssh's %C: local host, host, port, user), so a command never rides on a
 * connection authenticated or verified under other settings.
 */
function controlPath(dir: string, spec: SshDriverSpec): string {
  const settings = createHash("sha256")
    .update(JSON.stringify([spec.identity ?? "", spec.knownHosts ?? "", spec.user ?? "", spec.port ?? ""]))
    .digest("hex")
    .slice(0, 12);
  return join(dir, `${settings}-%C`);
}

export function sshRunner(spec: SshDriverSpec): CommandRunner {
  controlDir ??= { path: privateControlDir() };
  const path = controlDir.path ? controlPath(controlDir.path, spec) : undefined;
  const multiplex = path
    ? [
        "-o",
        "ControlMaster=auto",
        "-o",
        `ControlPath=${configValue(path)}`,
        "-o",
        `ControlPersist=${CONTROL_PERSIST_SECONDS}`,
      ]
    : [];
  return {
    kind: "ssh",
    code: "ROLLGATE_E_SSH_DRIVER",
    field: "driver.ssh.commands",
    // one queue per connection: its control socket (user, port and keys) and the host it reaches
    channel: (target) =>
      path
        ? {
            key: `${path}|${fill(spec.host ?? "{address}", target)}`,
            limit: SESSIONS_PER_CONNECTION,
          }
        : undefined,
    wrap(argv, target) {
      const host = fill(spec.host ?? "{address}", target);
      return [
        "ssh",
        ...multiplex,
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
