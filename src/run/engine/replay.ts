import type { RunEvent } from "../../events/types.ts";
import type { Plan } from "../../plan/types.ts";
import type { Gate } from "../gate.ts";
import { readJournal, type StepStanding } from "../journal.ts";

/**
 * A restarted engine's standing of every step, from the journal. The gate's picture of the fleet
 * starts with what the journal says: steps done, and steps begun (an intent journaled, no outcome,
 * or a failure) whose effect may be under way or partly in place, so that no step the rules forbid
 * beside them starts before they are observed again (a restart must not, say, stop a second matrix
 * server: M1).
 */
export function replayJournal(
  events: readonly RunEvent[],
  plan: Plan,
  gate?: Gate,
): Map<string, StepStanding> {
  const standing = readJournal(events, plan).steps;
  for (const s of plan.steps) {
    const st = standing.get(s.id);
    if (st?.status === "done") gate?.finished(s);
    else if (st && st.attempts > 0) gate?.started(s);
  }
  return standing;
}
