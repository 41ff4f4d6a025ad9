import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";

/**
 * An OpenSSH server of the bench's own on 127.0.0.1 (a free port, its own host key, one
 * authorized key; the same set-up as test/run/ssh-driver.test.ts), for the ssh driver's cost per
 * step. Undefined where there is no sshd (Debian: openssh-server).
 */
export interface Sshd {
  port: number;
  user: string;
  identity: string;
  knownHosts: string;
  stop(): void;
}

const SSHD = "/usr/sbin/sshd";

export function sshdAvailable(): boolean {
  return existsSync(SSHD);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const c = connect(port, "127.0.0.1", () => {
      c.destroy();
      resolve(true);
    });
    c.on("error", () => resolve(false));
  });

export async function startSshd(): Promise<Sshd> {
  const dir = mkdtempSync(join(tmpdir(), "rollgate-bench-sshd-"));
  for (const key of ["host_key", "client_key"])
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, key)]);
  writeFileSync(
    join(dir, "authorized_keys"),
    `environment="SHLVL=1" ${readFileSync(join(dir, "client_key.pub"), "utf8")}`,
  );
  const port = await freePort();
  writeFileSync(
    join(dir, "sshd_config"),
    [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${join(dir, "host_key")}`,
      `PidFile ${join(dir, "sshd.pid")}`,
      `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
      "PubkeyAuthentication yes",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "PermitRootLogin prohibit-password",
      "StrictModes no",
      "UsePAM no",
      "PermitUserEnvironment SHLVL",
      "MaxStartups 100",
      "",
    ].join("\n"),
  );
  writeFileSync(
    join(dir, "known_hosts"),
    `[127.0.0.1]:${port} ${readFileSync(join(dir, "host_key.pub"), "utf8")}`,
  );
  if (process.getuid?.() === 0) mkdirSync("/run/sshd", { recursive: true });
  const sshd: ChildProcess = spawn(SSHD, ["-D", "-e", "-f", join(dir, "sshd_config")], {
    stdio: ["ignore", "ignore", "ignore"],
  });
  const deadline = Date.now() + 15_000;
  while (!(await listening(port))) {
    if (Date.now() > deadline) throw new Error(`sshd did not listen on 127.0.0.1:${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    port,
    user: userInfo().username,
    identity: join(dir, "client_key"),
    knownHosts: join(dir, "known_hosts"),
    stop: () => {
      sshd.kill("SIGTERM");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
