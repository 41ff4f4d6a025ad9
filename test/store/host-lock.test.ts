import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import {
  copyFileSync,
  lchownSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { REPO, tempDir } from "../helpers/cli.ts";
import { waitFor, e2eTimeouts } from "../helpers/wait.ts";

e2eTimeouts(60_000);

/**
 * The host lock (src/store/host-lock.ts) across real processes: one engine per server, whatever
 * the fleet file (a copy in another folder included); engines of disjoint fleets run side by
 * side; the lock of one killed with SIGKILL is free at once; and it writes no file anywhere, so a
 * link planted in a shared folder has nothing to redirect.
 */
const HOLDER = join(REPO, "test", "fixtures", "hold-host-lock.ts");
const children: ChildProcessWithoutNullStreams[] = [];
const dirs: string[] = [];
afterEach(() => {
  for (const c of children.splice(0)) c.kill("SIGKILL");
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function holder(fleet: string): { child: ChildProcessWithoutNullStreams; out: () => string } {
  const child = spawn(process.execPath, ["--import", "tsx", HOLDER, fleet], { cwd: REPO });
  children.push(child);
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  return { child, out: () => out };
}

function fleetFile(addresses: string[], name = "acme", url = "http://{address}:9"): string {
  const dir = tempDir("rollgate-lock-");
  dirs.push(dir);
  const file = join(dir, "fleet.yaml");
  writeFileSync(
    file,
    [
      "apiVersion: rollgate/v1",
      `fleet: ${name}`,
      "clusters:",
      "  - name: mx",
      "    pack: polyserve-matrix",
      "    version: 3.5.0",
      `    driver: { http: { url: '${url}' } }`,
      "    servers:",
      ...addresses.map((a, i) => `      - { name: srv${i + 1}, address: ${a} }`),
      "",
    ].join("\n"),
  );
  return file;
}

const answered = (h: { out: () => string }) => h.out().includes("\n");

describe("the host lock", () => {
  it("goes to exactly one of several engines starting at once, and names the holder to the others", async () => {
    const fleet = fleetFile(["10.10.1.1", "10.10.1.2"]);
    const all = Array.from({ length: 6 }, () => holder(fleet));
    await waitFor(() => all.every(answered), { what: "every holder to answer", timeoutMs: 60_000 });
    const got = all.filter((h) => h.out().startsWith("got"));
    expect(got).toHaveLength(1);
    for (const h of all.filter((x) => !x.out().startsWith("got")))
      expect(h.out()).toMatch(
        new RegExp(`^refused ROLLGATE_E_RUN_LOCKED: another rollgate engine \\(pid ${got[0]!.child.pid} `),
      );
  }, 90_000);

  it("refuses a copy of the fleet file in another folder (the same servers), and names what they share", async () => {
    const original = fleetFile(["10.10.1.1", "10.10.1.2", "10.10.1.3"]);
    const copyDir = tempDir("rollgate-lock-copy-");
    dirs.push(copyDir);
    const copy = join(copyDir, "renamed.yaml");
    copyFileSync(original, copy);
    const first = holder(original);
    await waitFor(() => first.out().startsWith("got"), { what: "the first holder", timeoutMs: 30_000 });
    const second = holder(copy);
    await waitFor(() => answered(second), { what: "the copy's engine", timeoutMs: 30_000 });
    expect(second.out()).toMatch(/^refused ROLLGATE_E_RUN_LOCKED/);
    expect(second.out()).toContain(`pid ${first.child.pid}`);
    expect(second.out()).toContain("srv1 (mx)");
    // a fleet of other servers that happens to share the name runs beside it
    const other = holder(fleetFile(["10.10.9.1", "10.10.9.2"]));
    await waitFor(() => answered(other), { what: "the other fleet's engine", timeoutMs: 30_000 });
    expect(other.out()).toMatch(/^got/);
  }, 90_000);

  it("refuses the same appliances reached by another spelling of their URL (localhost, case, default port, dot segments)", async () => {
    const first = holder(fleetFile(["10.10.1.1", "10.10.1.2"], "a", "http://127.0.0.1:80/servers/{name}"));
    await waitFor(() => first.out().startsWith("got"), { what: "the first holder", timeoutMs: 30_000 });
    for (const url of ["http://LOCALHOST/servers/{name}", "http://127.0.0.1/x/../servers/{name}"]) {
      const other = holder(fleetFile(["10.10.5.1", "10.10.5.2"], "b", url));
      await waitFor(() => answered(other), { what: `an engine through ${url}`, timeoutMs: 30_000 });
      expect(other.out(), url).toMatch(/^refused ROLLGATE_E_RUN_LOCKED: .*srv1 \(mx\)/);
    }
  }, 90_000);

  it("is free again the moment its holder is killed (kill -9), and after a release", async () => {
    const fleet = fleetFile(["10.10.1.1"]);
    const first = holder(fleet);
    await waitFor(() => first.out().startsWith("got"), { what: "the first holder", timeoutMs: 30_000 });
    const refused = holder(fleet);
    await waitFor(() => refused.out().startsWith("refused"), {
      what: "the second to be refused",
      timeoutMs: 30_000,
    });
    expect(refused.out()).toContain(`pid ${first.child.pid}`);
    first.child.kill("SIGKILL");
    await new Promise((r) => first.child.on("close", r));
    const next = holder(fleet);
    await waitFor(() => answered(next), { what: "the next holder", timeoutMs: 30_000 });
    expect(next.out()).toMatch(/^got/);
    next.child.stdin.end(); // releases
    await new Promise((r) => next.child.on("close", r));
    const last = holder(fleet);
    await waitFor(() => answered(last), { what: "the last holder", timeoutMs: 30_000 });
    expect(last.out()).toMatch(/^got/);
  }, 90_000);

  it("an engine stopped with SIGSTOP holds its own servers and nobody else's", async () => {
    const fleet = fleetFile(["10.10.1.1", "10.10.1.2"]);
    const stopped = holder(fleet);
    await waitFor(() => stopped.out().startsWith("got"), { what: "the holder", timeoutMs: 30_000 });
    stopped.child.kill("SIGSTOP");
    try {
      const other = holder(fleetFile(["10.10.7.1"]));
      await waitFor(() => answered(other), { what: "an engine of other servers", timeoutMs: 30_000 });
      expect(other.out()).toMatch(/^got/);
      const same = holder(fleet);
      await waitFor(() => answered(same), { what: "an engine of the same servers", timeoutMs: 30_000 });
      expect(same.out()).toMatch(
        /^refused ROLLGATE_E_RUN_LOCKED: another process on this host .*does not answer/,
      );
      expect(same.out()).toContain("srv1 (mx)");
    } finally {
      stopped.child.kill("SIGCONT");
    }
  }, 90_000);

  it("writes nothing in the shared temporary folder: links planted there by another user are never followed", async () => {
    // rollgate 0.1 kept lock files under predictable names in $TMPDIR/rollgate-engines (mode
    // 1777) and followed links planted there (chmod 0666, writes). Plant, as another user, links
    // of every name it used at a file that must not change; taking and holding the lock touches
    // neither the links nor the file.
    const victimDir = tempDir("rollgate-victim-");
    dirs.push(victimDir);
    const victim = join(victimDir, "precious");
    writeFileSync(victim, "untouched\n", { mode: 0o600 });
    const fleet = fleetFile(["10.10.1.1"]);
    const shared = join(tmpdir(), "rollgate-engines");
    mkdirSync(shared, { recursive: true, mode: 0o1777 });
    const name = createHash("sha256").update(realpathSync(fleet)).digest("hex").slice(0, 24);
    const links = [`${name}.lock`, `${name}.lock.holder.json`, `${name}.lock-journal`].map((n) =>
      join(shared, n),
    );
    const nobody = 65534;
    for (const l of links) {
      rmSync(l, { force: true });
      symlinkSync(victim, l);
      if (process.getuid?.() === 0) lchownSync(l, nobody, nobody);
    }
    const before = readdirSync(shared).sort();
    const h = holder(fleet);
    await waitFor(() => answered(h), { what: "the holder", timeoutMs: 30_000 });
    expect(h.out()).toMatch(/^got/);
    expect(readdirSync(shared).sort()).toEqual(before);
    for (const l of links) expect(lstatSync(l).isSymbolicLink()).toBe(true);
    expect(statSync(victim).mode & 0o777).toBe(0o600);
    expect(readFileSync(victim, "utf8")).toBe("untouched\n");
    for (const l of links) rmSync(l, { force: true });
  }, 60_000);
});
