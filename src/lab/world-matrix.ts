import { compareReleases } from "./judge.ts";
import { highestRelease, isMixed, lowestRelease, outOfOrder } from "./matrix-rules.ts";
import type { SimCluster } from "./types.ts";
import type { LabWorld } from "./world.ts";

/** After any start, stop, crash or install in a matrix: floor (M4), mixed window, order (M3). */
export function reevaluateMatrix(w: LabWorld, c: SimCluster): void {
  const running = w.running(c);
  const lo = lowestRelease(running);
  if (lo !== undefined && compareReleases(lo, c.floor) > 0) {
    c.floor = lo;
    w.journal.add({
      kind: "state",
      cluster: c.name,
      detail: `${c.name}: the last server on a release older than ${lo} has left; only ${lo} or later may join (M4)`,
    });
  }
  const hiAll = highestRelease(c.servers);
  if (isMixed(running)) c.mixedSince ??= w.now();
  else if (lo === undefined || (hiAll !== undefined && compareReleases(lo, hiAll) === 0)) c.mixedSince = null;

  const ooo = outOfOrder(running);
  if (ooo) {
    const newest = highestRelease(running)!;
    const reason = `${ooo.offender.name} (${ooo.offender.release}, ${ooo.offender.address}) runs while ${ooo.higher
      .map((h) => `${h.name} (${h.release}, ${h.address})`)
      .join(", ")} with a higher address still run${ooo.higher.length === 1 ? "s" : ""} the old release`;
    for (const s of running) {
      if (compareReleases(s.release, newest) < 0 && !s.isolated) {
        s.isolated = true;
        s.isolatedReason = `${reason}: ${s.name} believes it must leave the matrix and sends no updates (M3)`;
      }
    }
    if (!c.outOfOrder) w.journal.violation("M3", `out-of-order upgrade: ${reason}`, { cluster: c.name });
    c.outOfOrder = true;
  } else c.outOfOrder = false;
  for (const s of c.servers) w.note(s);
}
