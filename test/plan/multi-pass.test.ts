import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compareAddresses } from "../../src/model/address.ts";
import type { Cluster } from "../../src/model/fleet.ts";
import { parseFleetText } from "../../src/model/fleet-file.ts";
import { noReturnAfterIt, type Step } from "../../src/model/step.ts";
import { planUpgrade } from "../../src/plan/planner.ts";
import { planRollback } from "../../src/plan/rollback.ts";
import { verifyPlan } from "../../src/plan/verify.ts";
import { fleetOf, scrambledMatrix, secondPassBegunEarly, secondPassOutOfOrder } from "./fleets.ts";

/**
 * M11's multi-pass upgrades: a matrix whose fleet file declares its upgrade as passes (a release
 * change, a mode change, in the order declared) is planned as complete rolling passes, one after
 * the other, each in the address order (M2) one server at a time (M1) with its own point of no
 * return (M4, G4); a mode pass's per-server procedure sets the mode where a release pass installs.
 * The verifier holds every pass to M1–M5 and M11.
 */

type Declared = NonNullable<Cluster["passes"]>;

/** A matrix of `n` servers on `from` in mode classic, with the passes `passes` declared. */
function twoPassFleet(
  n: number,
  from: string,
  passes: Declared,
  opts: { shuffle?: number; floor?: number; fs?: boolean } = {},
) {
  const c = scrambledMatrix(n, from, 7, opts.shuffle ?? 3, { fs: opts.fs ?? false });
  c.mode = "classic";
  c.passes = passes;
  c.servers = c.servers.map((s) => ({ ...s, mode: "classic" }));
  return fleetOf([c], [], opts.floor ?? 0.6);
}

const RELEASE_THEN_MODE: Declared = [{ kind: "release" }, { kind: "mode", mode: "extended" }];
const MODE_THEN_RELEASE: Declared = [{ kind: "mode", mode: "extended" }, { kind: "release" }];

describe("plans of declared passes (M11)", () => {
  it("every plan verifies; each pass runs in the address order, one server at a time, after the pass before, with its own point of no return", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 8 }),
        fc.constantFrom(
          { from: "3.5.0", to: "3.5.1" },
          { from: "3.4.2", to: "4.1.0" }, // a chain (M8) inside the release change
        ),
        fc.constantFrom(RELEASE_THEN_MODE, MODE_THEN_RELEASE, [
          { kind: "release" as const },
          { kind: "mode" as const, mode: "extended" },
          { kind: "mode" as const, mode: "turbo" },
        ]),
        fc.integer({ min: 0, max: 1000 }),
        fc.constantFrom(0, 0.4, 0.6),
        fc.boolean(),
        (n, path, passes, shuffle, floor, fs) => {
          const fleet = twoPassFleet(n, path.from, passes, { shuffle, floor, fs });
          const c = fleet.clusters[0]!;
          let plan: ReturnType<typeof planUpgrade>;
          try {
            plan = planUpgrade(fleet, { to: path.to });
          } catch (e) {
            expect((e as { code?: string }).code).toBe("ROLLGATE_E_PLAN_FLOOR_UNREACHABLE");
            return;
          }
          expect(plan.verification.violations).toEqual([]);
          expect(plan.estimate.seconds).toBeGreaterThanOrEqual(plan.estimate.lowerBoundSeconds);
          expect(plan.estimate.minCapacity + 0.01).toBeGreaterThanOrEqual(floor);
          const addr = (name: string) => c.servers.find((s) => s.name === name)!.address;
          const passCount = Math.max(...plan.steps.map((s) => s.pass!.n));
          const modePasses = passes.filter((p) => p.kind === "mode").length;
          const hops = path.to === "4.1.0" ? 2 : 1;
          expect(passCount).toBe(modePasses + hops);
          let lastEnd = 0;
          for (let k = 1; k <= passCount; k++) {
            const steps = plan.steps.filter((s) => s.pass?.n === k);
            const acting = steps.filter((s) => s.action === "install" || s.action === "set-mode");
            expect(acting).toHaveLength(c.servers.length);
            expect(new Set(acting.map((s) => s.action)).size).toBe(1);
            if (acting[0]!.action === "set-mode") {
              expect(
                steps.every((s) => s.pass!.rule === "M11" && s.pass!.mode === steps[0]!.pass!.mode),
              ).toBe(true);
              expect(acting.every((s) => s.mode === steps[0]!.pass!.mode)).toBe(true);
              expect(steps.some((s) => s.action === "install")).toBe(false);
            }
            // M2: the address order, highest first, in every pass
            for (let i = 1; i < acting.length; i++)
              expect(compareAddresses(addr(acting[i - 1]!.server!), addr(acting[i]!.server!))).toBe(1);
            // its own point of no return (M4, G4)
            expect(steps.filter((s) => s.pointOfNoReturn)).toHaveLength(1);
            // begun once the pass before is over
            expect(Math.min(...steps.map((s) => s.start))).toBeGreaterThanOrEqual(lastEnd);
            lastEnd = Math.max(...steps.map((s) => s.end));
          }
          expect(new Set(plan.steps.map((s) => s.id)).size).toBe(plan.steps.length);
        },
      ),
      { numRuns: 60, seed: 20261204 },
    );
  });

  it("the mode pass's point of no return says what it gives up: the old mode, in the plan and in the question (G4)", () => {
    const plan = planUpgrade(twoPassFleet(3, "3.5.0", RELEASE_THEN_MODE), { to: "3.5.1", explain: true });
    const [releaseStop, modeStop] = plan.steps.filter((s) => s.pointOfNoReturn);
    expect(noReturnAfterIt(releaseStop!)).toBe("the old release cannot come back after it");
    expect(noReturnAfterIt(modeStop!)).toBe("the old mode cannot come back after it");
    expect(modeStop!.explain!.join("\n")).toContain("after this step the old mode cannot come back");
  });

  it("the passes in the order declared: a mode pass first sets the mode on the old release", () => {
    const plan = planUpgrade(twoPassFleet(3, "3.5.0", MODE_THEN_RELEASE), { to: "3.5.1" });
    expect(plan.verification.violations).toEqual([]);
    expect(plan.steps[0]!.pass).toMatchObject({ n: 1, of: 2, mode: "extended", to: "3.5.0", rule: "M11" });
    expect(plan.steps.at(-1)!.pass).toMatchObject({ n: 2, of: 2, to: "3.5.1", rule: "M11" });
    expect((plan.findings ?? []).join("\n")).toContain("M11");
  });

  it("a part-done mode pass goes on from where it stands; a done one is skipped; the release done, only the mode pass is planned", () => {
    const fleet = twoPassFleet(4, "3.5.1", RELEASE_THEN_MODE);
    const c = fleet.clusters[0]!;
    const top = [...c.servers].sort((a, b) => compareAddresses(b.address, a.address))[0]!;
    top.mode = "extended";
    const plan = planUpgrade(fleet, { to: "3.5.1" });
    expect(plan.verification.violations).toEqual([]);
    const sets = plan.steps.filter((s) => s.action === "set-mode").map((s) => s.server);
    expect(sets).toHaveLength(3);
    expect(sets).not.toContain(top.name);
    expect(plan.steps.some((s) => s.action === "install")).toBe(false);
    // every server in the last declared mode: nothing to do
    for (const s of c.servers) s.mode = "extended";
    c.mode = "extended";
    expect(() => planUpgrade(fleet, { to: "3.5.1" })).toThrow(/ROLLGATE_E_PLAN_TARGET_NOT_NEWER|not newer/);
  });

  it("M12's alternatives do not replace declared passes; a rollback does not take a mode change back", () => {
    const fleet = twoPassFleet(4, "3.5.0", RELEASE_THEN_MODE, { floor: 0 });
    for (const strategy of ["all-at-once", "two-halves"] as const)
      expect(() => planUpgrade(fleet, { to: "3.5.1", strategy })).toThrow(/M11/);
    const part = twoPassFleet(3, "3.5.1", RELEASE_THEN_MODE);
    part.clusters[0]!.servers[0]!.mode = "extended";
    expect(() => planRollback(part)).toThrow(/mode pass \(M11\)/);
  });
});

describe("the verifier holds each declared pass to the rules", () => {
  const fleet = twoPassFleet(3, "3.5.0", RELEASE_THEN_MODE);
  const plan = planUpgrade(fleet, { to: "3.5.1" });
  const targets = new Map(Object.entries(plan.targets));
  const rulesOf = (steps: Step[]) => [
    ...new Set(verifyPlan(fleet, steps, targets).violations.map((v) => v.rule)),
  ];

  it("accepts the planner's plan", () => {
    expect(verifyPlan(fleet, plan.steps, targets).violations).toEqual([]);
  });

  it("the mode pass begun before the release pass is over breaks M11", () => {
    const steps = secondPassBegunEarly(plan.steps);
    expect(rulesOf(steps)).toContain("M11");
  });

  it("the mode pass out of the address order breaks M2 (and M3 on the modes)", () => {
    const steps = secondPassOutOfOrder(plan.steps);
    expect(rulesOf(steps)).toContain("M2");
  });

  it("a server started in its old mode in the mode pass (its set-mode left out) breaks M10", () => {
    const noSet = structuredClone(plan.steps).filter((s) => !(s.action === "set-mode" && s.pass?.n === 2));
    const lastSet = noSet.findIndex((s) => s.pass?.n === 2 && s.action === "start");
    noSet[lastSet]!.after = noSet[lastSet - 1] ? [noSet[lastSet - 1]!.id] : [];
    expect(rulesOf(noSet)).toContain("M10");
  });
});

describe("declared passes the fleet file cannot have, and passes part way (M11)", () => {
  const file = (cluster: string) => `apiVersion: rollgate/v1
fleet: m11-check
clusters:
  - name: mx
    pack: polyserve-matrix
${cluster}`;
  const servers = (modes: (string | undefined)[], versions: string[] = ["3.5.0", "3.5.0", "3.5.0"]) =>
    `    servers:\n${(modes.length ? modes : [undefined, undefined, undefined])
      .map(
        (m, i) =>
          `      - { name: s${i + 1}, address: 10.9.1.${i + 1}, version: ${versions[i]}${m ? `, mode: ${m}` : ""} }`,
      )
      .join("\n")}\n`;
  const problems = (text: string) => {
    const r = parseFleetText(text, "f.yaml");
    return r.ok ? [] : r.diagnostics.map((d) => `${d.path}: ${d.code}: ${d.message}`);
  };

  it("a second mode pass, servers in three modes, two modes with no mode pass to end them, a misshapen mode: exit-2 findings naming the field, one each", () => {
    expect(
      problems(
        file(
          `    version: 3.5.0\n    mode: classic\n    passes: [release, { mode: extended }, { mode: turbo }]\n${servers([])}`,
        ),
      ),
    ).toEqual([
      expect.stringMatching(/^clusters\[0\]\.passes\[2\]: ROLLGATE_E_FLEET_PASSES: .*second mode pass/),
    ]);
    expect(
      problems(
        file(
          `    version: 3.5.0\n    mode: classic\n    passes: [release, { mode: extended }]\n${servers([undefined, "extended", "turbo"])}`,
        ),
      ),
    ).toEqual([
      expect.stringMatching(/servers\[1\]\.mode: ROLLGATE_E_FLEET_PASSES: .*classic, extended, turbo/),
    ]);
    expect(
      problems(file(`    version: 3.5.0\n    mode: classic\n${servers([undefined, undefined, "turbo"])}`)),
    ).toEqual([expect.stringMatching(/servers\[2\]\.mode: .*no mode pass is declared/)]);
    expect(
      problems(
        file(
          `    version: 3.5.0\n    mode: Classic\n    passes: [release, { mode: extended }]\n${servers([])}`,
        ),
      ),
    ).toEqual([expect.stringMatching(/^clusters\[0\]\.mode: ROLLGATE_E_FLEET_SCHEMA/)]);
  });

  const planOf = (text: string) => {
    const r = parseFleetText(text, "f.yaml");
    if (!r.ok) throw new Error(JSON.stringify(r.diagnostics));
    return () => planUpgrade(r.fleet, { to: "3.5.1" });
  };

  it("a release change while a mode pass is part way, or a mode change while a release change is, is refused as bad input with the way on, not a plan that fails verification", () => {
    const modesPartWay = planOf(
      file(
        `    version: 3.5.0\n    mode: classic\n    passes: [release, { mode: extended }]\n${servers([undefined, undefined, "extended"])}`,
      ),
    );
    expect(modesPartWay).toThrow(/ROLLGATE_E_FLEET_PASSES|mode pass is part way/);
    expect(modesPartWay).toThrow(/--to 3\.5\.0/);
    const releasePartWay = planOf(
      file(
        `    version: 3.5.0\n    mode: classic\n    passes: [{ mode: extended }, release]\n${servers([], ["3.5.0", "3.5.0", "3.5.1"])}`,
      ),
    );
    expect(releasePartWay).toThrow(/release change is part way/);
    // the mode pass part way, then the release: --to the release it runs finishes the mode pass
    const r = parseFleetText(
      file(
        `    version: 3.5.0\n    mode: classic\n    passes: [release, { mode: extended }]\n${servers([undefined, undefined, "extended"])}`,
      ),
      "f.yaml",
    );
    if (!r.ok) throw new Error("bad fleet");
    const plan = planUpgrade(r.fleet, { to: "3.5.0" });
    expect(plan.verification.violations).toEqual([]);
    expect(plan.steps.filter((s) => s.action === "set-mode").map((s) => s.server)).toEqual(["s2", "s1"]);
  });
});
