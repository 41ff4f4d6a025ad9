import { existsSync, realpathSync } from "node:fs";
import { hostname } from "node:os";
import { resolve } from "node:path";
import { driverFor as defaultDriverFor } from "../drivers/index.ts";
import type { Driver } from "../drivers/driver.ts";
import { loadFleetFile } from "../io/fleet-loader.ts";
import { RollgateError } from "../model/errors.ts";
import type { Cluster, Fleet } from "../model/fleet.ts";
import type { Plan } from "../plan/types.ts";
import type { RunRecord } from "../store/types.ts";
import { acquireHostLock } from "../store/host-lock.ts";
import { openStore } from "../store/open.ts";
import { drive } from "./apply-drive.ts";
import { preflight, staleFileInstead } from "./apply-preflight.ts";
import { refuseOtherLimit, resumeHolding } from "./apply-resume.ts";
import { EarlySignals } from "./apply-signals.ts";
import type { ApplyInput, DriveResult } from "./apply-types.ts";
import { fleetClaims, fleetIdentity } from "./identity.ts";
import { holdLease, type LeaseKeeper, leaseTiming } from "./lease.ts";
import { isStoreUrl } from "../store/location.ts";
import { statePathFrom, unfinishedRunError } from "./locate.ts";

/**
 * `rollgate apply` and `rollgate resume` as functions: the shell around the engine. Bad input is
 * found before anything is written: the state file is created only once the fleet is valid, the
 * plan verified, every server observed and the operator has said yes. Its parts: the checks
 * before anything is written (apply-preflight.ts), resuming a run (apply-resume.ts), the engine's
 * drive with its questions and signals (apply-drive.ts), the signals before it (apply-signals.ts).
 */
export type { ApplyInput, DriveHooks, DriveResult, Interrupt, Planner, ResumeInput } from "./apply-types.ts";
export { refuseOtherLimit, resume } from "./apply-resume.ts";

export async function apply(input: ApplyInput): Promise<DriveResult> {
  const early = new EarlySignals();
  try {
    return await applyWith(input, early);
  } finally {
    early.dispose();
  }
}

async function applyWith(input: ApplyInput, early: EarlySignals): Promise<DriveResult> {
  leaseTiming(); // a bad ROLLGATE_LEASE_SECONDS is refused before anything is read or written
  const fleet = loadFleetFile(input.fleetFile);
  input.onFleet?.(fleet, input.fleetFile);
  await refuseOtherLimitFirst(input, fleet);
  // Planning is pure and cheap: bad targets, downgrades and unsupported paths fail here (exit 2).
  let plan: Plan;
  try {
    plan = input.planner(fleet, input.targets, input.strategy);
  } catch (e) {
    throw await early.raced(staleFileInstead(e, input.fleetFile, fleet, input.driverFor ?? defaultDriverFor));
  }
  const statePath = statePathFrom({
    ...(input.statePath ? { state: input.statePath } : {}),
    fleet: input.fleetFile,
  });
  const driverFor = input.driverFor ?? defaultDriverFor;
  const fleetId = fleetIdentity(fleet);

  // A PostgreSQL store: an unfinished run of this fleet and target is resumed, or waited for as a
  // standby while another engine leads it (docs/ha.md); the host lock is taken once this engine
  // leads (resumeHolding), since on this host a former leader may still hold it.
  const networked = isStoreUrl(statePath);
  let lastCompleted: string | undefined;
  if (networked) {
    // opened read-write: its schema is made before it is read
    const peek = openStore(statePath);
    let existing: string | undefined;
    let other: RunRecord | undefined;
    try {
      existing = (await peek.findUnfinishedRun(fleet.name, plan.target, fleetId))?.id;
      lastCompleted = (await peek.listRuns()).find(
        (r) => r.fleetId === fleetId && r.target === plan.target && r.state === "completed",
      )?.id;
      if (!existing) other = await peek.findUnfinishedRun(undefined, undefined, fleetId);
    } finally {
      await peek.close();
    }
    if (existing)
      return await resumeHolding({ ...input, statePath, runId: existing, limit: plan.limit ?? [] }, early);
    refuseOtherUnfinished(other, plan, input.fleetFile);
  }

  // One engine per server on this host (whatever the fleet file, a copy of it, or the state
  // file), taken before the journal is read, the servers observed or a person asked, so that a
  // second engine is refused before any of these; released on every way out.
  const lock = await early.raced(
    (async () => acquireHostLock(realpathSync(input.fleetFile), await fleetClaims(fleet, input.fleetFile)))(),
  );
  try {
    // An unfinished run of this fleet (by its servers, not its name) and target is resumed.
    if (!networked && existsSync(statePath)) {
      const peek = openStore(statePath, { readonly: true });
      const existing = await peek.findUnfinishedRun(fleet.name, plan.target, fleetId);
      lastCompleted = (await peek.listRuns()).find(
        (r) => r.fleetId === fleetId && r.target === plan.target && r.state === "completed",
      )?.id;
      const other = existing ? undefined : await peek.findUnfinishedRun(undefined, undefined, fleetId);
      await peek.close();
      refuseOtherUnfinished(other, plan, input.fleetFile);
      if (existing)
        return await resumeHolding(
          { ...input, statePath, runId: existing.id, limit: plan.limit ?? [] },
          early,
          {
            fleet,
            lock,
          },
        );
    }
    return await startRun(input, fleet, plan, statePath, driverFor, lastCompleted, early);
  } finally {
    lock.release();
  }
}

/**
 * One unfinished run per fleet (by its servers): a run to another target (or a rollback) while one
 * is halted, escalated or paused would act on servers that run is part way through. Refused before
 * anything is observed or asked; the way on is to resume that run or abort it.
 */
function refuseOtherUnfinished(other: RunRecord | undefined, plan: Plan, fleetFile: string): void {
  if (other)
    throw unfinishedRunError(other, plan.rollback ? "a rollback" : `a run to ${plan.target}`, fleetFile);
}

/**
 * An unfinished run of this fleet (by its servers) and target keeps its `--limit`: apply with
 * another limit, or none, is refused here, before the whole fleet is planned (a fleet part way
 * through a limited run would otherwise be reported as drift). Read-only; nothing is done.
 */
async function refuseOtherLimitFirst(input: ApplyInput, fleet: Fleet): Promise<void> {
  if (input.limit === undefined) return;
  const statePath = statePathFrom({
    ...(input.statePath ? { state: input.statePath } : {}),
    fleet: input.fleetFile,
  });
  if (!existsSync(statePath)) return;
  const specs = input.targets;
  const target = specs.length === 1 && !specs[0]!.includes("=") ? specs[0]!.trim() : specs.join(",");
  const peek = openStore(statePath, { readonly: true });
  try {
    const existing = await peek.findUnfinishedRun(fleet.name, target, fleetIdentity(fleet));
    if (existing) refuseOtherLimit(existing.id, await peek.getPlan(existing.id), input.limit);
  } finally {
    await peek.close();
  }
}

async function startRun(
  input: ApplyInput,
  fleet: Fleet,
  plan: Plan,
  statePath: string,
  driverFor: (c: Cluster) => Driver,
  lastCompleted: string | undefined,
  early: EarlySignals,
): Promise<DriveResult> {
  await early.raced(preflight(fleet, plan, driverFor, lastCompleted, input.fleetFile));
  input.onPlan?.(plan, { resumed: false });
  if (!input.yes) {
    if (!input.ask) {
      // Not a usage error: the command line is valid, and nobody said yes (docs/errors.md).
      throw new RollgateError(
        "ROLLGATE_E_DECLINED",
        "no terminal to ask for confirmation and no --yes: the plan was not applied; pass --yes to apply the plan shown",
      );
    }
    // A SIGINT or SIGTERM while the question is open ends the operation at once (nothing is
    // written yet): the question is withdrawn, its answer never waited for.
    const yes = await early
      .raced(input.ask(`Apply this plan to ${fleet.name} (${plan.steps.length} steps)?`, early.questions))
      .catch((e: unknown) => {
        // Ctrl-C typed at the question (the terminal is in raw mode, so no SIGINT): a no
        if ((e as Error)?.name === "AbortError") return false;
        throw e;
      });
    if (!yes) {
      throw new RollgateError("ROLLGATE_E_DECLINED", "the plan was not applied");
    }
  }
  early.check();
  const store = openStore(statePath);
  let keeper: LeaseKeeper | undefined;
  try {
    await store.acquireEngineLock(fleet.name, { pid: process.pid, host: hostname() });
    const created = await store.createRun({
      fleet: fleet.name,
      fleetFile: resolve(input.fleetFile),
      target: plan.target,
      plan,
      fleetId: fleetIdentity(fleet),
    });
    // the run's lease (a state file: its engine lock, held already); in PostgreSQL the fleet's
    // engine lock covered the run's creation, and from here the lease stands for it (docs/ha.md)
    const got = await holdLease(store, created.id);
    if ("finished" in got) throw new Error(`run ${created.id} finished before it started`);
    keeper = got.keeper;
    if (isStoreUrl(statePath)) await store.releaseEngineLock(fleet.name, process.pid);
    for (const e of await store.events(got.run.id)) input.onEvent?.(e);
    return await drive(store, got.run, fleet, plan, statePath, input, early, keeper);
  } finally {
    await keeper?.release();
    await store.releaseEngineLock(fleet.name, process.pid);
    await store.close();
  }
}
