import { dmaObservation } from "./dma.ts";
import type { ApplianceStatus } from "./types.ts";
import type { LabWorld } from "./world.ts";

/** What a server's status endpoint reports: the common part, then its pack's. */
export function observeServer(w: LabWorld, serverName: string): ApplianceStatus | undefined {
  const s = w.servers.get(serverName);
  if (!s) return undefined;
  const c = s.cluster;
  const a = s.activity ?? c.activity;
  const base: ApplianceStatus = {
    server: s.name,
    cluster: c.name,
    address: s.address,
    pack: c.pack,
    state: w.stateOf(s),
    release: s.release,
    ...(s.mode !== undefined ? { mode: s.mode } : {}),
    backups: s.backups,
    activity: a
      ? {
          action: a.action,
          ...(a.release ? { release: a.release } : {}),
          ...(a.mode ? { mode: a.mode } : {}),
          startedAt: w.iso(a.startedAt),
          endsAt: a.endsAt === null ? null : w.iso(a.endsAt),
        }
      : null,
    ...(s.lastInstall ? { lastInstall: { ...s.lastInstall } } : {}),
  };
  if (c.pack === "polycom-dma") return { ...base, ...dmaObservation(w, s) };
  const running = w.running(c);
  const members =
    s.software !== "running" || s.down
      ? []
      : s.isolated
        ? [s.name]
        : running.filter((m) => !m.isolated).map((m) => m.name);
  return {
    ...base,
    disabled: s.disabled,
    members,
    mounts: [...s.mounts].sort(),
    ...(s.isolatedReason && s.isolated ? { isolatedReason: s.isolatedReason } : {}),
  };
}
