import { isRelease } from "./judge.ts";
import { installEffect } from "./faults.ts";
import {
  joinRefusal,
  levelWords,
  managementRefusal,
  mountRefusal,
  passRefusal,
  unsupportedRollingInstall,
} from "./matrix-rules.ts";
import type { ActionReply, ActionRequest, SimServer } from "./types.ts";
import type { LabWorld } from "./world.ts";

/**
 * The per-server procedure of a matrix (M9) or generic appliance: disable, backup, stop, install,
 * start, verify, set-mode (M11: a matrix with modes), and the management operations
 * mount/unmount/enable. A polyserve-matrix server
 * also applies the matrix's behaviour (matrix-rules.ts): M4/M10 at start, M5 at mount, M7 for
 * management operations, M3 after every membership change.
 */
export const SERVER_ACTIONS = [
  "disable",
  "enable",
  "backup",
  "stop",
  "install",
  "set-mode",
  "start",
  "verify",
  "mount",
  "unmount",
] as const;

export function performServerAction(w: LabWorld, s: SimServer, req: ActionRequest): ActionReply {
  const c = s.cluster;
  const matrix = c.pack === "polyserve-matrix";
  const action = req.action;
  if (!(SERVER_ACTIONS as readonly string[]).includes(action))
    return w.refuse(
      s,
      action,
      400,
      "unknown-action",
      `a ${c.pack} server has no action "${action}" (actions: ${SERVER_ACTIONS.join(", ")})`,
    );
  if (s.activity) {
    const a = s.activity;
    if (
      a.action === action &&
      (action !== "install" || a.release === req.release) &&
      (action !== "set-mode" || a.mode === req.mode)
    )
      return w.joinActivity(s, a);
    return w.refuse(
      s,
      action,
      409,
      "busy",
      `${s.name} is busy: ${a.action}${a.release ? ` ${a.release}` : ""}${a.mode ? ` ${a.mode}` : ""} in progress`,
    );
  }
  switch (action) {
    case "backup":
      return w.begin(s, s, action, w.ms(c, "backup"), () => {
        s.backups++;
        return undefined;
      });
    case "stop":
      if (s.software === "stopped") return w.done(s, action, `${s.name} is already stopped`, true);
      return w.begin(s, s, action, w.ms(c, "stop"), () => {
        s.software = "stopped";
        s.mounts.clear();
        s.isolated = false;
        s.isolatedReason = undefined;
        s.outSince = w.now();
        w.note(s, "stopped");
        if (matrix) w.reevaluateMatrix(c);
        return undefined;
      });
    case "install":
      return install(w, s, req);
    case "set-mode":
      return setMode(w, s, req);
    case "start":
      return start(w, s);
    case "verify":
      return w.begin(s, s, action, w.ms(c, "verify"), () => {
        const problems: string[] = [];
        if (s.software !== "running") problems.push(`${s.name} is ${s.software}`);
        if (s.isolated) problems.push(`${s.name} is isolated: ${s.isolatedReason}`);
        if (problems.length === 0) return w.done(s, action, `${s.name} runs ${levelWords(s)} in the matrix`);
        return {
          status: 409,
          body: {
            ok: false,
            code: "verify-failed",
            rule: s.isolated ? "M3" : "M9",
            message: problems.join("; "),
          },
        };
      });
    default:
      return management(w, s, req);
  }
}

function install(w: LabWorld, s: SimServer, req: ActionRequest): ActionReply {
  const c = s.cluster;
  const release = req.release;
  if (!release || !isRelease(release))
    return w.refuse(s, "install", 400, "bad-request", "install needs a release such as 3.5.1");
  if (release === s.release) return w.done(s, "install", `${s.name} already runs ${release}`, true);
  if (s.software === "running")
    return w.refuse(
      s,
      "install",
      409,
      "running",
      `${s.name} is running: stop its software before installing ${release}`,
      c.pack === "polyserve-matrix" ? "M9" : undefined,
    );
  if (c.pack === "polyserve-matrix") {
    const running = c.servers.filter((o) => o !== s && o.software === "running");
    const why = unsupportedRollingInstall(s, release, running);
    if (why) return w.refuse(s, "install", 409, "unsupported-path", why, "M8");
    const m11 = passRefusal(s, { release }, c.servers);
    if (m11) return w.refuse(s, "install", 409, "pass-unfinished", m11, "M11");
  }
  const effect = installEffect(s.faults.values());
  for (const f of [...s.faults.values()])
    if (f.once && ["install-fails", "install-hangs", "slow-install"].includes(f.kind))
      s.faults.delete(f.kind);
  const from = s.release;
  s.installs++;
  s.software = "installing";
  s.lastInstall = { release, result: "running", at: w.iso() };
  w.note(s, `installing ${release}`);
  return w.begin(
    s,
    s,
    "install",
    effect.hangs ? null : w.ms(c, "install", effect.factor),
    () => {
      s.software = "stopped";
      if (effect.fails) {
        s.lastInstall = { release, result: "failed", at: w.iso() };
        w.note(s, `install of ${release} failed`);
        return {
          status: 409,
          body: {
            ok: false,
            code: "install-failed",
            message: `the install of ${release} on ${s.name} failed; ${s.name} still has ${from}`,
          },
        };
      }
      s.release = release;
      s.package = release;
      s.lastInstall = { release, result: "ok", at: w.iso() };
      w.note(s, `installed ${release}`);
      return undefined;
    },
    {
      release,
      interrupt: () => {
        s.lastInstall = { release, result: "interrupted", at: w.iso() };
      },
    },
  );
}

/**
 * M11: a matrix server's operating mode set, its software stopped (as an install, M9); the mode
 * change is one pass of its own: refused while the matrix runs two releases, or changes mode to
 * another mode already. A mode the matrix never had becomes the newest of its history.
 */
function setMode(w: LabWorld, s: SimServer, req: ActionRequest): ActionReply {
  const c = s.cluster;
  const mode = req.mode;
  if (c.pack !== "polyserve-matrix" || s.mode === undefined)
    return w.refuse(
      s,
      "set-mode",
      409,
      "no-modes",
      `${s.name} has no operating modes: only a matrix whose fleet file names its mode has (M11)`,
    );
  if (typeof mode !== "string" || !/^[a-z][a-z0-9-]{0,39}$/.test(mode))
    return w.refuse(s, "set-mode", 400, "bad-request", "set-mode needs a mode such as extended");
  if (mode === s.mode) return w.done(s, "set-mode", `${s.name} already runs in mode ${mode}`, true);
  if (s.software === "running")
    return w.refuse(
      s,
      "set-mode",
      409,
      "running",
      `${s.name} is running: stop its software before setting its mode to ${mode}`,
      "M9",
    );
  const m11 = passRefusal(s, { mode }, c.servers);
  if (m11) return w.refuse(s, "set-mode", 409, "pass-unfinished", m11, "M11");
  const from = s.mode;
  s.software = "installing";
  w.note(s, `setting mode ${mode}`);
  return w.begin(
    s,
    s,
    "set-mode",
    w.ms(c, "set-mode"),
    () => {
      s.software = "stopped";
      if (!c.modes.includes(mode)) c.modes.push(mode);
      s.mode = mode;
      s.modeRank = c.modes.indexOf(mode);
      w.note(s, `mode ${mode} (was ${from})`);
      return undefined;
    },
    {
      mode,
      interrupt: () => {
        s.software = "stopped";
      },
    },
  );
}

function start(w: LabWorld, s: SimServer): ActionReply {
  const c = s.cluster;
  if (s.software === "running") return w.done(s, "start", `${s.name} is already running`, true);
  if (c.pack === "polyserve-matrix") {
    const others = w.running(c).filter((o) => o !== s);
    const refusal = joinRefusal({
      joiner: s,
      others,
      floor: c.floor,
      mixedSince: c.mixedSince,
      outSince: s.outSince,
    });
    if (refusal) return w.refuse(s, "start", 409, "join-refused", refusal.message, refusal.rule);
  }
  return w.begin(s, s, "start", w.ms(c, "start"), () => {
    s.software = "running";
    s.disabled = false;
    s.outSince = null;
    if (c.pack === "polycom-dma") s.loginAt = w.now();
    w.note(s, "started");
    if (c.pack === "polyserve-matrix") {
      for (const fs of [...s.wantMounts].sort()) {
        const r = mountRefusal(fs, s, mounters(s, fs));
        if (r) {
          w.journal.add({
            kind: "refused",
            server: s.name,
            cluster: c.name,
            action: "mount",
            rule: r.rule,
            detail: r.message,
          });
          w.journal.violation(r.rule, `automatic mount at start: ${r.message}`, {
            server: s.name,
            cluster: c.name,
          });
        } else s.mounts.add(fs);
      }
      w.reevaluateMatrix(c);
    } else for (const fs of s.wantMounts) s.mounts.add(fs);
    return undefined;
  });
}

function mounters(s: SimServer, fs: string): SimServer[] {
  return s.cluster.servers.filter((o) => o !== s && o.mounts.has(fs) && o.software === "running" && !o.down);
}

/** disable, enable, mount, unmount: matrix management operations, optionally aimed at another server. */
function management(w: LabWorld, r: SimServer, req: ActionRequest): ActionReply {
  const c = r.cluster;
  const action = req.action;
  const matrix = c.pack === "polyserve-matrix";
  const t = req.server ? c.servers.find((x) => x.name === req.server) : r;
  if (!t) return w.refuse(r, action, 404, "unknown-server", `${req.server} is not a server of ${c.name}`);
  if (t !== r && t.activity)
    return w.refuse(r, action, 409, "busy", `${t.name} is busy: ${t.activity.action} in progress`);
  const needsRunning = action === "mount" || action === "unmount" || t !== r;
  if (needsRunning && r.software !== "running")
    return w.refuse(
      r,
      action,
      409,
      "not-running",
      `the software is ${r.software} on ${r.name}: management operations need a running server`,
    );
  if (matrix && r.software === "running") {
    const m7 = managementRefusal(r, w.running(c));
    if (m7) return w.refuse(r, action, 409, "manage-through-old", m7.message, m7.rule);
  }
  switch (action) {
    case "disable":
    case "enable": {
      const want = action === "disable";
      if (t.disabled === want) return w.done(r, action, `${t.name} is already ${action}d`, true);
      return w.begin(r, r, action, w.ms(c, action), () => {
        t.disabled = want;
        return undefined;
      });
    }
    default: {
      const fs = req.filesystem;
      if (!fs) return w.refuse(r, action, 400, "bad-request", `${action} needs a filesystem`);
      if (!c.filesystems.includes(fs))
        return w.refuse(r, action, 404, "unknown-filesystem", `${c.name} has no filesystem ${fs}`);
      if (t.software !== "running")
        return w.refuse(
          r,
          action,
          409,
          "not-running",
          `${t.name} is ${t.software}: it cannot ${action} ${fs}`,
        );
      if (action === "unmount") {
        if (!t.mounts.has(fs)) return w.done(r, action, `${fs} is not mounted on ${t.name}`, true);
        return w.begin(r, r, action, w.ms(c, action), () => {
          t.mounts.delete(fs);
          t.wantMounts.delete(fs);
          return undefined;
        });
      }
      if (t.mounts.has(fs)) return w.done(r, action, `${fs} is already mounted on ${t.name}`, true);
      if (matrix) {
        const m5 = mountRefusal(fs, t, mounters(t, fs));
        if (m5) return w.refuse(r, action, 409, "mount-refused", m5.message, m5.rule);
      }
      return w.begin(r, r, action, w.ms(c, action), () => {
        t.mounts.add(fs);
        t.wantMounts.add(fs);
        return undefined;
      });
    }
  }
}
