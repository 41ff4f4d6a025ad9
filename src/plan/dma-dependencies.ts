import type { Step } from "../model/step.ts";

/**
 * The engine starts a step once every step of its `after` is done and the rule gate agrees, not at
 * its planned time. So every order between clusters that the schedule relies on is a dependency:
 * a cluster's slot (its reassignment, its busy-out) and every restore wait for each return,
 * restore and reassignment of the supercluster that ends by their planned start (capacity freed,
 * territories moved, original clusters back).
 */
export function orderAcrossClusters(steps: Step[]): void {
  const marks = steps.filter(
    (s) =>
      s.action === "return-to-service" ||
      s.action === "restore-territories" ||
      s.action === "reassign-territories",
  );
  for (const x of steps) {
    if (x.action !== "reassign-territories" && x.action !== "restore-territories" && x.action !== "busy-out")
      continue;
    // plain loops: this runs for every slot of every supercluster of a large fleet
    let after: string[] | undefined;
    for (const y of marks) {
      if (y === x || y.end > x.start || x.after.includes(y.id)) continue;
      after ??= x.after.slice();
      after.push(y.id);
    }
    if (after !== undefined) x.after = after;
  }
}

/**
 * G4: marks every leave that may be the last one, i.e. that no other leave depends on (whatever
 * the steps' actual durations, the engine may run it last).
 */
export function markLastLeaves(steps: Step[], extra: string[]): void {
  const leaves = steps.filter((s) => s.action === "leave-supercluster");
  const before = new Set<string>(); // leaves that some other leave waits for, directly or not
  if (leaves.length <= 30) {
    // the leaves each step waits for, as bits; a dependency starts before its dependent does
    const bit = new Map(leaves.map((l, i) => [l.id, 1 << i]));
    const waits = new Map<string, number>();
    for (const s of [...steps].sort((a, b) => a.start - b.start)) {
      let m = 0;
      for (const a of s.after) m |= (waits.get(a) ?? 0) | (bit.get(a) ?? 0);
      waits.set(s.id, m);
    }
    let all = 0;
    for (const l of leaves) all |= waits.get(l.id)!;
    leaves.forEach((l, i) => {
      if (all & (1 << i)) before.add(l.id);
    });
  }
  for (const s of leaves)
    if (!before.has(s.id)) {
      s.pointOfNoReturn = true;
      s.rules = [...s.rules, ...extra.filter((r) => !s.rules.includes(r))];
    }
}
