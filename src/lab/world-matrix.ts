import {
  compareLevels,
  highestLevel,
  isMixedLevel,
  levelWords,
  lowestLevel,
  outOfOrder,
} from "./matrix-rules.ts";
import type { SimCluster } from "./types.ts";
import type { LabWorld } from "./world.ts";

/**
 * After any start, stop, crash, install or mode change in a matrix: floor (M4), mixed window,
 * order (M3); a mode change (M11) is judged as a release change is, on the level of each server.
 */
export function reevaluateMatrix(w: LabWorld, c: SimCluster): void {
  const running = w.running(c);
  const lo = lowestLevel(running);
  if (lo !== undefined && compareLevels(lo, c.floor) > 0) {
    c.floor = { release: lo.release, modeRank: lo.modeRank ?? 0, words: levelWords(lo) };
    w.journal.add({
      kind: "state",
      cluster: c.name,
      detail: `${c.name}: the last server older than ${c.floor.words} has left; only ${c.floor.words} or later may join (M4${lo.mode === undefined ? "" : ", M11"})`,
    });
  }
  const hiAll = highestLevel(c.servers);
  if (isMixedLevel(running)) c.mixedSince ??= w.now();
  else if (lo === undefined || (hiAll !== undefined && compareLevels(lo, hiAll) === 0)) c.mixedSince = null;

  const ooo = outOfOrder(running);
  if (ooo) {
    const newest = highestLevel(running)!;
    const reason = `${ooo.offender.name} (${levelWords(ooo.offender)}, ${ooo.offender.address}) runs while ${ooo.higher
      .map((h) => `${h.name} (${levelWords(h)}, ${h.address})`)
      .join(
        ", ",
      )} with a higher address still run${ooo.higher.length === 1 ? "s" : ""} the old ${ooo.offender.release === ooo.higher[0]!.release ? "mode" : "release"}`;
    for (const s of running) {
      if (compareLevels(s, newest) < 0 && !s.isolated) {
        s.isolated = true;
        s.isolatedReason = `${reason}: ${s.name} believes it must leave the matrix and sends no updates (M3)`;
      }
    }
    if (!c.outOfOrder) w.journal.violation("M3", `out-of-order upgrade: ${reason}`, { cluster: c.name });
    c.outOfOrder = true;
  } else c.outOfOrder = false;
  for (const s of c.servers) w.note(s);
}
