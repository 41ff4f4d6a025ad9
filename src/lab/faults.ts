/**
 * Faults a person (or a test) injects into a simulated appliance: `rollgate lab fault FLEET SERVER
 * KIND` or POST /lab/fault. Each stays until cleared (`clear`), except `crash`, which is an event
 * (the server goes down and reboots), and faults given `once`, used up by the next install.
 */
export const FAULT_KINDS = [
  "install-fails",
  "install-hangs",
  "slow-install",
  "crash",
  "unreachable-refuse",
  "unreachable-drop",
  "dashboard-missing",
  "package-mismatch",
  "join-lost",
  "private-link-down",
  "clear",
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export const FAULT_HELP: Record<FaultKind, string> = {
  "install-fails": "the next install runs its time, then fails; the release stays as it was",
  "install-hangs": "the next install never ends (until a crash or the lab stops)",
  "slow-install": "installs take factor × the estimate (default 3)",
  crash: "the server goes down at once (connections refused) and reboots after factor × its start time",
  "unreachable-refuse": "the server's address refuses connections; the server itself keeps running",
  "unreachable-drop": "the server accepts connections and never answers",
  "dashboard-missing":
    "D8b: after each install while the fault is on (once: the next install only), the pair's dashboard lacks this server",
  "package-mismatch": "D8c: after the next install, this server's package stays on the old release",
  "join-lost":
    "D10: the next join of this server's cluster is not replicated: it sees itself a member, the supercluster's member list lacks it (a lost member)",
  "private-link-down":
    "D8: the private link between the cluster's servers fails: the cluster reports itself not clustered (both servers up, the dashboard whole)",
  clear: "removes every fault of the server (and brings it back if unreachable)",
};

export interface FaultSpec {
  kind: FaultKind;
  /** slow-install: the multiplier; crash: multiplier of the reboot time. */
  factor?: number;
  /** Used up by the next install (install-fails, install-hangs, slow-install). */
  once?: boolean;
}

export interface ActiveFault {
  kind: Exclude<FaultKind, "clear" | "crash">;
  factor?: number;
  once?: boolean;
  since: number;
}

export function isFaultKind(text: string): text is FaultKind {
  return (FAULT_KINDS as readonly string[]).includes(text);
}

/** The install faults of a server (or of every server of a DMA cluster) combined. */
export function installEffect(faults: Iterable<ActiveFault>): {
  fails: boolean;
  hangs: boolean;
  factor: number;
} {
  let fails = false;
  let hangs = false;
  let factor = 1;
  for (const f of faults) {
    if (f.kind === "install-fails") fails = true;
    else if (f.kind === "install-hangs") hangs = true;
    else if (f.kind === "slow-install") factor = Math.max(factor, f.factor ?? 3);
  }
  return { fails, hangs, factor };
}
