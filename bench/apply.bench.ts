/**
 * The engine's own cost as the fleet grows (issue: the engine scales with the fleet). Each case
 * brings a lab up with the real CLI (`rollgate lab up --detach`, its own process) at a speed of
 * 100,000, so that a simulated install takes milliseconds and what is left is rollgate's own work,
 * then runs the real CLI `rollgate apply --yes` on the lab's fleet file under GNU time, which
 * reports the apply process's user and system CPU and its peak RSS. Journal rows are counted in
 * the state file afterwards; the lab's journal says how many installs it saw (each server once).
 *
 * Cases: one matrix of 20, 60 and 200 servers; 100 and 500 matrices of 20 (2,000 and 10,000
 * servers). The three biggest take long (tens of minutes) while the engine's cost per step still
 * grows with the fleet: they run only with ROLLGATE_BENCH_APPLY_BIG=1 (else listed as skipped).
 * ROLLGATE_BENCH_ROOT=/path/to/another/checkout measures another build of rollgate (a before).
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { type Sshd, sshdAvailable, startSshd } from "./sshd.ts";

const ROOT = process.env.ROLLGATE_BENCH_ROOT ?? fileURLToPath(new URL("..", import.meta.url));
const CLI = join(ROOT, "bin", "rollgate.js");
const SPEED = 100_000;
const CASE_TIMEOUT_MS = 30 * 60_000;

/** `matrices` matrices of `size` servers each, 3.5.0, addresses 10.a.b.c (the lab maps them to loopback). */
function fleetYaml(matrices: number, size: number): string {
  const lines = [
    "apiVersion: rollgate/v1",
    `fleet: scale-${matrices}x${size}`,
    "defaults:",
    "  capacityFloor: 0.6",
    "  maxMixedWindow: 4h",
    "clusters:",
  ];
  let n = 0;
  for (let m = 0; m < matrices; m++) {
    lines.push(`  - name: mx${m}`, "    pack: polyserve-matrix", "    version: 3.5.0", "    servers:");
    for (let s = 0; s < size; s++, n++) {
      const address = `10.${100 + Math.floor(n / 62500)}.${Math.floor(n / 250) % 250}.${(n % 250) + 1}`;
      lines.push(`      - { name: mx${m}-s${s + 1}, address: ${address} }`);
    }
  }
  return `${lines.join("\n")}\n`;
}

function cli(args: string[], cwd: string, timeoutMs = CASE_TIMEOUT_MS) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: "utf8", timeout: timeoutMs });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * The derived fleet with every cluster on the exec driver: curl as the vendor's CLI (one process
 * per status read and per action, no shell), against the same appliance API through the lab's
 * control address. What an exec (or, plus a connection, ssh) driver costs per step.
 */
function execFleet(derived: string, sshd?: Sshd): string {
  const doc = parseYaml(readFileSync(derived, "utf8")) as {
    clusters: Array<{ driver?: unknown }>;
  };
  const text = readFileSync(derived, "utf8");
  const base = /url: (http:\/\/127\.0\.0\.1:\d+\/servers)\/\{name\}/.exec(text)?.[1];
  if (!base) throw new Error("no lab URL in the derived fleet file");
  const url = `${base}/{name}`;
  const curl = ["curl", "-sS", "-f", "-L", "--max-time", "30"];
  const post = (a: string, body: string) => [
    ...curl,
    "-X",
    "POST",
    "-H",
    "content-type: application/json",
    "-d",
    body,
    `${url}/v1/actions/${a}`,
  ];
  const commands = {
    status: [...curl, `${url}/v1/status`],
    ...Object.fromEntries(
      ["disable", "backup", "stop", "start", "verify"].map((a) => [
        a,
        post(a, a === "disable" ? '{"server":"{server}"}' : "{}"),
      ]),
    ),
    install: post("install", '{"release":"{release}"}'),
  };
  for (const c of doc.clusters)
    c.driver = sshd
      ? {
          ssh: {
            host: "127.0.0.1", // the fleet's addresses are real-world ones: the bench connects to loopback
            port: sshd.port,
            user: sshd.user,
            identity: sshd.identity,
            knownHosts: sshd.knownHosts,
            timeout: "60s",
            commands,
          },
        }
      : { exec: { timeout: "60s", commands } };
  const path = join(derived, "..", "exec.yaml");
  writeFileSync(path, stringifyYaml(doc));
  return path;
}

/** A lab of `matrices` × `size` servers in a new temporary folder, up in its own process. */
function labUp(
  matrices: number,
  size: number,
  prefix: string,
): { dir: string; fleet: string; derived: string; stdout: string } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const fleet = join(dir, "scale.yaml");
  writeFileSync(fleet, fleetYaml(matrices, size));
  const up = cli(
    ["lab", "up", fleet, "--speed", String(SPEED), "--port", "0", "--detach", "--json"],
    dir,
    300_000,
  );
  if (up.code !== 0) throw new Error(`lab up failed (${up.code}): ${up.stderr}`);
  return { dir, fleet, derived: (JSON.parse(up.stdout) as { fleet: string }).fleet, stdout: up.stdout };
}

function measure(matrices: number, size: number, driver: "http" | "exec" | "ssh" = "http") {
  return async (): Promise<Record<string, number | string>> => {
    const sshd = driver === "ssh" ? await startSshd() : undefined;
    try {
      return await measureWith(matrices, size, driver, sshd);
    } finally {
      sshd?.stop();
    }
  };
}

async function measureWith(
  matrices: number,
  size: number,
  driver: "http" | "exec" | "ssh",
  sshd: Sshd | undefined,
): Promise<Record<string, number | string>> {
  const servers = matrices * size;
  const { dir, fleet, derived: labFleet } = labUp(matrices, size, "rollgate-bench-apply-");
  const derived = driver === "http" ? labFleet : execFleet(labFleet, sshd);
  const state = join(dir, "state.db");
  try {
    const timeFile = join(dir, "time.txt");
    const t0 = performance.now();
    const r = spawnSync(
      "/usr/bin/time",
      [
        "-f",
        "%U %S %M",
        "-o",
        timeFile,
        process.execPath,
        CLI,
        "apply",
        derived,
        "--to",
        "3.5.1",
        "--yes",
        "--confirm-finalize",
        "--state",
        state,
      ],
      {
        cwd: dir,
        encoding: "utf8",
        timeout: CASE_TIMEOUT_MS,
        maxBuffer: 256 * 1024 * 1024,
        env: { ...process.env, CI: "true" },
        input: "",
      },
    );
    const wallS = (performance.now() - t0) / 1000;
    const [user, sys, maxKiB] = readFileSync(timeFile, "utf8").trim().split(/\s+/).slice(-3).map(Number);
    if (r.status !== 0) throw new Error(`apply exited ${r.status}: ${(r.stderr ?? "").slice(-500)}`);
    const db = new Database(state, { readonly: true });
    const rows = (db.prepare("SELECT count(*) AS n FROM events").get() as { n: number }).n;
    const steps = (
      db.prepare("SELECT count(*) AS n FROM events WHERE type = 'step.done'").get() as { n: number }
    ).n;
    db.close();
    const journal = readFileSync(join(dir, ".rollgate", "lab", "scale.journal.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { kind: string; action?: string; server?: string });
    const installs = journal.filter((e) => e.kind === "action" && e.action === "install");
    const once = new Set(installs.map((e) => e.server)).size === installs.length;
    if (installs.length !== servers || !once)
      throw new Error(`the lab saw ${installs.length} installs for ${servers} servers`);
    const cpuS = user! + sys!;
    return {
      servers,
      steps,
      "wall s": Math.round(wallS * 10) / 10,
      "apply cpu s": Math.round(cpuS * 10) / 10,
      "cpu ms/step": Math.round((cpuS * 1000) / Math.max(1, steps)),
      "apply peak RSS MiB": Math.round(maxKiB! / 1024),
      "journal rows": rows,
      "lab installs": installs.length,
      "lab violations": journal.filter((e) => e.kind === "violation").length,
    };
  } finally {
    cli(["lab", "down", fleet], dir, 60_000);
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The same matrix upgraded by Ansible (bench/ansible/matrix-rolling.yml: `serial: 1`, the `uri`
 * module against the appliance API, the install waited for), on a lab of its own, beside
 * rollgate's apply of it: walls and the ratio. The inventory lists the servers in the order
 * rollgate plans them, each with its appliance's own loopback URL from `lab up --json`.
 */
function versusAnsible(size: number) {
  return async (): Promise<Record<string, number | string>> => {
    const rollgate = await measure(1, size)();
    const { dir, fleet, stdout } = labUp(1, size, "rollgate-bench-ansible-");
    try {
      const servers = (JSON.parse(stdout) as { servers: Array<{ name: string; url: string }> }).servers;
      const plan = cli(["plan", fleet, "--to", "3.5.1", "--json"], dir, 120_000);
      if (plan.code !== 0) throw new Error(`plan failed: ${plan.stderr}`);
      const order = (JSON.parse(plan.stdout) as { steps: Array<{ action: string; server?: string }> }).steps
        .filter((s) => s.action === "install")
        .map((s) => s.server!);
      const url = new Map(servers.map((s) => [s.name, s.url]));
      const inventory = join(dir, "inventory.ini");
      writeFileSync(
        inventory,
        `[matrix]\n${order.map((n) => `${n} base_url=${url.get(n)}`).join("\n")}\n\n[matrix:vars]\nrelease=3.5.1\n`,
      );
      const timeFile = join(dir, "time.txt");
      const t0 = performance.now();
      const r = spawnSync(
        "/usr/bin/time",
        [
          "-f",
          "%U %S %M",
          "-o",
          timeFile,
          "ansible-playbook",
          "-i",
          inventory,
          join(ROOT, "bench", "ansible", "matrix-rolling.yml"),
        ],
        {
          cwd: dir,
          encoding: "utf8",
          timeout: CASE_TIMEOUT_MS,
          maxBuffer: 64 * 1024 * 1024,
          env: {
            ...process.env,
            ANSIBLE_NOCOLOR: "1",
            ANSIBLE_HOST_KEY_CHECKING: "False",
            ANSIBLE_RETRY_FILES_ENABLED: "False",
          },
        },
      );
      const wallS = (performance.now() - t0) / 1000;
      if (r.status !== 0)
        throw new Error(`ansible-playbook exited ${r.status}: ${(r.stdout ?? "").slice(-800)}`);
      const [user, sys] = readFileSync(timeFile, "utf8").trim().split(/\s+/).slice(-3).map(Number);
      const journal = readFileSync(join(dir, ".rollgate", "lab", "scale.journal.jsonl"), "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { kind: string; action?: string; server?: string });
      const installs = journal.filter((e) => e.kind === "action" && e.action === "install");
      if (installs.length !== size || new Set(installs.map((e) => e.server)).size !== size)
        throw new Error(`the lab saw ${installs.length} Ansible installs for ${size} servers`);
      const rollgateWall = rollgate["wall s"] as number;
      return {
        servers: size,
        "rollgate wall s": rollgateWall,
        "rollgate cpu s": rollgate["apply cpu s"]!,
        "ansible wall s": Math.round(wallS * 10) / 10,
        "ansible cpu s": Math.round((user! + sys!) * 10) / 10,
        "ansible/rollgate wall": Math.round((wallS / rollgateWall) * 10) / 10,
        "ansible lab violations": journal.filter((e) => e.kind === "violation").length,
      };
    } finally {
      cli(["lab", "down", fleet], dir, 60_000);
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

/**
 * The kill scan: the 2,000-server apply killed with SIGKILL at `kills` moments (evenly spread
 * over its steps), each time started again with the same command (which resumes the run from its
 * journal), until it completes; the lab's journal must show every server installed exactly once
 * and no rule broken.
 */
function killScan(matrices: number, size: number, kills: number) {
  return async (): Promise<Record<string, number | string>> => {
    const servers = matrices * size;
    const { dir, fleet, derived } = labUp(matrices, size, "rollgate-bench-kill-");
    const state = join(dir, "state.db");
    const args = [CLI, "apply", derived, "--to", "3.5.1", "--yes", "--confirm-finalize", "--state", state];
    const stepsDone = (): number => {
      try {
        const db = new Database(state, { readonly: true, fileMustExist: true });
        try {
          return (
            db.prepare("SELECT count(*) AS n FROM events WHERE type = 'step.done'").get() as { n: number }
          ).n;
        } finally {
          db.close();
        }
      } catch {
        return 0;
      }
    };
    const total = servers * 6;
    const t0 = performance.now();
    try {
      let killed = 0;
      let starts = 0;
      for (;;) {
        starts++;
        const child = spawn(process.execPath, args, {
          cwd: dir,
          stdio: "ignore",
          env: { ...process.env, CI: "true" },
        });
        const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
        let code: number | null | "killed" = null;
        if (killed < kills) {
          const at = Math.round((total * (killed + 1)) / (kills + 1));
          const reached = (async () => {
            while (stepsDone() < at) await new Promise((r) => setTimeout(r, 200));
          })();
          const first = await Promise.race([
            exited.then((c) => ({ exit: c })),
            reached.then(() => ({ exit: undefined })),
          ]);
          if (first.exit === undefined) {
            child.kill("SIGKILL");
            await exited;
            killed++;
            code = "killed";
          } else code = first.exit;
        } else code = await exited;
        if (code === 0) break;
        if (code !== "killed") throw new Error(`apply exited ${code} after ${killed} kill(s)`);
        if (starts > kills + 5) throw new Error("the run did not complete");
      }
      const journal = readFileSync(join(dir, ".rollgate", "lab", "scale.journal.jsonl"), "utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { kind: string; action?: string; server?: string });
      const installs = journal.filter((e) => e.kind === "action" && e.action === "install");
      const perServer = new Map<string, number>();
      for (const e of installs) perServer.set(e.server!, (perServer.get(e.server!) ?? 0) + 1);
      const twice = [...perServer.values()].filter((n) => n > 1).length;
      if (perServer.size !== servers || twice > 0)
        throw new Error(`the lab saw ${perServer.size} servers installed of ${servers}, ${twice} twice`);
      return {
        servers,
        kills: killed,
        starts,
        "wall s": Math.round((performance.now() - t0) / 100) / 10,
        "servers installed once": perServer.size,
        "installed twice": twice,
        "lab violations": journal.filter((e) => e.kind === "violation").length,
      };
    } finally {
      cli(["lab", "down", fleet], dir, 60_000);
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

const ansible = spawnSync("ansible-playbook", ["--version"], { encoding: "utf8" }).status === 0;
const NO_ANSIBLE = "ansible-playbook is not installed (Debian: apt-get install ansible-core)";

/**
 * A case beside the 1 × 20 matrix, measured again just before it in the same process: the ratio
 * of CPU per step to it (the issue's scaling figure: at most 1.5 at 10,000 servers).
 */
function relative(matrices: number, size: number, driver: "http" | "exec" | "ssh" = "http") {
  return async (): Promise<Record<string, number | string>> => {
    const base = await measure(1, 20)();
    const r = await measure(matrices, size, driver)();
    return {
      ...r,
      "1 × 20 cpu ms/step": base["cpu ms/step"]!,
      "cpu/step ÷ 1 × 20":
        Math.round(((r["cpu ms/step"] as number) / (base["cpu ms/step"] as number)) * 100) / 100,
    };
  };
}

const big = process.env.ROLLGATE_BENCH_APPLY_BIG === "1";
const BIG = "ROLLGATE_BENCH_APPLY_BIG=1 runs it";
const skipped = (why: string) => () => ({ skipped: why });

export const cases = [
  { name: "apply 20 (1 matrix)", run: measure(1, 20) },
  { name: "apply 60 (1 matrix)", run: relative(1, 60) },
  { name: "apply 20 (1 matrix, exec driver: curl)", run: relative(1, 20, "exec") },
  {
    name: "apply 20 (1 matrix, ssh driver: curl over ssh)",
    run: sshdAvailable() ? relative(1, 20, "ssh") : skipped("no sshd (Debian: openssh-server)"),
  },
  { name: "apply 200 (1 matrix)", run: big ? relative(1, 200) : skipped(BIG) },
  { name: "apply 2,000 (100 matrices × 20)", run: big ? relative(100, 20) : skipped(BIG) },
  { name: "apply 10,000 (500 matrices × 20)", run: big ? relative(500, 20) : skipped(BIG) },
  {
    name: "kill scan 2,000 (100 matrices × 20, 10 × SIGKILL, resumed)",
    run: big ? killScan(100, 20, 10) : skipped(BIG),
  },
  { name: "ansible 20 (1 matrix), beside rollgate", run: ansible ? versusAnsible(20) : skipped(NO_ANSIBLE) },
  { name: "ansible 60 (1 matrix), beside rollgate", run: ansible ? versusAnsible(60) : skipped(NO_ANSIBLE) },
];
