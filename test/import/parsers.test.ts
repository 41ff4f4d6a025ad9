import { describe, expect, it } from "vitest";
import { inventoryFormat, parseInventory } from "../../src/import/ansible.ts";
import { parseAnsibleIni } from "../../src/import/ansible-ini.ts";
import { parseAnsibleJson } from "../../src/import/ansible-json.ts";
import { parseAnsibleYaml } from "../../src/import/ansible-yaml.ts";
import { expandHostPattern, type Inventory } from "../../src/import/inventory.ts";

const hostsOf = (inv: Inventory, group: string) => inv.groups.get(group)?.hosts.map((h) => h.value);
const childrenOf = (inv: Inventory, group: string) => inv.groups.get(group)?.children.map((c) => c.value);
const vars = (inv: Inventory, host: string) =>
  Object.fromEntries([...(inv.hosts.get(host)?.vars ?? [])].map(([k, v]) => [k, v.value]));

// The inventories of Ansible's own guide, "How to build your inventory"
// (docs.ansible.com/ansible/latest/inventory_guide/intro_inventory.html).
const GUIDE_INI = `mail.example.com

[webservers]
foo.example.com
bar.example.com

[dbservers]
one.example.com
two.example.com
three.example.com
`;

const GUIDE_YAML = `all:
  hosts:
    mail.example.com:
  children:
    webservers:
      hosts:
        foo.example.com:
        bar.example.com:
    dbservers:
      hosts:
        one.example.com:
        two.example.com:
        three.example.com:
    east:
      hosts:
        foo.example.com:
        one.example.com:
        two.example.com:
    west:
      hosts:
        bar.example.com:
        three.example.com:
    prod:
      children:
        east:
    test:
      children:
        west:
`;

describe("host ranges (Ansible's expand_hostname_range)", () => {
  it("a leading zero pads every number to the beginning's width: www[01:50].example.com is 50 hosts", () => {
    const r = expandHostPattern("www[01:50].example.com");
    expect("hosts" in r && r.hosts.length).toBe(50);
    expect("hosts" in r && [r.hosts[0], r.hosts[8], r.hosts[9], r.hosts[49]]).toEqual([
      "www01.example.com",
      "www09.example.com",
      "www10.example.com",
      "www50.example.com",
    ]);
  });

  it("without a leading zero the numbers are not padded; a step; a missing beginning is 0", () => {
    expect(expandHostPattern("db[1:3]")).toEqual({ hosts: ["db1", "db2", "db3"] });
    expect(expandHostPattern("db[8:10]")).toEqual({ hosts: ["db8", "db9", "db10"] });
    expect(expandHostPattern("db[08:10]")).toEqual({ hosts: ["db08", "db09", "db10"] });
    expect(expandHostPattern("www[01:50:20].example.com")).toEqual({
      hosts: ["www01.example.com", "www21.example.com", "www41.example.com"],
    });
    expect(expandHostPattern("n[:2]")).toEqual({ hosts: ["n0", "n1", "n2"] });
    expect(expandHostPattern("0[0:1]")).toEqual({ hosts: ["00", "01"] });
  });

  it("letters: db-[a:f].example.com, [a:c], and several ranges in one name", () => {
    const r = expandHostPattern("db-[a:f].example.com");
    expect("hosts" in r && r.hosts).toEqual(["a", "b", "c", "d", "e", "f"].map((l) => `db-${l}.example.com`));
    expect(expandHostPattern("[a:c]")).toEqual({ hosts: ["a", "b", "c"] });
    expect(expandHostPattern("r[1:2]-[a:b]")).toEqual({ hosts: ["r1-a", "r1-b", "r2-a", "r2-b"] });
  });

  it("refuses what Ansible refuses: unequal widths with a leading zero, no end, a reversed or mixed range", () => {
    expect(expandHostPattern("db[001:12]")).toMatchObject({
      error: expect.stringMatching(/as wide as the end/),
    });
    expect(expandHostPattern("db[1:]")).toMatchObject({ error: expect.stringMatching(/no end/) });
    expect(expandHostPattern("db[5:1]")).toMatchObject({ error: expect.stringMatching(/BEGIN <= END/) });
    expect(expandHostPattern("db[c:a]")).toMatchObject({ error: expect.stringMatching(/BEGIN <= END/) });
    expect(expandHostPattern("db[1:c]")).toMatchObject({ error: expect.stringMatching(/neither numbers/) });
    expect(expandHostPattern("db[1:2:3:4]")).toMatchObject({ error: expect.stringMatching(/BEGIN:END/) });
    expect(expandHostPattern("db[1:5:0]")).toMatchObject({ error: expect.stringMatching(/step/) });
    expect(expandHostPattern("db[1")).toMatchObject({ error: expect.stringMatching(/unclosed/) });
    expect(expandHostPattern("h[0:99999999]")).toMatchObject({ error: expect.stringMatching(/more than/) });
  });

  it("an inventory of ranges past 100,000 hosts in all is refused at the line that crosses it, quickly (INI and YAML)", () => {
    // thirty ranges of 100,000 hosts each: each one allowed, together 3,000,000 hosts
    const ini = `[web]\n${Array.from({ length: 30 }, (_, i) => `h${i}x[0:99999]\n`).join("")}`;
    const yaml = `all:\n  children:\n    web:\n      hosts:\n${Array.from({ length: 30 }, (_, i) => `        h${i}x[0:99999]:\n`).join("")}`;
    for (const [parse, text, line] of [
      [parseAnsibleIni, ini, 3],
      [parseAnsibleYaml, yaml, 6],
    ] as const) {
      const started = performance.now();
      const { inventory: inv, diagnostics } = parse(text, "hosts");
      expect(performance.now() - started).toBeLessThan(10_000);
      expect(diagnostics).toEqual([
        expect.objectContaining({
          code: "ROLLGATE_E_IMPORT_SYNTAX",
          line,
          message: expect.stringMatching(/more than 100000 hosts/),
        }),
      ]);
      expect(inv.hosts.size).toBe(100_000);
    }
  }, 30_000);

  it("adds 100,000 hosts of one range to a group in linear time (no scan of the group per host)", () => {
    const started = performance.now();
    const { inventory: inv, diagnostics } = parseAnsibleIni("[web]\nh[0:99999]\n", "hosts");
    expect(diagnostics).toEqual([]);
    expect(hostsOf(inv, "web")).toHaveLength(100_000);
    expect(performance.now() - started).toBeLessThan(5_000); // it took about 55 s, quadratic
  }, 30_000);
});

describe("INI inventories", () => {
  it("the guide's first example: ungrouped mail.example.com, [webservers], [dbservers], with lines", () => {
    const { inventory: inv, diagnostics } = parseAnsibleIni(GUIDE_INI, "hosts");
    expect(diagnostics).toEqual([]);
    expect(hostsOf(inv, "ungrouped")).toEqual(["mail.example.com"]);
    expect(hostsOf(inv, "webservers")).toEqual(["foo.example.com", "bar.example.com"]);
    expect(hostsOf(inv, "dbservers")).toEqual(["one.example.com", "two.example.com", "three.example.com"]);
    expect(inv.groups.get("dbservers")!.line).toBe(7);
    expect(inv.groups.get("dbservers")!.hosts[2]).toEqual({ value: "three.example.com", line: 10 });
    expect(childrenOf(inv, "all")).toEqual(["ungrouped", "webservers", "dbservers"]);
  });

  it(":children and :vars, host variables, a port, comments (the guide's atlanta/raleigh/southeast)", () => {
    const text = `# the guide's example
[atlanta]
host1 http_port=80 maxRequestsPerChild=808
host2 http_port=303 maxRequestsPerChild=909   # a comment

[raleigh]
host2
host3 ansible_host="192.0.2.3"
jumper:5555 ansible_host=192.0.2.50

[southeast:children]
atlanta
raleigh

[southeast:vars]
some_server=foo.southeast.example.com
halon_system_timeout=30
; a comment too

[usa:children]
southeast
northeast
`;
    const { inventory: inv, diagnostics } = parseAnsibleIni(text, "hosts");
    expect(diagnostics).toEqual([]);
    expect(hostsOf(inv, "atlanta")).toEqual(["host1", "host2"]);
    expect(hostsOf(inv, "raleigh")).toEqual(["host2", "host3", "jumper"]);
    expect(childrenOf(inv, "southeast")).toEqual(["atlanta", "raleigh"]);
    expect(childrenOf(inv, "usa")).toEqual(["southeast", "northeast"]);
    expect(childrenOf(inv, "all")).toEqual(["ungrouped", "usa"]);
    expect(vars(inv, "host1")).toEqual({ http_port: "80", maxRequestsPerChild: "808" });
    expect(vars(inv, "host2")).toEqual({ http_port: "303", maxRequestsPerChild: "909" });
    expect(vars(inv, "host3")).toEqual({ ansible_host: "192.0.2.3" });
    expect(vars(inv, "jumper")).toEqual({ ansible_host: "192.0.2.50" });
    expect(inv.groups.get("southeast")!.vars.get("halon_system_timeout")).toEqual({ value: "30", line: 17 });
  });

  it("ranges in a group: www[01:50].example.com and db-[a:f].example.com", () => {
    const { inventory: inv } = parseAnsibleIni(
      "[webservers]\nwww[01:50].example.com\n\n[databases]\ndb-[a:f].example.com\n",
      "hosts",
    );
    expect(hostsOf(inv, "webservers")).toHaveLength(50);
    expect(inv.groups.get("webservers")!.hosts[49]).toEqual({ value: "www50.example.com", line: 2 });
    expect(hostsOf(inv, "databases")).toEqual(
      ["a", "b", "c", "d", "e", "f"].map((l) => `db-${l}.example.com`),
    );
  });

  it("reports every malformed line with its line", () => {
    const text = `[web servers]
h1
[web:host]
h2
[ok]
h3 http_port
h4 x='unclosed
db[001:12]
[ok:vars]
novalue
[ok:children]
ok
`;
    const { diagnostics } = parseAnsibleIni(text, "bad.ini");
    expect(diagnostics.map((d) => [d.line, d.code])).toEqual([
      [1, "ROLLGATE_E_IMPORT_SYNTAX"],
      [3, "ROLLGATE_E_IMPORT_SYNTAX"],
      [6, "ROLLGATE_E_IMPORT_SYNTAX"],
      [7, "ROLLGATE_E_IMPORT_SYNTAX"],
      [8, "ROLLGATE_E_IMPORT_SYNTAX"],
      [10, "ROLLGATE_E_IMPORT_SYNTAX"],
      [12, "ROLLGATE_E_IMPORT_SYNTAX"],
    ]);
    expect(diagnostics.every((d) => d.file === "bad.ini")).toBe(true);
    expect(diagnostics[1]!.message).toMatch(/unknown type "host"/);
    expect(diagnostics[2]!.message).toMatch(/expected key=value after host h3, found "http_port"/);
    expect(diagnostics[4]!.message).toMatch(/as wide as the end/);
    expect(diagnostics[5]!.message).toMatch(/expected key=value in \[ok:vars\]/);
  });
});

describe("YAML inventories", () => {
  it("the guide's all: children: form, with ranges and vars at group and host", () => {
    const { inventory: inv, diagnostics } = parseAnsibleYaml(GUIDE_YAML, "hosts.yml");
    expect(diagnostics).toEqual([]);
    expect(hostsOf(inv, "ungrouped")).toEqual(["mail.example.com"]);
    expect(hostsOf(inv, "east")).toEqual(["foo.example.com", "one.example.com", "two.example.com"]);
    expect(childrenOf(inv, "prod")).toEqual(["east"]);
    expect(childrenOf(inv, "all")).toEqual([
      "webservers",
      "dbservers",
      "east",
      "west",
      "prod",
      "test",
      "ungrouped",
    ]);
    expect(inv.groups.get("dbservers")!.line).toBe(9);
    expect(inv.groups.get("west")!.hosts[1]).toEqual({ value: "three.example.com", line: 22 });

    const more = parseAnsibleYaml(
      `webservers:
  hosts:
    www[01:03].example.com:
  vars:
    rollgate_version: 10.0
db:
  hosts:
    one:
      ansible_host: 192.0.2.1
      rollgate_capacity: 2
`,
      "hosts.yaml",
    );
    expect(more.diagnostics).toEqual([]);
    expect(hostsOf(more.inventory, "webservers")).toEqual([
      "www01.example.com",
      "www02.example.com",
      "www03.example.com",
    ]);
    // a number keeps its text: 10.0 is the release 10.0, not 10
    expect(more.inventory.groups.get("webservers")!.vars.get("rollgate_version")).toEqual({
      value: "10.0",
      line: 5,
    });
    expect(vars(more.inventory, "one")).toEqual({ ansible_host: "192.0.2.1", rollgate_capacity: "2" });
  });

  it("reports bad YAML, a duplicate key, an unknown key and a group that is not a map, with lines", () => {
    expect(parseAnsibleYaml("all:\n  hosts:\n    a: [\n", "x.yml").diagnostics[0]).toMatchObject({
      code: "ROLLGATE_E_IMPORT_SYNTAX",
      file: "x.yml",
    });
    expect(parseAnsibleYaml("all:\n  hosts:\n    a:\n    a:\n", "x.yml").diagnostics[0]?.message).toMatch(
      /unique/,
    );
    const { diagnostics } = parseAnsibleYaml(
      "all:\n  children:\n    web:\n      host:\n        a:\n    db: 3\n",
      "x.yml",
    );
    expect(diagnostics.map((d) => [d.line, d.message])).toEqual([
      [4, 'unknown key "host" in group web'],
      [6, "group db is not a map"],
    ]);
  });

  it("anchors, aliases and merge keys, as Ansible's YAML loader reads them (a group's vars shared, a host's vars reused)", () => {
    const { inventory, diagnostics } = parseAnsibleYaml(
      `all:
  children:
    web:
      vars: &common
        rollgate_pack: generic
        rollgate_capacity: 2
      hosts:
        w1: &h
          ansible_host: "fd00::1"
          rollgate_role: edge
        w2: { <<: *h, ansible_host: "fd00::2" }
    db:
      vars:
        <<: *common
        rollgate_capacity: 5
      hosts:
        d1: *h
`,
      "x.yml",
    );
    expect(diagnostics).toEqual([]);
    expect(vars(inventory, "d1")).toEqual({ ansible_host: "fd00::1", rollgate_role: "edge" });
    // the map's own key wins over the merged one, whatever their order
    expect(vars(inventory, "w2")).toEqual({ ansible_host: "fd00::2", rollgate_role: "edge" });
    expect(Object.fromEntries([...inventory.groups.get("db")!.vars].map(([k, v]) => [k, v.value]))).toEqual({
      rollgate_pack: "generic",
      rollgate_capacity: "5",
    });
    // a whole group by alias
    const g = parseAnsibleYaml(
      "all:\n  children:\n    web: &g\n      hosts:\n        a:\n    db:\n      children:\n        x: *g\n",
      "x.yml",
    );
    expect(g.diagnostics).toEqual([]);
    expect(hostsOf(g.inventory, "x")).toEqual(["a"]);
  });
});

describe("ansible-inventory --list JSON", () => {
  // what `ansible-inventory -i hosts --list` prints for the guide's INI example, with variables
  const LIST = `{
    "_meta": {
        "hostvars": {
            "bar.example.com": {
                "ansible_host": "192.0.2.22"
            },
            "foo.example.com": {
                "ansible_host": "192.0.2.21"
            },
            "one.example.com": {
                "ansible_host": "192.0.2.31",
                "rollgate_pack": "generic"
            }
        }
    },
    "all": {
        "children": [
            "ungrouped",
            "webservers",
            "dbservers"
        ]
    },
    "dbservers": {
        "hosts": [
            "one.example.com"
        ]
    },
    "ungrouped": {
        "hosts": [
            "mail.example.com"
        ]
    },
    "webservers": {
        "hosts": [
            "foo.example.com",
            "bar.example.com"
        ],
        "vars": { "rollgate_pack": "generic" }
    }
}
`;
  it("reads groups, children, hosts with the lines listing them, and _meta.hostvars", () => {
    const { inventory: inv, diagnostics } = parseAnsibleJson(LIST, "list.json");
    expect(diagnostics).toEqual([]);
    expect(childrenOf(inv, "all")).toEqual(["ungrouped", "webservers", "dbservers"]);
    expect(hostsOf(inv, "webservers")).toEqual(["foo.example.com", "bar.example.com"]);
    expect(inv.groups.get("webservers")!.hosts[1]).toEqual({ value: "bar.example.com", line: 36 });
    expect(vars(inv, "one.example.com")).toEqual({ ansible_host: "192.0.2.31", rollgate_pack: "generic" });
    expect(inv.groups.get("webservers")!.vars.get("rollgate_pack")?.value).toBe("generic");
    expect(inventoryFormat(LIST, "inventory")).toBe("json");
    expect(parseInventory(LIST, "inventory").inventory.format).toBe("json");
  });

  it("reports a group that is not an object and hosts that are not names", () => {
    const { diagnostics } = parseAnsibleJson(
      '{\n  "web": {\n    "hosts": [1]\n  },\n  "db": "x"\n}\n',
      "l.json",
    );
    expect(diagnostics.map((d) => d.line)).toEqual([3, 5]);
  });
});

describe("format detection", () => {
  it("by extension, else by the first line", () => {
    expect(inventoryFormat(GUIDE_INI, "hosts")).toBe("ini");
    expect(inventoryFormat(GUIDE_YAML, "hosts")).toBe("yaml");
    expect(inventoryFormat("---\nall:\n", "inv")).toBe("yaml");
    expect(inventoryFormat("all:\n", "inv.ini")).toBe("ini");
    expect(inventoryFormat("[web]\n", "inv.yml")).toBe("yaml");
    expect(inventoryFormat('{"all": {"hosts": {"a": null}}}', "inv")).toBe("yaml");
    expect(inventoryFormat("jumper:5555 ansible_host=1.2.3.4\n", "inv")).toBe("ini");
  });
});
