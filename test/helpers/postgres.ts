import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { waitFor } from "./wait.ts";

/**
 * A real PostgreSQL server of the test's own: initdb in a temporary directory, pg_ctl start on
 * 127.0.0.1 and a free port (its socket in the same directory), trust authentication for
 * 127.0.0.1 only. Run as the `postgres` OS user when the tests run as root (PostgreSQL refuses
 * root). Debian's `postgresql` package provides the binaries (scripts/test-deps.sh installs it).
 */
export interface PgServer {
  dir: string;
  port: number;
  /** postgres://postgres@127.0.0.1:PORT/DB */
  url(db?: string): string;
  createDb(name: string): Promise<string>;
  stop(): void;
  start(): Promise<void>;
  /** Stops the server and removes its directory. */
  destroy(): void;
}

function pgBin(name: string): string {
  const base = "/usr/lib/postgresql";
  if (existsSync(base)) {
    const versions = readdirSync(base)
      .filter((v) => existsSync(join(base, v, "bin", name)))
      .sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return join(base, versions[0], "bin", name);
  }
  const found = spawnSync("sh", ["-c", `command -v ${name}`], { encoding: "utf8" }).stdout.trim();
  if (found) return found;
  throw new Error(`${name} not found (install Debian's postgresql package: scripts/test-deps.sh)`);
}

export function postgresAvailable(): boolean {
  try {
    pgBin("initdb");
    pgBin("pg_ctl");
    return true;
  } catch {
    return false;
  }
}

const asRoot = process.getuid?.() === 0;

function run(bin: string, args: string[], input?: string): void {
  const [cmd, argv] = asRoot ? ["runuser", ["-u", "postgres", "--", bin, ...args]] : [bin, args];
  execFileSync(cmd, argv, {
    stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    cwd: tmpdir(),
    ...(input === undefined ? {} : { input }),
  });
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * `listen`: addresses to listen on besides 127.0.0.1, each trusted from its /24 (the two-host test
 * of test/cli/ha-netns.test.ts: a bridge address of a private subnet that exists only inside this
 * machine, joined to network namespaces the test made). Default: 127.0.0.1 only.
 */
export async function startPostgres(options: { listen?: string[] } = {}): Promise<PgServer> {
  const dir = mkdtempSync(join(tmpdir(), "rollgate-pg-"));
  chmodSync(dir, 0o700);
  if (asRoot) {
    const id = execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim();
    const gid = execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim();
    chownSync(dir, Number(id), Number(gid));
  }
  const data = join(dir, "data");
  run(pgBin("initdb"), ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"]);
  const extra = options.listen ?? [];
  if (extra.length) {
    const hba = join(data, "pg_hba.conf");
    const lines = extra.map((a) => `host all all ${a.split(".").slice(0, 3).join(".")}.0/24 trust`);
    const text = `${readFileSync(hba, "utf8")}\n${lines.join("\n")}\n`;
    run("sh", ["-c", `cat > ${hba}`], text);
  }
  const port = await freePort();
  const opts = `-c listen_addresses=${["127.0.0.1", ...extra].join(",")} -c port=${port} -c unix_socket_directories=${dir} -c fsync=on`;
  const url = (db = "postgres") => `postgres://postgres@127.0.0.1:${port}/${db}`;
  const ready = async () =>
    waitFor(
      async () => {
        const c = new pg.Client({ connectionString: url(), connectionTimeoutMillis: 2_000 });
        try {
          await c.connect();
          await c.query("SELECT 1");
          return true;
        } finally {
          await c.end().catch(() => undefined);
        }
      },
      { what: `PostgreSQL on 127.0.0.1:${port}`, timeoutMs: 30_000, intervalMs: 100 },
    );
  const start = async () => {
    run(pgBin("pg_ctl"), ["-D", data, "-l", join(dir, "log"), "-o", opts, "-w", "start"]);
    await ready();
  };
  const stop = () => {
    if (existsSync(join(data, "postmaster.pid")))
      run(pgBin("pg_ctl"), ["-D", data, "-m", "fast", "-w", "stop"]);
  };
  await start();
  return {
    dir,
    port,
    url,
    start,
    stop,
    async createDb(name: string) {
      const c = new pg.Client({ connectionString: url() });
      await c.connect();
      try {
        await c.query(`CREATE DATABASE "${name}"`);
      } finally {
        await c.end();
      }
      return url(name);
    },
    destroy() {
      try {
        stop();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
