import { describe, expect, it } from "vitest";
import { runCli } from "../helpers/cli.ts";
import { e2eTimeouts } from "../helpers/wait.ts";

e2eTimeouts(60_000);

describe("rollgate rules", () => {
  it("prints the rules as a table: id, kind, status, enforced by, statement", async () => {
    const r = await runCli(["rules"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^ID\s+KIND\s+STATUS\s+ENFORCED BY\s+STATEMENT$/m);
    expect(r.stdout).toMatch(
      /^M2\s+step precondition\s+built\s+planner, verifier, engine\s+numerically highest/m,
    );
    expect(r.stdout).toMatch(
      /^D9\s+planning\s+built\s+planner, verifier, engine, lab\s+only the last upgrade/m,
    );
    expect(r.stdout).toMatch(/30 rules, 0 not built$/m);
    expect(r.stdout).toMatch(/^M11\s+planning\s+built\s+planner, verifier, engine, lab\s+multi-pass/m);
  });

  it("links every rule to its section of docs/rules.md: in the table, and as doc in --json", async () => {
    const table = await runCli(["rules"]);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(
      /^M2\s.*numerically highest matrix-known address first, lowest last \(docs\/rules\.md#m2\)$/m,
    );
    expect(table.stdout).toMatch(/^D8b\s.*\(docs\/rules\.md#d8b\)$/m);
    const rows = table.stdout.split("\n").filter((l) => /^[MDG]\d+[a-c]?\s/.test(l));
    expect(rows).toHaveLength(30);
    for (const row of rows) expect(row).toContain(`(docs/rules.md#${row.split(/\s/)[0]!.toLowerCase()})`);

    const json = await runCli(["rules", "--json"]);
    expect(json.code, json.stderr).toBe(0);
    const listed = JSON.parse(json.stdout) as {
      id: string;
      statement: string;
      status: string;
      doc: string;
    }[];
    expect(listed).toHaveLength(30);
    for (const r of listed) expect(r.doc, r.id).toBe(`docs/rules.md#${r.id.toLowerCase()}`);
    expect(listed.find((r) => r.id === "M3")).toMatchObject({
      doc: "docs/rules.md#m3",
      statement: "new-release servers form a top segment of the address order",
      status: "built",
    });
  });

  it("--pack takes a fleet file's pack name, or general for the G rules", async () => {
    const dma = await runCli(["rules", "--pack", "polycom-dma", "--json"]);
    expect(dma.code, dma.stderr).toBe(0);
    const ids = (JSON.parse(dma.stdout) as { id: string }[]).map((x) => x.id);
    expect(ids).toContain("D8b");
    expect(ids).toContain("G3");
    expect(ids).not.toContain("M1");
    const general = await runCli(["rules", "--pack", "general", "--json"]);
    expect((JSON.parse(general.stdout) as { id: string }[]).map((x) => x.id)).toEqual([
      "G1",
      "G2",
      "G3",
      "G4",
      "G5",
    ]);
  });

  it("an unknown pack is bad input: exit 2, ROLLGATE_E_USAGE, with a did-you-mean", async () => {
    const r = await runCli(["rules", "--pack", "polycom-dm"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown pack "polycom-dm".*did you mean polycom-dma\?.*ROLLGATE_E_USAGE/);
    expect(r.stdout).toBe("");
  });
});
