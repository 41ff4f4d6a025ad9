import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { compareAddresses } from "../../src/model/address.ts";
import type { Cluster, OrderSpec } from "../../src/model/fleet.ts";
import type { Step } from "../../src/model/step.ts";
import { planUpgrade } from "../../src/plan/planner.ts";
import { verifyPlan } from "../../src/plan/verify.ts";
import { fleetOf, genericCluster } from "./fleets.ts";

/**
 * G2, every declared order of a generic cluster: address descending (the default) or ascending,
 * natural name order (kv-s2 before kv-s10), by role (`leader` last), an explicit list. Every plan
 * verifies and begins its servers in that order (a batch of up to maxUnavailable may begin
 * together); the verifier refuses a plan that begins a server before one declared ahead of it.
 */
const ORDERS = ["address-descending", "address-ascending", "name", "role", "list"] as const;

function orderedCluster(
  n: number,
  kind: (typeof ORDERS)[number],
  seed: number,
  maxUnavailable: number,
): Cluster {
  const c = genericCluster("kv", n, "2.4.1", 9, { maxUnavailable });
  // scrambled addresses and roles, so that no order is the file's order by accident
  c.servers = c.servers.map((s, i) => {
    const address = `10.0.9.${((i * 11 + seed) % 200) + 1}`;
    return { ...s, address, interfaces: [address], ...(i % 3 === seed % 3 ? { role: "leader" } : {}) };
  });
  const seen = new Set<string>();
  c.servers = c.servers.filter((s) => !seen.has(s.address) && seen.add(s.address));
  const list = [...c.servers].sort(
    (a, b) =>
      ((a.name.length * 7 + seed) % 5) - ((b.name.length * 7 + seed) % 5) ||
      a.address.localeCompare(b.address),
  );
  const order: OrderSpec =
    kind === "address-descending"
      ? { by: "address", direction: "descending" }
      : kind === "address-ascending"
        ? { by: "address", direction: "ascending" }
        : kind === "name"
          ? { by: "name" }
          : kind === "role"
            ? { by: "role", last: ["leader"] }
            : { by: "list", servers: list.map((s) => s.name) };
  return { ...c, order };
}

/** The order G2 declares, computed here from the fleet file's words (not from src/rules). */
function declared(c: Cluster): string[] {
  const byAddrDesc = (a: Cluster["servers"][number], b: Cluster["servers"][number]) =>
    compareAddresses(b.address, a.address);
  const s = [...c.servers];
  const o = c.order!;
  if (o.by === "address")
    return s.sort(o.direction === "descending" ? byAddrDesc : (a, b) => -byAddrDesc(a, b)).map((x) => x.name);
  if (o.by === "name") {
    const num = (n: string) => Number(/(\d+)$/.exec(n)![1]);
    return s.sort((a, b) => num(a.name) - num(b.name)).map((x) => x.name);
  }
  if (o.by === "role") {
    const leaders = s.filter((x) => x.role === "leader").sort(byAddrDesc);
    const others = s.filter((x) => x.role !== "leader").sort(byAddrDesc);
    return [...others, ...leaders].map((x) => x.name);
  }
  return o.servers;
}

describe("G2: every declared order", () => {
  it("every plan verifies and begins each server no earlier than those declared ahead of it, at most maxUnavailable at once", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 12 }),
        fc.constantFrom(...ORDERS),
        fc.integer({ min: 0, max: 500 }),
        fc.integer({ min: 1, max: 3 }),
        (n, kind, seed, maxUnavailable) => {
          const c = orderedCluster(n, kind, seed, maxUnavailable);
          const plan = planUpgrade(fleetOf([c], [], 0), { to: "2.5.0" });
          expect(plan.verification.violations).toEqual([]);
          const order = declared(c);
          const begins = new Map(
            plan.steps.filter((s) => s.action === "disable").map((s) => [s.server!, s.start] as const),
          );
          for (let i = 1; i < order.length; i++)
            expect(
              begins.get(order[i]!)!,
              `${kind}: ${order[i - 1]} before ${order[i]}`,
            ).toBeGreaterThanOrEqual(begins.get(order[i - 1]!)!);
          const starts = [...begins.values()];
          for (const t of new Set(starts))
            expect(starts.filter((x) => x === t).length).toBeLessThanOrEqual(maxUnavailable);
        },
      ),
      { numRuns: 200 },
    );
  });

  it("natural name order puts kv-s2 before kv-s10, and role order the leaders last", () => {
    const c = orderedCluster(11, "name", 3, 1);
    const plan = planUpgrade(fleetOf([c], [], 0), { to: "2.5.0" });
    const names = plan.steps.filter((s) => s.action === "install").map((s) => s.server);
    expect(names.indexOf("kv-s2")).toBeLessThan(names.indexOf("kv-s10"));
    const r = orderedCluster(6, "role", 1, 1);
    const rp = planUpgrade(fleetOf([r], [], 0), { to: "2.5.0" });
    const roles = rp.steps
      .filter((s) => s.action === "install")
      .map((s) => r.servers.find((x) => x.name === s.server)!.role);
    expect(roles.slice(roles.indexOf("leader"))).toEqual(roles.filter((x) => x === "leader"));
  });

  it("the verifier refuses a plan that begins a server before one declared ahead of it (G2), for every form", () => {
    for (const kind of ORDERS) {
      const c = orderedCluster(5, kind, 7, 1);
      const fleet = fleetOf([c], [], 0);
      const plan = planUpgrade(fleet, { to: "2.5.0" });
      const order = declared(c);
      // the first two servers trade places: the second declared goes first
      const [a, b] = [order[0]!, order[1]!];
      const swap = (x: string) =>
        x.replace(new RegExp(`/(${a}|${b})/`), (_m, n: string) => `/${n === a ? b : a}/`);
      const swapped: Step[] = plan.steps.map((s) =>
        s.server === a || s.server === b
          ? { ...s, id: swap(s.id), server: s.server === a ? b : a, after: s.after.map(swap) }
          : { ...s, after: s.after.map(swap) },
      );
      const v = verifyPlan(fleet, swapped, new Map(Object.entries(plan.targets)));
      expect(v.ok, kind).toBe(false);
      expect(
        v.violations.map((x) => x.rule),
        kind,
      ).toContain("G2");
    }
  });
});
