import { RollgateError } from "../model/errors.ts";
import type { Cluster, Fleet, Territory } from "../model/fleet.ts";
import { compareAddresses } from "../model/address.ts";
import type { Step, TerritoryAssignment } from "../model/step.ts";
import { explainStep } from "./explain.ts";
import { planDmaRollback } from "./rollback-dma.ts";
import { planPass } from "./rolling.ts";
import { msToSeconds } from "./time.ts";
import type { Plan } from "./types.ts";
import { cmpVersions } from "./versions.ts";
import { verifyPlan } from "./verify.ts";

/**
 * Going back before the point of no return (docs/planning.md, "Rollback"): a matrix part way
 * through a rolling upgrade, as the fleet file describes it (some servers on the new release, at
 * least one still on the old), returns to the old release. The upgraded servers go back one at a
 * time (M1), lowest address first, so that those still on the new release stay a top segment of
 * the address order (M3), each by the per-server procedure (M9) with the old release installed.
 * While an old-release server is active the matrix admits the old release (M4); past that point
 * it does not, and the rollback is refused. Pure, like the planner.
 */
export interface RollbackOptions {
  /**
   * `--cluster` values: the matrices and DMA clusters to roll back (default: every matrix running
   * two releases; a DMA cluster only when named).
   */
  clusters?: readonly string[];
  explain?: boolean;
  /**
   * D9: per DMA cluster, the release a rollback of its last applied upgrade returns to, as the
   * cluster says (`rollbackTo`, read by the caller); null when it has none to roll back.
   */
  dmaRollbackTo?: ReadonlyMap<string, string | null>;
}

const byName = (fleet: Fleet) => new Map(fleet.clusters.map((c) => [c.name, c]));

/** The releases a cluster's servers run, oldest first. */
function releasesOf(c: Cluster): string[] {
  return [...new Set(c.servers.map((s) => s.version))].sort(cmpVersions);
}

function chosen(
  fleet: Fleet,
  names: readonly string[] | undefined,
  dmaRollbackTo: ReadonlyMap<string, string | null> | undefined,
): Cluster[] {
  if (names === undefined || names.length === 0) {
    const mixed = fleet.clusters.filter((c) => c.pack === "polyserve-matrix" && releasesOf(c).length > 1);
    // a matrix part way through a mode pass (M11) is not a rollback's to take back: say so
    if (mixed.length === 0) for (const c of fleet.clusters) refuseModeChange(c);
    if (mixed.length === 0)
      throw new RollgateError(
        "ROLLGATE_E_ROLLBACK_NOTHING",
        `no matrix of ${fleet.name} runs two releases in the fleet file: there is nothing to roll back. After an aborted upgrade, bring the file up to date first (rollgate fleet sync FLEET --write)`,
      );
    return mixed;
  }
  const index = byName(fleet);
  const out: Cluster[] = [];
  for (const raw of names) {
    const name = raw.trim();
    if (name === "")
      throw new RollgateError(
        "ROLLGATE_E_USAGE",
        `--cluster needs a cluster's name (clusters of ${fleet.name}: ${fleet.clusters.map((x) => x.name).join(", ")})`,
      );
    const c = index.get(name);
    if (!c)
      throw new RollgateError(
        "ROLLGATE_E_USAGE",
        `--cluster ${name}: ${fleet.name} has no cluster of that name (clusters: ${fleet.clusters.map((x) => x.name).join(", ")})`,
      );
    if (c.pack === "polycom-dma") {
      if (!dmaRollbackTo?.has(name))
        throw new RollgateError(
          "ROLLGATE_E_ROLLBACK_UNSUPPORTED",
          `${name} is a DMA cluster: its rollback (D9) returns it to the release before its last applied upgrade, which only the cluster knows; rollgate rollback reads it from the cluster (its drivers must reach it)`,
          { details: { cluster: name } },
        );
      if (dmaRollbackTo.get(name) === null)
        throw new RollgateError(
          "ROLLGATE_E_ROLLBACK_NOTHING",
          `${name} has no upgrade to roll back: only the last applied upgrade of a DMA cluster can be rolled back, once (D9), and ${name} reports none (never upgraded, or rolled back already)`,
          { details: { cluster: name } },
        );
    } else if (c.pack !== "polyserve-matrix")
      throw new RollgateError(
        "ROLLGATE_E_ROLLBACK_UNSUPPORTED",
        `${name} is a generic cluster: rollgate rolls back matrices only (a generic cluster goes back by an upgrade to its old release, if its policy allows it, G1)`,
        { details: { cluster: name } },
      );
    if (!out.includes(c)) out.push(c);
  }
  return out;
}

/**
 * M11: a matrix whose servers run in two modes is part way through a mode pass; a rollback takes a
 * release change back, not a mode change (not built): refused, with the way on.
 */
function refuseModeChange(c: Cluster): void {
  const modes = [...new Set(c.servers.map((s) => s.mode).filter((m) => m !== undefined))];
  if (modes.length < 2) return;
  throw new RollgateError(
    "ROLLGATE_E_ROLLBACK_UNSUPPORTED",
    `${c.name}'s servers run in modes ${modes.join(" and ")} in the fleet file: a mode pass (M11) is part way, and rollgate takes a release change back, not a mode change. Finish the mode pass (rollgate apply FLEET --to ${c.servers[0]!.version}), or set the modes back by hand`,
    { details: { cluster: c.name, modes } },
  );
}

/**
 * M5: a filesystem the file shows mounted on `newer` servers only was unmounted on every old-release
 * server; an old-release server may mount it again only once it is unmounted on every newer one.
 * A rollback would mount it on a server back on `old` beside newer ones that still have it: refused,
 * with the manual's way out.
 */
function refuseNewOnlyFilesystems(c: Cluster, old: string, newer: string): void {
  const release = new Map(c.servers.map((s) => [s.name, s.version]));
  for (const fs of c.filesystems) {
    const on = fs.mountedOn.filter((n) => release.has(n));
    if (on.length === 0 || on.some((n) => release.get(n) !== newer)) continue;
    throw new RollgateError(
      "ROLLGATE_E_ROLLBACK_UNSUPPORTED",
      `${c.name}: filesystem ${fs.name} is mounted only on ${newer} servers (${on.join(", ")}): it was unmounted on every ${old} server, so no ${old} server may mount it until it is unmounted on the ${newer} servers (M5). Unmount ${fs.name} on ${on.join(", ")}, record that in the fleet file (mountedOn), then roll back`,
      { details: { cluster: c.name, filesystem: fs.name, mountedOn: on } },
    );
  }
}

/**
 * The fleet the verifier judges a rollback against: each territory's design replaced by where the
 * rollback leaves it (`end`: those its DMA rollbacks restore), else by where it is now, with
 * `assigned` saying where it is now, so that the replay starts from there.
 */
function asAssigned(fleet: Fleet, end: ReadonlyMap<string, TerritoryAssignment>): Fleet {
  if (end.size === 0 && !fleet.superclusters.some((sc) => sc.territories.some((t) => t.assigned)))
    return fleet;
  const territory = (t: Territory): Territory => {
    const now = t.assigned ?? { primary: t.primary, ...(t.backup ? { backup: t.backup } : {}) };
    const last = end.get(t.name) ?? now;
    const moves = last.primary !== now.primary || (last.backup ?? "") !== (now.backup ?? "");
    return {
      name: t.name,
      primary: last.primary,
      ...(last.backup ? { backup: last.backup } : {}),
      ...(moves ? { assigned: { primary: now.primary, ...(now.backup ? { backup: now.backup } : {}) } } : {}),
    };
  };
  return {
    ...fleet,
    superclusters: fleet.superclusters.map((sc) => ({ ...sc, territories: sc.territories.map(territory) })),
  };
}

/** Plans the rollback of the chosen matrices, verified like any plan. */
export function planRollback(fleet: Fleet, options: RollbackOptions = {}): Plan {
  const clusters = chosen(fleet, options.clusters, options.dmaRollbackTo);
  const targets = new Map<string, string>();
  const from: Record<string, string> = {};
  const findings: string[] = [];
  const steps: Step[] = [];
  let ms = 0;
  let lowerBoundMs = 0;
  let dmaMs = 0; // DMA rollbacks one after the other: they share their superclusters' capacity
  const territoriesEnd = new Map<string, TerritoryAssignment>();
  for (const c of clusters) {
    if (c.pack === "polycom-dma") {
      const to = options.dmaRollbackTo!.get(c.name)!;
      const r = planDmaRollback(fleet, c, to, dmaMs);
      targets.set(c.name, to);
      from[c.name] = releasesOf(c).at(-1)!;
      steps.push(...r.steps);
      dmaMs += r.ms;
      ms = Math.max(ms, dmaMs);
      lowerBoundMs = Math.max(lowerBoundMs, dmaMs);
      findings.push(r.finding);
      for (const [k, v] of r.territoriesEnd) territoriesEnd.set(k, v);
      continue;
    }
    refuseModeChange(c);
    const releases = releasesOf(c);
    if (releases.length === 1)
      throw new RollgateError(
        "ROLLGATE_E_ROLLBACK_PAST_NO_RETURN",
        `every server of ${c.name} runs ${releases[0]} in the fleet file: no server runs an older release for the others to return to. If an upgrade brought it there, it is past its point of no return (M4, G4): only ${releases[0]} servers may join; the way back is a restore from the configuration backups, by hand`,
        { details: { cluster: c.name, release: releases[0] } },
      );
    if (releases.length > 2)
      throw new RollgateError(
        "ROLLGATE_E_ROLLBACK_UNSUPPORTED",
        `${c.name} runs ${releases.join(", ")}: a rollback returns a matrix of two releases to the older one; bring it to two releases first`,
        { details: { cluster: c.name, releases } },
      );
    const [old, newer] = releases as [string, string];
    refuseNewOnlyFilesystems(c, old, newer);
    targets.set(c.name, old);
    from[c.name] = newer;
    const p = planPass(fleet, c, old, undefined, (s) => s.version === newer, [], 0, true);
    steps.push(...p.steps);
    ms = Math.max(ms, p.ms);
    lowerBoundMs = Math.max(lowerBoundMs, p.lowerBoundMs);
    const back = c.servers
      .filter((s) => s.version === newer)
      .sort((a, b) => compareAddresses(a.address, b.address))
      .map((s) => s.name);
    const staying = c.servers.filter((s) => s.version === old).map((s) => s.name);
    findings.push(
      `${c.name}: ${back.join(", ")} go${back.length === 1 ? "es" : ""} back from ${newer} to ${old}, lowest address first, one at a time, so that the ${newer} servers stay a top segment of the address order (M3, M1); ${staying.join(", ")} still run${staying.length === 1 ? "s" : ""} ${old}, so the matrix admits ${old} again (before the point of no return, M4)`,
    );
  }
  if (options.clusters === undefined || options.clusters.length === 0)
    for (const c of fleet.clusters) {
      if (c.pack === "polyserve-matrix" || releasesOf(c).length < 2) continue;
      findings.push(
        `${c.name} (${c.pack === "polycom-dma" ? "a DMA cluster: its last upgrade is rolled back (D9) only when named with --cluster" : "a generic cluster: rollgate rolls back matrices only"}) also runs ${releasesOf(c).join(" and ")}: left alone`,
      );
    }
  // several matrices are separate domains: each from 0, in parallel, steps merged by start
  steps.sort((a, b) => a.start - b.start);
  for (const s of steps) {
    s.start = msToSeconds(s.start);
    s.end = msToSeconds(s.end);
  }
  // a rollback returns the territories it moves to where they stood (not to their design): the
  // verifier's end state is the file's assignment
  const v = verifyPlan(asAssigned(fleet, territoriesEnd), steps, targets);
  if (options.explain) for (const s of steps) s.explain = explainStep(s, fleet);
  const plan: Plan = {
    fleet: fleet.name,
    target: `rollback ${clusters.map((c) => `${c.name}=${targets.get(c.name)}`).join(",")}`,
    targets: Object.fromEntries(targets),
    strategy: "rolling",
    capacityFloor: fleet.defaults.capacityFloor,
    steps,
    estimate: {
      seconds: msToSeconds(ms),
      lowerBoundSeconds: msToSeconds(lowerBoundMs),
      minCapacity: Math.floor(v.minCapacity * 100 + 1e-9) / 100,
      outageSeconds: v.outageSeconds,
      mixedWindowSeconds: msToSeconds(ms),
    },
    verification: { ok: v.ok, statesChecked: v.statesChecked, violations: v.violations },
    findings,
    rollback: { from },
  };
  if (!v.ok) {
    const first = v.violations[0]!;
    const atStart = v.violations.filter((x) => x.step === undefined && x.at === 0);
    throw new RollgateError(
      atStart.length > 0 ? "ROLLGATE_E_PLAN_FLEET_BREAKS_RULES" : "ROLLGATE_E_PLAN_VERIFY_FAILED",
      atStart.length > 0
        ? `the fleet as the file describes it already breaks the rules: ${atStart.map((x) => `${x.rule}: ${x.detail}`).join("; ")}`
        : `the rollback plan breaks ${first.rule}${first.step ? ` at ${first.step}` : ""}: ${first.detail}`,
      { details: { violations: v.violations } },
    );
  }
  return plan;
}
