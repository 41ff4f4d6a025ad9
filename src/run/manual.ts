import type { RuleId } from "../model/step.ts";

/**
 * The manuals' own words, quoted in escalations so the person called sees what the vendor says.
 * Sources: the manuals' excerpts (Polycom RealPresence DMA Operations Guide p. 371; PolyServe Matrix
 * Server 3.5.1 Upgrade Guide p. 8).
 */
export const MANUAL_WORDING: Record<string, string> = {
  D8a: "Call Polycom Global Services if: after waiting significantly longer than the estimated install time, you're still unable to log back in.",
  D8b: "Call Polycom Global Services if: you can log in, but the Dashboard shows only one server for a two-server cluster.",
  D8c: "Call Polycom Global Services if: the package version numbers on the two servers are not the same.",
  M3: "If a server is accidentally upgraded out of order, when a higher-number server joins the matrix, the servers still running the old version of Matrix Server will think they need to leave the matrix and will no longer send configuration and status updates. To correct this problem, stop Matrix Server on the node that was upgraded out of order. Continue upgrading the other nodes before starting Matrix Server on that node.",
  M9: "Per-server procedure: disable the server, back up its configuration, stop the matrix software, remove the old packages, install the new, start, and confirm it has rejoined on the new release.",
  D4: "It's not possible to upgrade a cluster to an incompatible software version while it's a member of the supercluster.",
  D7: "The install takes a backup automatically; the package and any license keys are in place beforehand; after the install, wait about five minutes before logging back in.",
  G5: "Before each step the actual state is read; a step whose effect is already present is recorded as done, not repeated.",
};

export function manualFor(rule: RuleId): string {
  return MANUAL_WORDING[rule] ?? MANUAL_WORDING[rule.replace(/[a-z]$/, "")] ?? "";
}
