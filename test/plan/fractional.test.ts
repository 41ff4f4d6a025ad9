import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { derivedFleetDocument } from "../../src/lab/derived-fleet.ts";
import type { Fleet } from "../../src/model/fleet.ts";
import { parseFleetText } from "../../src/model/fleet-file.ts";
import { ESTIMATE_KEYS } from "../../src/model/fleet-schema.ts";
import { planUpgrade } from "../../src/plan/planner.ts";
import type { Plan } from "../../src/plan/types.ts";
import { loadExample } from "./fleets.ts";
import { buildFleet, fleetArb, targetsFor } from "./random-fleets.ts";
import { e2eTimeouts } from "../helpers/wait.ts";

e2eTimeouts(60_000);

/**
 * Fractional-second estimates (the lab divides every estimate by its speed: 60 s / 600 → "100ms")
 * must plan and verify like whole seconds: the planner schedules in integer milliseconds.
 */

/** The fleet file `rollgate lab up --speed SPEED` writes, parsed back (pure: no lab runs). */
function labFleet(fleet: Fleet, speed: number): Fleet {
  const text = derivedFleetDocument(fleet, { speed, driverUrl: "http://127.0.0.1:9" });
  const r = parseFleetText(text, `${fleet.name}.lab.yaml`);
  if (!r.ok) throw new Error(`derived fleet of ${fleet.name} at speed ${speed} does not parse`);
  return r.fleet;
}

const wholeMs = (x: number) => Math.round(x * 1000) / 1000 === x;

/** What every plan must satisfy, whatever its estimates. */
function expectSound(plan: Plan): void {
  expect(plan.verification.violations).toEqual([]);
  expect(plan.verification.ok).toBe(true);
  expect(plan.estimate.seconds).toBeGreaterThanOrEqual(plan.estimate.lowerBoundSeconds);
  const byId = new Map(plan.steps.map((s) => [s.id, s]));
  let end = 0;
  for (const s of plan.steps) {
    expect(wholeMs(s.start) && wholeMs(s.end)).toBe(true);
    expect(s.end).toBeGreaterThan(s.start);
    for (const a of s.after) expect(byId.get(a)!.end).toBeLessThanOrEqual(s.start);
    end = Math.max(end, s.end);
  }
  expect(end).toBe(plan.estimate.seconds);
  for (const x of [plan.estimate.lowerBoundSeconds, plan.estimate.mixedWindowSeconds ?? 0])
    expect(wholeMs(x)).toBe(true);
}

const EXAMPLES: Array<[string, string[]]> = [
  ["demo.yaml", ["polycom-dma=10.1.0", "polyserve-matrix=3.5.1"]],
  ["matrix-seed.yaml", ["3.5.1"]],
  ["dma-supercluster.yaml", ["10.1.0"]],
  ["dma-supercluster.yaml", ["10.0.2"]],
  ["mixed-fleet.yaml", ["polyserve-matrix=3.5.1", "polycom-dma=10.1.0", "generic=2.5.0"]],
];
const SPEEDS = [1, 1.7, 3, 7, 60, 97, 600, 1000, 3000, 10_000, 100_000, 1_000_000];

describe("plans of lab-derived fleets (estimates ÷ speed)", () => {
  for (const [file, to] of EXAMPLES)
    it(`${file} --to ${to.join(" ")} plans and verifies at every speed`, () => {
      const base = planUpgrade(loadExample(file), { to });
      for (const speed of SPEEDS) {
        const plan = planUpgrade(labFleet(loadExample(file), speed), { to });
        expectSound(plan);
        // the same plan, faster: same steps, same strategy, within 1.05 of the bound
        expect(plan.strategy).toBe(base.strategy);
        expect(plan.steps.map((s) => s.id).sort()).toEqual(base.steps.map((s) => s.id).sort());
        if (speed <= 10_000)
          expect(plan.estimate.seconds).toBeLessThanOrEqual(1.05 * plan.estimate.lowerBoundSeconds);
      }
    });

  it("plans the same at the same speed (deterministic)", () => {
    const a = planUpgrade(labFleet(loadExample("demo.yaml"), 600), { to: EXAMPLES[0]![1] });
    const b = planUpgrade(labFleet(loadExample("demo.yaml"), 600), { to: EXAMPLES[0]![1] });
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
  });
});

/** Random estimates, in seconds with up to microsecond digits, for some clusters' actions. */
const estimatesArb = fc.array(
  fc.dictionary(
    fc.constantFrom(...ESTIMATE_KEYS),
    fc.integer({ min: 1, max: 3_600_000_000 }).map((us) => us / 1_000_000),
    { maxKeys: 6 },
  ),
  { minLength: 12, maxLength: 12 },
);

describe("properties of plans with fractional estimates", () => {
  it("random fleets with random fractional estimates, planned directly and lab-scaled by a random speed", () => {
    fc.assert(
      fc.property(
        fleetArb,
        estimatesArb,
        fc.oneof(fc.integer({ min: 1, max: 100_000 }), fc.double({ min: 1, max: 5000, noNaN: true })),
        (r, estimates, speed) => {
          const fleet = buildFleet(r);
          fleet.clusters.forEach((c, i) => {
            c.estimates = { ...estimates[i % estimates.length] };
          });
          const to = targetsFor(fleet, r.incompatible);
          for (const f of [fleet, labFleet(fleet, speed)]) {
            let plan: Plan;
            try {
              plan = planUpgrade(f, { to });
            } catch (e) {
              expect((e as { code?: string }).code).toBe("ROLLGATE_E_PLAN_FLOOR_UNREACHABLE");
              continue;
            }
            expectSound(plan);
          }
        },
      ),
      { numRuns: 150, seed: 20261123 },
    );
  });

  it("random fleets with default estimates divided by a random speed, as the lab does", () => {
    fc.assert(
      fc.property(fleetArb, fc.double({ min: 1, max: 20_000, noNaN: true }), (r, speed) => {
        const fleet = buildFleet(r);
        const to = targetsFor(fleet, r.incompatible);
        let plan: Plan;
        try {
          plan = planUpgrade(labFleet(fleet, speed), { to });
        } catch (e) {
          expect((e as { code?: string }).code).toBe("ROLLGATE_E_PLAN_FLOOR_UNREACHABLE");
          return;
        }
        expectSound(plan);
      }),
      { numRuns: 150, seed: 20261124 },
    );
  });
});
