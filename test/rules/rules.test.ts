import { describe, expect, it } from "vitest";
import type { Step } from "../../src/model/step.ts";
import {
  applyStep,
  canStart,
  checkState,
  describeRule,
  failedStates,
  initialState,
  RULE_PACKS,
  ruleContext,
} from "../../src/rules/index.ts";
import { loadExample } from "../plan/fleets.ts";

const seed = loadExample("matrix-seed.yaml");
const ctx = ruleContext(seed, new Map([["matrix-a", "3.5.1"]]));
const step = (server: string, action: Step["action"]): Step => ({
  id: `matrix-a/${server}/${action}`,
  action,
  cluster: "matrix-a",
  server,
  after: [],
  start: 0,
  end: 0,
  rules: [],
  pointOfNoReturn: false,
  ...(action === "install" ? { release: "3.5.1" } : {}),
});
const run = (state: ReturnType<typeof initialState>, server: string, actions: Step["action"][]) =>
  actions.reduce((s, a) => applyStep(s, step(server, a)), state);
const ALL: Step["action"][] = ["disable", "backup", "stop", "install", "start", "verify"];

describe("rules as named predicates (the engine's API)", () => {
  it("every pack lists its rules with ids and titles", () => {
    expect(RULE_PACKS["polyserve-matrix"].rules.map((r) => r.id)).toEqual(
      expect.arrayContaining(["M1", "M2", "M12", "G3"]),
    );
    expect(RULE_PACKS["polycom-dma"].rules.map((r) => r.id)).toEqual(expect.arrayContaining(["D8b", "D10"]));
    expect(describeRule("M2")).toMatch(/^M2 numerically highest/);
  });

  it("allows the highest address first and says why a lower one waits (M2)", () => {
    const s = initialState(seed, ctx.targets);
    expect(canStart(s, step("srv3", "disable"), ctx)).toEqual({ ok: true });
    const d = canStart(s, step("srv1", "disable"), ctx);
    expect(d).toMatchObject({ ok: false, rule: "M2" });
    if (!d.ok) expect(d.reason).toMatch(/srv3 \(10\.10\.1\.3\).*still on 3\.5\.0/);
  });

  it("names every rule that holds a step back, the first one first (M2, M1, M9)", () => {
    // srv3 is being upgraded (disabled); srv1 may not leave: srv2 is higher and still old (M2),
    // srv3 is out (M1), and taking srv1 out too would break M1 and the seed's floor (G3) while it runs
    const s = run(initialState(seed, ctx.targets), "srv3", ["disable"]);
    const d = canStart(s, step("srv1", "disable"), ctx);
    expect(d).toMatchObject({ ok: false, rule: "M2" });
    if (d.ok) return;
    expect(d.blockers?.map((b) => b.rule)).toEqual(["M2", "M1", "M1", "G3"]);
    expect(d.blockers?.[1]?.reason).toMatch(
      /srv3 of matrix-a is out of service \(being upgraded, or stopped\): one server at a time/,
    );
    expect(d.blockers?.[2]?.reason).toMatch(/2 servers of matrix-a are out of service at once/);
    // a stop before the backup: M9 alone
    const stop = canStart(s, step("srv3", "stop"), ctx);
    expect(stop.ok ? [] : stop.blockers?.map((b) => b.rule)).toEqual(["M9"]);
  });

  it("refuses a step the fleet cannot have with a catalog error, not a rule id", () => {
    const s = initialState(seed, ctx.targets);
    expect(() => canStart(s, { ...step("srv9", "disable") }, ctx)).toThrow(
      /ROLLGATE_E_PLAN_FOREIGN_STEP|no server srv9/,
    );
    expect(() => canStart(s, { ...step("srv1", "busy-out") }, ctx)).toThrow(
      /not a step of the per-server procedure/,
    );
  });

  it("one at a time (M1), the procedure in order (M9)", () => {
    const s = run(initialState(seed, ctx.targets), "srv3", ["disable"]);
    expect(canStart(s, step("srv3", "stop"), ctx)).toMatchObject({ ok: false, rule: "M9" });
    const done3 = run(initialState(seed, ctx.targets), "srv3", ALL);
    const busy2 = run(done3, "srv2", ["disable"]);
    expect(canStart(busy2, step("srv1", "disable"), ctx)).toMatchObject({ ok: false });
  });

  it("blocks an old-release server from rejoining after the last one left (M4)", () => {
    let s = run(initialState(seed, ctx.targets), "srv3", ALL);
    s = run(s, "srv2", ALL);
    s = run(s, "srv1", ["disable", "backup", "stop"]);
    expect(s.finalized.has("matrix-a")).toBe(true);
    // srv1 comes back without its install: blocked
    const d = canStart(s, step("srv1", "start"), ctx);
    expect(d.ok).toBe(false);
    if (!d.ok) expect(["M4", "M10"]).toContain(d.rule);
    expect(checkState(run(s, "srv1", ["install", "start", "verify"]), ctx)).toEqual([]);
  });

  it("says why a start would isolate the old servers (M3)", () => {
    // srv2 upgraded out of order while srv3 still runs 3.5.0
    const s = initialState(seed, ctx.targets);
    s.servers.get("srv2")!.running = false;
    s.servers.get("srv2")!.release = "3.5.1";
    const d = canStart(s, step("srv2", "start"), ctx);
    expect(d).toMatchObject({ ok: false, rule: "M3" });
  });

  it("keeps the capacity floor (G3) and reports a broken state", () => {
    const s = initialState(seed, ctx.targets);
    s.servers.get("srv1")!.disabled = true;
    s.servers.get("srv2")!.disabled = true;
    const v = checkState(s, ctx);
    expect(v.map((x) => x.rule)).toEqual(expect.arrayContaining(["M1", "G3"]));
  });

  it("gives the states a failed step may leave behind", () => {
    const s = initialState(seed, ctx.targets);
    const [started] = failedStates(s, step("srv3", "stop"));
    expect(started!.servers.get("srv3")!.running).toBe(false);
    expect(s.servers.get("srv3")!.running).toBe(true); // the input is untouched
    expect(failedStates(s, step("srv3", "start"))).toHaveLength(2);
  });
});
