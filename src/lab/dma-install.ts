import { journalCluster, releasesOf, up } from "./dma-cluster.ts";
import { judgeSuperclusters } from "./dma-judge.ts";
import { dmaObservation } from "./dma-observe.ts";
import { installEffect } from "./faults.ts";
import { compareReleases, isRelease, releasesMayMeet } from "./judge.ts";
import type { ActionReply, ActionRequest, SimCluster, SimServer } from "./types.ts";
import type { LabWorld } from "./world.ts";

type Effect = ReturnType<typeof installEffect>;

/** install: runs on every server of the cluster; login comes back after install + settle. */
export function install(w: LabWorld, s: SimServer, req: ActionRequest): ActionReply {
  const c = s.cluster;
  const release = req.release;
  if (!release || !isRelease(release))
    return w.refuse(s, "install", 400, "bad-request", "install needs a release such as 10.1.0");
  if (c.servers.every((x) => x.release === release))
    return w.done(s, "install", `${c.name} already runs ${release}`, true);
  const refused = rollbackRefusal(w, s, release, req.rollback === true) ?? installRefusal(w, s, release);
  if (refused) return refused;
  const rollback = req.rollback === true;
  // D8b: the servers this install leaves off the dashboard (a fault given `once` strikes it only)
  const missing = c.servers.filter((x) => x.faults.has("dashboard-missing")).map((x) => x.name);
  const effect = takeInstallFaults(c);
  const from = new Map(c.servers.map((x) => [x.name, x.release]));
  for (const x of c.servers) {
    x.installs++;
    x.backups++; // D7: the install takes a backup by itself
    x.software = "installing";
    x.lastInstall = { release, result: "running", at: w.iso() };
    w.note(x, `installing ${release}`);
  }
  const settle = w.ms(c, "settle");
  return w.begin(
    c,
    s,
    "install",
    effect.hangs ? null : w.ms(c, "install", effect.factor),
    () => finishInstall(w, c, release, effect, settle, [...new Set(from.values())], rollback, missing),
    { release, interrupt: () => interruptInstall(w, c, release, settle) },
  );
}

/**
 * D9: an older release comes back only as the rollback of the cluster's last applied upgrade, to
 * the release before it; a rollback of an older upgrade, a second step back, or a plain install of
 * an older release is refused.
 */
function rollbackRefusal(
  w: LabWorld,
  s: SimServer,
  release: string,
  rollback: boolean,
): ActionReply | undefined {
  const c = s.cluster;
  const runs = releasesOf(c);
  const older = runs.every((r) => compareReleases(release, r) < 0);
  if (!rollback) {
    if (!older) return undefined;
    return w.refuse(
      s,
      "install",
      409,
      "downgrade-refused",
      `${c.name} runs ${runs.join(", ")}: an older release comes back only by a rollback of the last applied upgrade (D9)${c.rollbackTo ? `, to ${c.rollbackTo.release}` : ""}`,
      "D9",
    );
  }
  if (!c.rollbackTo)
    return w.refuse(
      s,
      "install",
      409,
      "rollback-refused",
      `${c.name} has no upgrade to roll back: only the last applied upgrade can be rolled back, once (D9)`,
      "D9",
    );
  if (compareReleases(release, c.rollbackTo.release) !== 0)
    return w.refuse(
      s,
      "install",
      409,
      "rollback-refused",
      `${c.name}'s last applied upgrade came from ${c.rollbackTo.release}: only that upgrade can be rolled back, not to ${release} (D9)`,
      "D9",
    );
  return undefined;
}

/** A member of a supercluster installs only a release compatible with its own (D4); every server up. */
function installRefusal(w: LabWorld, s: SimServer, release: string): ActionReply | undefined {
  const c = s.cluster;
  if (c.supercluster) {
    const incompatible = releasesOf(c).filter((r) => !releasesMayMeet(r, release, c.policy));
    if (incompatible.length)
      return w.refuse(
        s,
        "install",
        409,
        "member-incompatible",
        `${c.name} is a member of ${c.supercluster}: it cannot install ${release}, incompatible with ${incompatible.join(", ")}, while a member of a supercluster`,
        "D4",
      );
  }
  const offline = c.servers.filter((x) => !up(x)).map((x) => x.name);
  if (offline.length)
    return w.refuse(
      s,
      "install",
      409,
      "server-offline",
      `the install runs on every server; offline: ${offline.join(", ")}`,
    );
  return undefined;
}

/** The install's faults on every server; those that strike once are used up. */
function takeInstallFaults(c: SimCluster): Effect {
  const faults = c.servers.flatMap((x) => [...x.faults.values()]);
  const effect = installEffect(faults);
  for (const x of c.servers)
    for (const f of [...x.faults.values()])
      if (f.once && ["install-fails", "install-hangs", "slow-install", "dashboard-missing"].includes(f.kind))
        x.faults.delete(f.kind);
  return effect;
}

function finishInstall(
  w: LabWorld,
  c: SimCluster,
  release: string,
  effect: Effect,
  settle: number,
  from: string[],
  rollback = false,
  missing: readonly string[] = [],
): ActionReply | undefined {
  const now = w.now();
  const before = c.dataStore;
  // the dashboard as this install leaves it: a server it left off comes back with the next good one
  if (!effect.fails) c.dashboardMissing.clear();
  for (const x of c.servers) {
    x.software = "running";
    x.loginAt = now + settle;
    if (effect.fails) {
      x.lastInstall = { release, result: "failed", at: w.iso() };
    } else {
      if (!x.faults.has("package-mismatch")) {
        x.release = release;
        x.package = release;
      }
      x.lastInstall = { release, result: "ok", at: w.iso() };
      if (missing.includes(x.name)) c.dashboardMissing.add(x.name);
    }
    w.note(x, effect.fails ? `install of ${release} failed` : `installed ${release}`);
  }
  if (effect.fails)
    return {
      status: 409,
      body: {
        ok: false,
        code: "install-failed",
        message: `the install of ${release} on ${c.name} failed; it still has ${from.join(", ")}`,
      },
    };
  c.upgradedAt = now;
  if (rollback && c.rollbackTo) {
    // D9: the data store as it was before the upgrade; what was written since is lost
    c.dataStore = {
      origin: c.rollbackTo.dataStore.origin,
      lineage: [
        ...c.rollbackTo.dataStore.lineage,
        `restored to its state before the upgrade to ${from.join(", ")} by a rollback to ${release} at ${w.iso()} (data written since then is lost)`,
      ],
    };
    c.rollbackTo = null;
    journalCluster(
      w,
      c,
      `${c.name} rolled back to ${release}: its data store is the one from before the upgrade (D9)`,
    );
  } else if (from.length === 1) {
    c.rollbackTo = { release: from[0]!, dataStore: { origin: before.origin, lineage: [...before.lineage] } };
  }
  return undefined;
}

function interruptInstall(w: LabWorld, c: SimCluster, release: string, settle: number): void {
  for (const x of c.servers) {
    x.lastInstall = { release, result: "interrupted", at: w.iso() };
    if (!x.down) {
      x.software = "running";
      x.loginAt = w.now() + settle;
    }
    w.note(x, "install interrupted");
  }
}

/**
 * D8's verification. With `supercluster`, a verified cluster that is in no supercluster founds
 * that one as its first member (D6: "the first upgraded cluster founds it"; the others join it).
 */
export function verify(w: LabWorld, s: SimServer, req: ActionRequest): ActionReply {
  const c = s.cluster;
  const founds =
    typeof req.supercluster === "string" && req.supercluster !== "" ? req.supercluster : undefined;
  if (founds && c.supercluster === null && w.superclusters.has(founds))
    return w.refuse(s, "verify", 409, "supercluster-exists", `a supercluster named ${founds} already exists`);
  return w.begin(c, s, "verify", w.ms(c, "verify"), () => {
    const obs = dmaObservation(w, s);
    const fail = (rule: string, message: string): ActionReply => ({
      status: 409,
      body: { ok: false, code: "verify-failed", rule, message },
    });
    if (!obs.login) return fail("D8a", `cannot log in to ${c.name}`);
    if ((obs.dashboard?.length ?? 0) < c.servers.length)
      return fail(
        "D8b",
        `the dashboard shows ${obs.dashboard?.join(", ") || "no server"} of ${c.servers.map((x) => x.name).join(", ")}`,
      );
    const versions = new Set(Object.values(obs.packages ?? {}));
    if (versions.size > 1)
      return fail(
        "D8c",
        `package versions differ: ${Object.entries(obs.packages ?? {})
          .map(([k, v]) => `${k} ${v}`)
          .join(", ")}`,
      );
    if (founds && c.supercluster === null && !w.superclusters.has(founds)) {
      w.superclusters.set(founds, { name: founds, members: [c.name], founder: c.name, territories: [] });
      c.supercluster = founds;
      c.leftSupercluster = null;
      journalCluster(w, c, `${c.name} founded ${founds} (members: ${c.name})`);
      judgeSuperclusters(w);
    }
    return w.done(s, "verify", `${c.name} runs ${releasesOf(c).join(", ")}, clustered`);
  });
}
