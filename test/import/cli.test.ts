import { linkSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli, tempDir } from "../helpers/cli.ts";
import { e2eTimeouts } from "../helpers/wait.ts";

e2eTimeouts(60_000);

// The guide's INI inventory with :children and :vars, and the rollgate variables an operator adds.
const INI = `# DMA clusters of the east
[dma_nyc]
nyc-1 ansible_host=10.20.1.1
nyc-2 ansible_host=10.20.1.2

[dma_bos]
10.20.2.[1:2]

[sc_east:children]
dma_nyc
dma_bos

[sc_east:vars]
rollgate_pack=polycom-dma
rollgate_version=10.0.1

[kv]
kv-[1:3] rollgate_pack=generic

[kv:vars]
rollgate_version=2.4.1
`;

describe("rollgate import ansible (real CLI)", () => {
  it("prints a fleet that validates, and with -o writes it, with comments naming the inventory's lines", async () => {
    const dir = tempDir();
    const inv = join(dir, "hosts.ini");
    writeFileSync(inv, INI.replace("kv-[1:3] rollgate_pack=generic", "10.30.0.[1:3] rollgate_pack=generic"));
    const printed = await runCli(["import", "ansible", inv, "--group-as", "supercluster", "--fleet", "acme"]);
    expect(printed.code).toBe(0);
    expect(printed.stderr).toBe(`fleet acme: 3 cluster(s), 7 server(s), 1 supercluster(s) from ${inv}\n`);
    expect(printed.stdout).toContain(`  # group dma_nyc, ${inv}:2\n  - name: dma_nyc\n    pack: polycom-dma`);
    expect(printed.stdout).toContain(`- { name: nyc-2, address: 10.20.1.2 } # ${inv}:4`);
    expect(printed.stdout).toContain(`  # group sc_east, ${inv}:9\n  - name: sc_east`);
    const stdoutFleet = join(dir, "printed.yaml");
    writeFileSync(stdoutFleet, printed.stdout);
    const v1 = await runCli(["validate", stdoutFleet]);
    expect(v1.stdout).toBe(`ok ${stdoutFleet}: fleet acme, 3 cluster(s), 7 server(s), 1 supercluster(s)\n`);
    expect(v1.code).toBe(0);

    const out = join(dir, "fleet.yaml");
    const wrote = await runCli(["import", "ansible", inv, "-o", out]);
    expect(wrote.code).toBe(0);
    expect(wrote.stdout).toMatch(
      /^wrote .*fleet\.yaml: fleet hosts: 3 cluster\(s\), 7 server\(s\), 0 supercluster\(s\)/,
    );
    expect(readFileSync(out, "utf8")).toContain(`# group kv, ${inv}:17`);
    const v2 = await runCli(["validate", out]);
    expect(v2.code).toBe(0);
    expect(readdirSync(dir).sort()).toEqual(["fleet.yaml", "hosts.ini", "printed.yaml"]); // no temporary file left
  }, 120_000);

  it("the JSON of ansible-inventory --list and a YAML inventory import to fleets that validate", async () => {
    const dir = tempDir();
    const json = join(dir, "inventory.json");
    writeFileSync(
      json,
      JSON.stringify(
        {
          _meta: {
            hostvars: {
              "srv1.example.com": { ansible_host: "10.10.1.1" },
              "srv2.example.com": { ansible_host: "10.10.1.2" },
            },
          },
          all: { children: ["ungrouped", "matrix_a"] },
          matrix_a: { hosts: ["srv1.example.com", "srv2.example.com"] },
        },
        null,
        4,
      ),
    );
    const out = join(dir, "matrix.yaml");
    const r = await runCli([
      "import",
      "ansible",
      json,
      "--pack",
      "polyserve-matrix",
      "--version",
      "3.5.0",
      "-o",
      out,
    ]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect((await runCli(["validate", out])).code).toBe(0);

    const yml = join(dir, "hosts.yml");
    writeFileSync(
      yml,
      `all:
  vars:
    rollgate_pack: polycom-dma
    rollgate_version: 10.0.1
  children:
    sc_west:
      children:
        dma_sfo:
          hosts:
            10.40.1.[1:2]:
        dma_sea:
          hosts:
            sea-1: { ansible_host: 10.40.2.1 }
`,
    );
    const out2 = join(dir, "west.yaml");
    const y = await runCli(["import", "ansible", yml, "--group-as", "supercluster", "-o", out2]);
    expect(y.code).toBe(0);
    const v = await runCli(["validate", out2]);
    expect(v.stdout).toMatch(/2 cluster\(s\), 3 server\(s\), 1 supercluster\(s\)/);
    expect(v.code).toBe(0);
  }, 120_000);

  it("what cannot be mapped: exit 2, every finding with file:line, and -o not written (an old file kept)", async () => {
    const dir = tempDir();
    const inv = join(dir, "hosts.ini");
    // kv-1..3 have no address; nyc-2 is in two clusters; dma_bos a pack that does not exist
    writeFileSync(
      inv,
      `${INI}\n[dma_lab]\nnyc-2\n\n[dma_lab:vars]\nrollgate_pack=polycom-dma\nrollgate_version=10.0.1\n[dma_bos:vars]\nrollgate_pack=dma\n`,
    );
    const out = join(dir, "fleet.yaml");
    writeFileSync(out, "# the operator's fleet file\n");
    const r = await runCli(["import", "ansible", inv, "-o", out]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stderr).toContain(`; ${out} was not written`);
    expect(r.stderr).toContain(
      `${inv}:30:1 groups.dma_bos.vars.rollgate_pack: rollgate_pack "dma" is not a rollgate pack (expected one of polyserve-matrix, polycom-dma, generic) [ROLLGATE_E_IMPORT_PACK]`,
    );
    expect(r.stderr).toContain(
      `${inv}:24:1 groups.dma_lab.hosts: host nyc-2 is in group dma_lab and in group dma_nyc (${inv}:4): a server is in one cluster`,
    );
    for (const n of [1, 2, 3])
      expect(r.stderr).toContain(
        `${inv}:18:1 hosts["kv-${n}"].ansible_host: host kv-${n} has no ansible_host and its name is not an IP address`,
      );
    expect(r.stderr).toMatch(/\[ROLLGATE_E_IMPORT_NO_ADDRESS\]/);
    expect(readFileSync(out, "utf8")).toBe("# the operator's fleet file\n");
    expect(readdirSync(dir).sort()).toEqual(["fleet.yaml", "hosts.ini"]);

    // a malformed line, and a missing inventory
    writeFileSync(inv, "[web servers]\n10.0.0.1\n");
    const bad = await runCli(["import", "ansible", inv, "--pack", "generic", "-o", join(dir, "new.yaml")]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(`${inv}:1:1 invalid section header [web servers]`);
    expect(readdirSync(dir).sort()).toEqual(["fleet.yaml", "hosts.ini"]);
    const missing = await runCli(["import", "ansible", join(dir, "nope.ini")]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(
      /cannot read inventory .*nope\.ini: no such file[\s\S]*ROLLGATE_E_IMPORT_NOT_FOUND/,
    );
    // an inventory past 8 MiB is refused by its size, before it is parsed, nothing written
    const huge = join(dir, "huge.ini");
    writeFileSync(huge, `[web]\n${"# padding\n".repeat(900_000)}`);
    const big = await runCli(["import", "ansible", huge, "--pack", "generic", "-o", join(dir, "big.yaml")]);
    expect(big.code).toBe(2);
    expect(big.stderr).toMatch(/larger than the limit of 8388608 bytes[\s\S]*ROLLGATE_E_IMPORT_TOO_LARGE/);
    expect(readdirSync(dir).sort()).toEqual(["fleet.yaml", "hosts.ini", "huge.ini"]);
  }, 120_000);

  it("-o naming the inventory itself (or a hard link to it) is refused, the inventory kept", async () => {
    const dir = tempDir("rollgate-import-self-");
    const inv = join(dir, "hosts.ini");
    writeFileSync(inv, INI);
    linkSync(inv, join(dir, "fleet.yaml"));
    for (const out of [inv, join(dir, ".", "hosts.ini"), join(dir, "fleet.yaml")]) {
      const r = await runCli(["import", "ansible", inv, "-o", out]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain("is the inventory itself");
      expect(readFileSync(inv, "utf8")).toBe(INI);
    }
    expect(readdirSync(dir).sort()).toEqual(["fleet.yaml", "hosts.ini"]);
  });

  it("group_vars/ and host_vars/ beside the inventory, which rollgate does not read, are named in a warning", async () => {
    const dir = tempDir();
    const inv = join(dir, "hosts.ini");
    writeFileSync(inv, "[web]\n10.0.0.1\n");
    mkdirSync(join(dir, "group_vars"));
    // the release Ansible would give web: rollgate does not see it, and --version would stand in for it
    writeFileSync(join(dir, "group_vars", "web.yml"), "rollgate_version: 3.4.0\n");
    const r = await runCli(["import", "ansible", inv, "--pack", "generic", "--version", "3.5.1"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`warning: ${join(dir, "group_vars")} is not read`);
    expect(r.stderr).toContain("ansible-inventory -i");
    expect(r.stderr).not.toContain("host_vars");
  });

  it("usage errors exit 2: --group-as, --pack, --version", async () => {
    const dir = tempDir();
    const inv = join(dir, "hosts.ini");
    writeFileSync(inv, "[kv]\n10.0.0.1\n");
    const a = await runCli(["import", "ansible", inv, "--group-as", "region"]);
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/--group-as "region": expected cluster or supercluster \[ROLLGATE_E_USAGE\]/);
    const b = await runCli(["import", "ansible", inv, "--pack", "generik"]);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/did you mean generic\?/);
    const c = await runCli(["import", "ansible", inv, "--pack", "generic", "--version", "latest"]);
    expect(c.code).toBe(2);
    expect(c.stderr).toMatch(/--version "latest": expected a release/);
  }, 120_000);
});
