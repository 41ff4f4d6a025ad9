import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { userInfo } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import { SshDriver } from "../../src/drivers/ssh.ts";
import type { Lab } from "../../src/lab/index.ts";
import { parseFleetText } from "../../src/model/fleet-file.ts";
import { runCli, tempDir } from "../helpers/cli.ts";
import { adapterCommands, labOf } from "../helpers/engine.ts";
import { waitFor, e2eTimeouts } from "../helpers/wait.ts";

e2eTimeouts(480_000);

/**
 * The ssh driver against a real OpenSSH server: an sshd of the test's own on 127.0.0.1 (a free
 * port, its own host key, one authorized key), logging in as the current user. The commands it
 * runs there are the vendor-style CLI adapter of the exec driver's test, which speaks to the lab.
 * `.ci/run` installs openssh-server (scripts/test-deps.sh).
 */
const SSHD = "/usr/sbin/sshd";
let sshd: ChildProcess | undefined;
/** What sshd printed (-e): a line "Accepted publickey …" per connection it let in. */
let log = "";
const accepted = () => log.split("\n").filter((l) => l.includes("Accepted publickey")).length;
let dir = "";
let port = 0;
let lab: Lab | undefined;

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

beforeAll(async () => {
  if (!existsSync(SSHD)) throw new Error(`no sshd at ${SSHD}: apt-get install openssh-server`);
  dir = tempDir("rollgate-ssh-");
  for (const key of ["host_key", "client_key"])
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, key)]);
  // SHLVL=1 for the session: bash then does not read ~/.bashrc for an ssh command (it does when
  // run by sshd at level 1), which on some machines (pyenv init) costs more than the command
  writeFileSync(
    join(dir, "authorized_keys"),
    `environment="SHLVL=1" ${readFileSync(join(dir, "client_key.pub"), "utf8")}`,
  );
  port = await freePort();
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
      "",
    ].join("\n"),
  );
  writeFileSync(
    join(dir, "known_hosts"),
    `[127.0.0.1]:${port} ${readFileSync(join(dir, "host_key.pub"), "utf8")}`,
  );
  writeFileSync(join(dir, "no_known_hosts"), "");
  if (process.getuid?.() === 0) mkdirSync("/run/sshd", { recursive: true }); // sshd's privsep dir
  sshd = spawn(SSHD, ["-D", "-e", "-f", join(dir, "sshd_config")], { stdio: ["ignore", "ignore", "pipe"] });
  sshd.stderr!.on("data", (d) => (log += d));
  await waitFor(
    () =>
      new Promise<boolean>((resolve) => {
        const c = connect(port, "127.0.0.1", () => {
          c.destroy();
          resolve(true);
        });
        c.on("error", () => resolve(false));
      }),
    { what: `sshd on 127.0.0.1:${port} (${log})`, timeoutMs: 15_000 },
  );
});

afterAll(() => {
  sshd?.kill("SIGTERM");
});

afterEach(async () => {
  await lab?.stop();
  lab = undefined;
});

/** The lab's derived fleet with every cluster on the ssh driver (the adapter CLI, run over ssh). */
function sshFleet(derived: string, controlUrl: string, knownHosts = join(dir, "known_hosts")): string {
  const doc = parse(readFileSync(derived, "utf8"));
  for (const c of doc.clusters) {
    c.driver = {
      ssh: {
        host: "127.0.0.1", // the fleet's addresses are real-world ones: the test connects to loopback
        port,
        user: userInfo().username,
        identity: join(dir, "client_key"),
        knownHosts,
        timeout: "30s",
        commands: adapterCommands(controlUrl),
      },
    };
  }
  const path = join(derived, "..", `ssh-fleet-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(path, stringify(doc));
  return path;
}

describe("ssh driver (a real sshd on 127.0.0.1)", () => {
  it("drives a whole matrix upgrade, every command run on the server over ssh", {
    timeout: 300_000,
  }, async () => {
    const t = await labOf("matrix-seed", 6000);
    lab = t.lab;
    const fleet = sshFleet(t.fleet, t.lab.controlUrl);
    const before = accepted();
    const r = await runCli(["apply", fleet, "--to", "3.5.1", "--yes", "--confirm-finalize"], {
      timeoutMs: 240_000, // a process per observation: slow on a loaded machine
    });
    expect(r.code, r.stderr).toBe(0);
    expect(t.lab.status().installs).toEqual({ srv1: 1, srv2: 1, srv3: 1 });
    expect(t.lab.status().violations).toEqual([]);
    // the commands (18 actions and many more status reads) shared a few connections (multiplexed:
    // one master, and at most a few opened beside it while the first master was not yet up)
    const commands = t.lab.world.journal.entries(0, Number.MAX_SAFE_INTEGER).length;
    expect(commands).toBeGreaterThan(18);
    expect(accepted() - before).toBeLessThanOrEqual(8);
  });

  it("quotes every value for the remote shell, checks host keys, and reports what failed", async () => {
    const t = await labOf("matrix-seed", 1200);
    lab = t.lab;
    const load = (path: string) => {
      const parsed = parseFleetText(readFileSync(path, "utf8"));
      if (!parsed.ok) throw new Error(JSON.stringify(parsed.diagnostics));
      const cluster = parsed.fleet.clusters[0]!;
      return { cluster, server: cluster.servers.find((s) => s.name === "srv3")! };
    };
    const target = load(sshFleet(t.fleet, t.lab.controlUrl));
    const driver = new SshDriver(target.cluster.driver!.ssh!);
    expect(await driver.observe(target)).toMatchObject({
      server: "srv3",
      state: "running",
      release: "3.5.0",
    });

    // shell metacharacters reach the appliance as one literal argument, and are refused there
    const pwned = join(dir, "pwned");
    const hostile = await driver.perform(target, "install", { release: `3.5.1'; touch ${pwned}; echo '` });
    expect(hostile).toMatchObject({ ok: false, code: "ROLLGATE_E_SSH_DRIVER" });
    expect(hostile.message).toContain("exited");
    expect(existsSync(pwned)).toBe(false);
    expect(t.lab.status().installs.srv3).toBe(0);

    // a host key rollgate does not know: no connection, no prompt; the server reads as unreachable (G5)
    const stranger = load(sshFleet(t.fleet, t.lab.controlUrl, join(dir, "no_known_hosts")));
    const blind = new SshDriver(stranger.cluster.driver!.ssh!);
    const seen = await blind.observe(stranger);
    expect(seen.state).toBe("unreachable");
    expect(seen.error).toMatch(/^ssh to the server failed: .*host key/i);
    const refused = await blind.perform(stranger, "stop", {});
    expect(refused).toMatchObject({ ok: false, code: "ROLLGATE_E_SSH_DRIVER" });
    expect(refused.message).toMatch(/^ssh to the server failed: .*host key/i);
    expect(t.lab.status().servers.find((s) => s.name === "srv3")!.state).toBe("running");
  });
});
