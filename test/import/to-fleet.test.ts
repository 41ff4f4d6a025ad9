import { describe, expect, it } from "vitest";
import { parseInventory } from "../../src/import/ansible.ts";
import { type ImportOptions, inventoryToFleet } from "../../src/import/to-fleet.ts";
import { parseFleetText } from "../../src/model/fleet-file.ts";

function imported(text: string, file: string, opts: Partial<ImportOptions> = {}) {
  const parsed = parseInventory(text, file);
  expect(parsed.diagnostics).toEqual([]);
  return inventoryToFleet(parsed.inventory, { groupAs: "cluster", ...opts });
}
function ok(text: string, file: string, opts: Partial<ImportOptions> = {}) {
  const r = imported(text, file, opts);
  if (!r.ok) throw new Error(JSON.stringify(r.diagnostics, null, 2));
  // what it writes is a valid fleet file
  expect(parseFleetText(r.text, "out.yaml")).toMatchObject({ ok: true });
  return r;
}
function refused(text: string, file: string, opts: Partial<ImportOptions> = {}) {
  const r = imported(text, file, opts);
  if (r.ok) throw new Error(`imported:\n${r.text}`);
  return r.diagnostics;
}
const where = (ds: { code: string; file?: string; line?: number; path?: string }[]) =>
  ds.map((d) => `${d.file}:${d.line} ${d.path} ${d.code}`);

// The guide's INI example, with the addresses and rollgate variables an operator adds.
const GUIDE_INI = `mail.example.com

[webservers]
foo.example.com ansible_host=192.0.2.21
bar.example.com ansible_host=192.0.2.22

[dbservers]
one.example.com ansible_host=192.0.2.31
two.example.com ansible_host=192.0.2.32
three.example.com ansible_host=192.0.2.33 rollgate_version=2.4.2

[dbservers:vars]
rollgate_pack=generic
rollgate_version=2.4.1
`;

describe("mapping an inventory to a fleet (--group-as cluster)", () => {
  it("each leaf group whose hosts have a pack becomes a cluster, with comments saying where it came from", () => {
    const r = ok(GUIDE_INI, "inventory/hosts");
    expect(r.fleet).toEqual({
      apiVersion: "rollgate/v1",
      fleet: "hosts",
      clusters: [
        {
          name: "dbservers",
          pack: "generic",
          version: "2.4.1",
          servers: [
            { name: "one.example.com", address: "192.0.2.31" },
            { name: "two.example.com", address: "192.0.2.32" },
            { name: "three.example.com", address: "192.0.2.33", version: "2.4.2" },
          ],
        },
      ],
    });
    expect(r.text).toContain("# group dbservers, inventory/hosts:7\n  - name: dbservers");
    expect(r.text).toContain(
      "- { name: three.example.com, address: 192.0.2.33, version: 2.4.2 } # inventory/hosts:10",
    );
    expect(r.notes).toEqual([
      "group webservers (inventory/hosts:3) left out: its hosts have no rollgate_pack and no --pack was given",
    ]);
  });

  it("--pack and --version are the defaults of hosts whose variables name none; variables win", () => {
    const r = ok(GUIDE_INI.replace("mail.example.com\n", ""), "hosts", {
      pack: "polyserve-matrix",
      version: "3.5.0",
    });
    expect(r.fleet.clusters.map((c) => [c.name, c.pack, c.version])).toEqual([
      ["webservers", "polyserve-matrix", "3.5.0"],
      ["dbservers", "generic", "2.4.1"],
    ]);
    expect(r.text).toContain("# group webservers, hosts:2");
  });

  it("variables merge as Ansible merges them: all, then parents, then children, then the host", () => {
    const r = ok(
      `[all:vars]
rollgate_pack=generic
rollgate_version=1.0.0

[kv]
10.30.0.1
10.30.0.2 rollgate_role=leader rollgate_capacity=2
10.30.0.3

[kv:vars]
rollgate_version=2.4.1

[stores:children]
kv

[stores:vars]
rollgate_version=9.9.9
rollgate_pack=polyserve-matrix
`,
      "stores.ini",
      { fleet: "acme" },
    );
    expect(r.fleet).toMatchObject({
      fleet: "acme",
      clusters: [
        {
          name: "kv",
          pack: "polyserve-matrix",
          version: "2.4.1",
          servers: [
            { name: "10.30.0.1", address: "10.30.0.1" },
            { name: "10.30.0.2", address: "10.30.0.2", role: "leader", capacity: 2 },
            { name: "10.30.0.3", address: "10.30.0.3" },
          ],
        },
      ],
    });
  });

  it("a range of addresses is a cluster of servers; with a leading zero Ansible makes 10.0.0.01, which is no address", () => {
    const r = ok("[matrix]\n10.10.1.[1:4] rollgate_pack=polyserve-matrix rollgate_version=3.5.0\n", "m.ini");
    expect(r.fleet.clusters[0]!.servers.map((s) => s.address)).toEqual([
      "10.10.1.1",
      "10.10.1.2",
      "10.10.1.3",
      "10.10.1.4",
    ]);
    const ds = refused("[matrix]\n10.10.1.[01:12]\n", "m.ini", { pack: "generic", version: "1.0" });
    expect(ds).toHaveLength(9); // 10.10.1.10 to .12 have no leading zero
    expect(ds[0]).toMatchObject({
      code: "ROLLGATE_E_IMPORT_NO_ADDRESS",
      line: 2,
      path: 'hosts["10.10.1.01"].ansible_host',
    });
  });

  it("the YAML all: children: form, and the fleet's name from rollgate_fleet", () => {
    const r = ok(
      `all:
  vars:
    rollgate_fleet: acme-kv
    rollgate_pack: generic
  children:
    kv:
      vars:
        rollgate_version: 2.4
      hosts:
        kv-1: { ansible_host: 10.30.0.1 }
        kv-2:
          ansible_host: "fd00:30::2"
`,
      "inv.yml",
    );
    expect(r.fleet).toMatchObject({
      fleet: "acme-kv",
      clusters: [
        {
          name: "kv",
          version: "2.4",
          servers: [
            { name: "kv-1", address: "10.30.0.1" },
            { name: "kv-2", address: "fd00:30::2" },
          ],
        },
      ],
    });
    expect(r.text).toContain("# group kv, inv.yml:6");
    expect(r.text).toContain("# inv.yml:11");
  });

  it("a pack a host has through another group does not make a group a cluster (the guide's east, west)", () => {
    const r = ok(
      `all:
  children:
    dbservers:
      vars: { rollgate_pack: generic, rollgate_version: 2.4.1 }
      hosts:
        one.example.com: { ansible_host: 192.0.2.31 }
        two.example.com: { ansible_host: 192.0.2.32 }
    east:
      hosts:
        one.example.com:
        two.example.com:
    prod:
      children:
        east:
`,
      "hosts.yml",
    );
    expect(r.fleet.clusters.map((c) => c.name)).toEqual(["dbservers"]);
    expect(r.notes).toEqual([
      "group east (hosts.yml:8) left out: its hosts have no rollgate_pack and no --pack was given",
    ]);
  });

  it("a group's line is its own section, not an earlier mention as a child; IPv6 hosts, a bracketed one with a port", () => {
    const r = ok(
      "[sc:children]\nlab\n\n[lab]\nfd00:20::4:1\n[fd00:20::4:2]:22\n\n[lab:vars]\nrollgate_pack=polycom-dma\nrollgate_version=10.0.1\n",
      "hosts",
    );
    expect(r.fleet.clusters[0]!.servers).toEqual([
      { name: "fd00-20--4-1", address: "fd00:20::4:1" },
      { name: "fd00-20--4-2", address: "fd00:20::4:2" },
    ]);
    expect(r.text).toContain("# group lab, hosts:4\n");
  });

  it("ansible_host: an IPv6 address in brackets is that address; brackets around a name are no address", () => {
    const r = ok(
      "[web]\nw1 ansible_host=[FD00::3]\nw2 ansible_host=fd00::4\n[web:vars]\nrollgate_pack=generic\nrollgate_version=1.0\n",
      "hosts",
    );
    expect(r.fleet.clusters[0]!.servers.map((s) => s.address)).toEqual(["fd00::3", "fd00::4"]);
    const d = refused(
      "[web]\nw1 ansible_host=[db.example.com]\n[web:vars]\nrollgate_pack=generic\nrollgate_version=1.0\n",
      "hosts",
    );
    expect(d.map((x) => [x.code, x.line])).toEqual([["ROLLGATE_E_IMPORT_NO_ADDRESS", 2]]);
  });

  it("unicode host names: accents dropped (ünï and ünö stay apart), the inventory's name kept in the comment", () => {
    const r = ok(
      "[wéb]\nünï ansible_host=10.0.0.1\nünö ansible_host=10.0.0.2\nçà ansible_host=10.0.0.3\nplain ansible_host=10.0.0.4\n[wéb:vars]\nrollgate_pack=generic\nrollgate_version=1.0\n",
      "hosts",
    );
    expect(r.fleet.clusters[0]!.name).toBe("web");
    expect(r.fleet.clusters[0]!.servers.map((s) => s.name)).toEqual(["uni", "uno", "ca", "plain"]);
    expect(r.text).toContain("# hosts:2, host ünï\n");
    expect(r.text).toContain("# hosts:4, host çà\n");
    expect(r.text).toContain("# hosts:5\n");
  });

  it("the JSON of ansible-inventory --list (group variables merged into _meta.hostvars)", () => {
    const r = ok(
      `{
  "_meta": {
    "hostvars": {
      "nyc-1": { "ansible_host": "10.20.1.1", "rollgate_pack": "polycom-dma", "rollgate_version": "10.0.1" },
      "nyc-2": { "ansible_host": "10.20.1.2", "rollgate_pack": "polycom-dma", "rollgate_version": "10.0.1" }
    }
  },
  "all": { "children": ["ungrouped", "dma_nyc"] },
  "dma_nyc": { "hosts": ["nyc-1", "nyc-2"] }
}
`,
      "list.json",
    );
    expect(r.fleet.clusters).toEqual([
      {
        name: "dma_nyc",
        pack: "polycom-dma",
        version: "10.0.1",
        servers: [
          { name: "nyc-1", address: "10.20.1.1" },
          { name: "nyc-2", address: "10.20.1.2" },
        ],
      },
    ]);
    expect(r.text).toContain("# group dma_nyc, list.json:9");
    expect(r.text).toContain("# list.json:9");
  });
});

describe("--group-as supercluster", () => {
  const DMA = `all:
  vars:
    rollgate_pack: polycom-dma
    rollgate_version: 10.0.1
  children:
    sc_east:
      children:
        dma_nyc:
          hosts:
            10.20.1.[1:2]:
        dma_bos:
          hosts:
            bos-1: { ansible_host: 10.20.2.1 }
            bos-2: { ansible_host: 10.20.2.2 }
`;
  it("a parent of leaf groups becomes a DMA supercluster of the clusters its children become", () => {
    const r = ok(DMA, "dma.yml", { groupAs: "supercluster" });
    expect(r.fleet.superclusters).toEqual([
      { name: "sc_east", pack: "polycom-dma", clusters: ["dma_nyc", "dma_bos"] },
    ]);
    expect(r.text).toContain("# group sc_east, dma.yml:6\n  - name: sc_east");
    // without it, the same inventory is two clusters and no supercluster
    expect(ok(DMA, "dma.yml").fleet.superclusters).toBeUndefined();
  });

  it("refuses a supercluster of non-DMA clusters, and a cluster under two parents", () => {
    const ds = refused(
      `[a]
10.0.0.1
[b]
10.0.1.1
[p1:children]
a
[p2:children]
a
b
[b:vars]
rollgate_pack=generic
`,
      "sc.ini",
      { groupAs: "supercluster", pack: "polycom-dma", version: "10.0.1" },
    );
    expect(where(ds)).toEqual([
      "sc.ini:8 groups.p2.children ROLLGATE_E_IMPORT_SHARED",
      "sc.ini:9 groups.p2.children ROLLGATE_E_IMPORT_PACK",
    ]);
    expect(ds[0]!.message).toMatch(/cluster a is a child of group p2 and of group p1 \(sc\.ini:6\)/);
  });
});

describe("what cannot be mapped is reported with the inventory's file, line and field", () => {
  it("a host in two clusters (the guide's host2, in atlanta and raleigh)", () => {
    const ds = refused(
      `[atlanta]
host1 ansible_host=192.0.2.1
host2 ansible_host=192.0.2.2

[raleigh]
host2
host3 ansible_host=192.0.2.3

[southeast:children]
atlanta
raleigh
`,
      "hosts",
      { pack: "generic", version: "1.0.0" },
    );
    expect(where(ds)).toEqual(["hosts:6 groups.raleigh.hosts ROLLGATE_E_IMPORT_SHARED"]);
    expect(ds[0]!.message).toBe(
      "host host2 is in group raleigh and in group atlanta (hosts:3): a server is in one cluster",
    );
  });

  it("the guide's YAML: foo.example.com in webservers and east", () => {
    const text = `all:
  children:
    webservers:
      hosts:
        foo.example.com: { ansible_host: 192.0.2.1 }
    east:
      hosts:
        foo.example.com:
    prod:
      children:
        east:
`;
    expect(where(refused(text, "hosts.yml", { pack: "generic", version: "1.0" }))).toEqual([
      "hosts.yml:8 groups.east.hosts ROLLGATE_E_IMPORT_SHARED",
    ]);
  });

  it("a host with no address: no ansible_host and a name that is no IP, or an ansible_host that is a DNS name", () => {
    const ds = refused("[web]\nwww[01:02].example.com\ndb ansible_host=db.internal\n", "hosts", {
      pack: "generic",
      version: "1.0",
    });
    expect(where(ds)).toEqual([
      'hosts:2 hosts["www01.example.com"].ansible_host ROLLGATE_E_IMPORT_NO_ADDRESS',
      'hosts:2 hosts["www02.example.com"].ansible_host ROLLGATE_E_IMPORT_NO_ADDRESS',
      'hosts:3 hosts["db"].ansible_host ROLLGATE_E_IMPORT_NO_ADDRESS',
    ]);
    expect(ds[2]!.message).toMatch(/ansible_host "db.internal" of host db is not an IP address/);
  });

  it("no pack: some hosts of a group have none; no group has one at all", () => {
    const ds = refused(
      "[kv]\n10.0.0.1 rollgate_pack=generic\n10.0.0.2\n[kv:vars]\nrollgate_version=1.0\n",
      "hosts",
    );
    expect(where(ds)).toEqual(['hosts:3 hosts["10.0.0.2"].rollgate_pack ROLLGATE_E_IMPORT_NO_PACK']);
    expect(where(refused("[kv]\n10.0.0.1\n", "hosts", { version: "1.0" }))).toEqual([
      "hosts:1 undefined ROLLGATE_E_IMPORT_EMPTY",
    ]);
  });

  it("an unsupported pack, at the line that names it (once for a group's variable)", () => {
    const ds = refused(
      "[kv]\n10.0.0.1\n10.0.0.2\n\n[kv:vars]\nrollgate_pack=polyserve\nrollgate_version=1.0\n",
      "hosts",
    );
    expect(where(ds)).toEqual(["hosts:6 groups.kv.vars.rollgate_pack ROLLGATE_E_IMPORT_PACK"]);
    expect(ds[0]!.expected).toBe("one of polyserve-matrix, polycom-dma, generic");
  });

  it("no release, a bad release, a bad capacity", () => {
    expect(where(refused("[kv]\n10.0.0.1\n", "hosts", { pack: "generic" }))).toEqual([
      "hosts:1 groups.kv.vars.rollgate_version ROLLGATE_E_IMPORT_NO_VERSION",
    ]);
    expect(
      where(
        refused("[kv]\n10.0.0.1 rollgate_version=v1 rollgate_capacity=-1\n", "hosts", { pack: "generic" }),
      ),
    ).toEqual([
      'hosts:2 hosts["10.0.0.1"].rollgate_version ROLLGATE_E_IMPORT_BAD_VALUE',
      'hosts:2 hosts["10.0.0.1"].rollgate_capacity ROLLGATE_E_IMPORT_BAD_VALUE',
    ]);
  });

  it("a host with a pack in no cluster: ungrouped, or only in a group with children", () => {
    const ds = refused("10.0.0.9\n[kv]\n10.0.0.1\n[parent]\n10.0.0.7\n[parent:children]\nkv\n", "hosts", {
      pack: "generic",
      version: "1.0",
    });
    expect(where(ds)).toEqual([
      'hosts:1 hosts["10.0.0.9"] ROLLGATE_E_IMPORT_UNMAPPED',
      'hosts:5 hosts["10.0.0.7"] ROLLGATE_E_IMPORT_UNMAPPED',
    ]);
    expect(ds[1]!.message).toMatch(/listed only in parent, a group with children/);
  });

  it("a loop of :children", () => {
    expect(where(refused("[a:children]\nb\n[b:children]\na\n", "hosts"))).toEqual([
      "hosts:4 groups.b.children ROLLGATE_E_IMPORT_SYNTAX",
    ]);
  });

  it("what the fleet file's own checks refuse is reported at the group or host it came from", () => {
    const ds = refused(
      "# three servers\n[dma]\n10.20.1.[1:3]\n[dma:vars]\nrollgate_pack=polycom-dma\nrollgate_version=10.0.1\n",
      "hosts",
    );
    expect(where(ds)).toEqual(["hosts:2 fleet clusters[0].servers ROLLGATE_E_FLEET_CLUSTER_SIZE"]);
    expect(ds[0]!.message).toMatch(/one or two servers.*\(from group dma\)/);
  });
});
