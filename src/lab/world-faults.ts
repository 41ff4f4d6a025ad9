import { type FaultSpec, isFaultKind } from "./faults.ts";
import type { SimServer } from "./types.ts";
import type { LabWorld } from "./world.ts";

export type FaultReply =
  | { ok: true; server: string; kind: string }
  | { ok: false; code: string; message: string };

/** Tells the HTTP layer a server's reachability changed (LabWorld's listener). */
type EmitReach = (s: SimServer) => void;

/** A fault injected on a server (`lab fault`): journaled, then in effect. */
export function injectFault(
  w: LabWorld,
  serverName: string,
  spec: FaultSpec,
  emitReach: EmitReach,
): FaultReply {
  const s = w.servers.get(serverName);
  if (!s) return { ok: false, code: "unknown-server", message: `no server named ${serverName}` };
  if (!isFaultKind(spec.kind)) return { ok: false, code: "unknown-fault", message: `no fault ${spec.kind}` };
  w.journal.add({
    kind: "fault",
    server: s.name,
    cluster: s.cluster.name,
    detail: `fault ${spec.kind}${spec.factor ? ` ×${spec.factor}` : ""}${spec.once ? " (once)" : ""} on ${s.name}`,
  });
  switch (spec.kind) {
    case "crash":
      crash(w, s, spec.factor ?? 1, emitReach);
      break;
    case "clear":
      s.faults.clear();
      s.net = "ok";
      s.cluster.dashboardMissing.delete(s.name);
      if (s.down) {
        if (s.rebootHandle !== undefined) w.scheduler.cancel(s.rebootHandle);
        reboot(w, s, emitReach);
      }
      emitReach(s);
      break;
    case "unreachable-refuse":
    case "unreachable-drop":
      s.net = spec.kind === "unreachable-refuse" ? "refuse" : "drop";
      s.faults.set(spec.kind, { kind: spec.kind, since: w.now() });
      s.faults.delete(spec.kind === "unreachable-refuse" ? "unreachable-drop" : "unreachable-refuse");
      emitReach(s);
      break;
    default:
      s.faults.set(spec.kind, {
        kind: spec.kind,
        since: w.now(),
        ...(spec.factor !== undefined ? { factor: spec.factor } : {}),
        ...(spec.once ? { once: true } : {}),
      });
  }
  w.note(s, `fault ${spec.kind}`);
  return { ok: true, server: s.name, kind: spec.kind };
}

function crash(w: LabWorld, s: SimServer, factor: number, emitReach: EmitReach): void {
  if (s.down) return;
  const c = s.cluster;
  // An interrupted matrix install leaves the software stopped; a DMA appliance boots its services.
  s.autostart = s.software === "running" || (c.pack === "polycom-dma" && s.software === "installing");
  if (s.activity) w.interrupt(s, s, "the server crashed");
  if (c.activity) w.interrupt(c, s, `${s.name} crashed`);
  s.down = true;
  s.software = "stopped";
  s.mounts.clear();
  s.isolated = false;
  s.isolatedReason = undefined;
  s.outSince = w.now();
  emitReach(s);
  w.note(s, "crashed");
  if (c.pack === "polyserve-matrix") w.reevaluateMatrix(c);
  const rebootMs = w.ms(c, "start", factor);
  s.rebootHandle = w.scheduler.after(rebootMs, () => reboot(w, s, emitReach));
}

function reboot(w: LabWorld, s: SimServer, emitReach: EmitReach): void {
  s.rebootHandle = undefined;
  s.down = false;
  emitReach(s);
  w.note(s, "rebooted");
  if (!s.autostart) return;
  s.autostart = false;
  // The software starts by itself, as after any reboot (M4: it may be refused).
  w.perform(s.name, { action: "start" }, "console");
}
