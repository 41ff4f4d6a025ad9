import { stringify } from "yaml";
import type { CompatibilityPolicy } from "../model/compatibility.ts";
import { RollgateError } from "../model/errors.ts";
import { parseFleetText } from "../model/fleet-file.ts";
import type { Cluster, Fleet, OrderSpec } from "../model/fleet.ts";
import { ESTIMATE_KEYS } from "../model/fleet-schema.ts";
import { allEstimates } from "../model/estimates.ts";
import { MAX_SPEED, MIN_SPEED } from "./speed-bounds.ts";

export { MAX_SPEED, MIN_SPEED };

/** Why `speed` is not a lab speed for `fleet`, or undefined when it is. */
export function speedProblem(fleet: Fleet, speed: number): string | undefined {
  if (!Number.isFinite(speed) || speed < MIN_SPEED || speed > MAX_SPEED)
    return `--speed ${speed} is not between ${MIN_SPEED} and ${MAX_SPEED}`;
  // Every estimate divided by the speed must still be a duration a fleet file accepts (at most 7d):
  // the derived fleet file is read back by `rollgate plan`/`apply`.
  const text = derivedFleetDocument(fleet, { speed, driverUrl: "http://127.0.0.1:1/servers/{name}" });
  const parsed = parseFleetText(text, "the derived fleet file");
  if (!parsed.ok) {
    const d = parsed.diagnostics[0]!;
    return `--speed ${speed} would make the lab's derived fleet file invalid: ${d.path}: ${d.message}`;
  }
  return undefined;
}

/** Throws ROLLGATE_E_USAGE (exit 2) when `speed` is not a lab speed for `fleet`; nothing is written. */
export function checkSpeed(fleet: Fleet, speed: number): void {
  const problem = speedProblem(fleet, speed);
  if (problem) throw new RollgateError("ROLLGATE_E_USAGE", problem);
}

/**
 * The derived fleet file a lab writes: the same fleet (names, ORIGINAL addresses — the planner
 * orders by the matrix-known address, M2), every cluster's driver pointing at the lab's control
 * address, which redirects /servers/<name>/… to that server's own loopback address, and every
 * estimate divided by the speed, so that `rollgate plan`/`apply` against it see the lab's timing.
 */
export function derivedFleetDocument(fleet: Fleet, options: { speed: number; driverUrl: string }): string {
  const { speed } = options;
  const doc: Record<string, unknown> = {
    apiVersion: "rollgate/v1",
    fleet: fleet.name,
    defaults: {
      capacityFloor: fleet.defaults.capacityFloor,
      maxMixedWindow: scaled(fleet.defaults.maxMixedWindow, speed),
      ...(fleet.defaults.compatibility ? { compatibility: policyToFile(fleet.defaults.compatibility) } : {}),
    },
    clusters: fleet.clusters.map((c) => clusterToFile(c, options)),
  };
  if (fleet.superclusters.length)
    doc.superclusters = fleet.superclusters.map((s) => ({
      name: s.name,
      pack: s.pack,
      clusters: [...s.clusters],
      ...(s.territories.length ? { territories: s.territories.map((t) => ({ ...t })) } : {}),
    }));
  // the fleet's webhooks too: a rehearsal on the lab notifies as the real upgrade would
  if (fleet.notify?.length)
    doc.notify = fleet.notify.map((w) => ({
      url: w.url,
      ...(w.format !== "json" ? { format: w.format } : {}),
      ...(w.secretEnv ? { secretEnv: w.secretEnv } : {}),
      ...(w.events ? { events: [...w.events] } : {}),
    }));
  const header = [
    "# Written by `rollgate lab up`: the fleet as the lab simulates it. Do not edit; it is rewritten",
    `# at every start. Estimates are the fleet's divided by the lab's speed (${speed}).`,
  ].join("\n");
  return `${header}\n${stringify(doc, { lineWidth: 0 })}`;
}

function clusterToFile(c: Cluster, options: { speed: number; driverUrl: string }): Record<string, unknown> {
  const estimates: Record<string, string> = {};
  const all = allEstimates(c);
  for (const k of ESTIMATE_KEYS) if (all[k] !== undefined) estimates[k] = scaled(all[k]!, options.speed);
  const out: Record<string, unknown> = { name: c.name, pack: c.pack, version: c.version };
  if (c.capacity !== 1) out.capacity = c.capacity;
  out.estimates = estimates;
  if (c.maxUnavailable !== undefined) out.maxUnavailable = c.maxUnavailable;
  if (c.order) out.order = orderToFile(c.order);
  if (c.compatibility) out.compatibility = policyToFile(c.compatibility);
  // M11: the matrix's mode and declared passes, as the fleet says them
  if (c.mode !== undefined) out.mode = c.mode;
  if (c.passes) out.passes = c.passes.map((p) => (p.kind === "release" ? "release" : { mode: p.mode }));
  out.servers = c.servers.map((s) => ({
    name: s.name,
    address: s.address,
    ...(s.interfaces.length !== 1 || s.interfaces[0] !== s.address ? { interfaces: [...s.interfaces] } : {}),
    ...(s.version !== c.version ? { version: s.version } : {}),
    ...(s.capacity !== 1 ? { capacity: s.capacity } : {}),
    ...(s.role !== undefined ? { role: s.role } : {}),
    ...(s.mode !== undefined && s.mode !== c.mode ? { mode: s.mode } : {}),
  }));
  if (c.filesystems.length)
    out.filesystems = c.filesystems.map((f) => ({ name: f.name, mountedOn: [...f.mountedOn] }));
  // The fleet's own observation timeout is kept (a network setting, not a simulated duration).
  const timeout = c.driver?.http?.timeout;
  out.driver = { http: { url: options.driverUrl, ...(timeout ? { timeout: `${timeout}s` } : {}) } };
  return out;
}

/** seconds ÷ speed as a duration the fleet file accepts ("1500ms", "90s"). */
export function scaled(seconds: number, speed: number): string {
  const ms = Math.round((seconds * 1000) / speed);
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}

function policyToFile(p: CompatibilityPolicy): unknown {
  switch (p.kind) {
    case "same-major-minor":
    case "same-major":
      return p.kind;
    case "minor-distance":
      return { minorDistance: p.max };
    case "table":
      return { table: p.pairs.map(([a, b]) => [a, b]) };
  }
}

function orderToFile(o: OrderSpec): unknown {
  switch (o.by) {
    case "address":
      return `address-${o.direction}`;
    case "name":
      return "name";
    case "role":
      return { roleLast: [...o.last] };
    case "list":
      return { list: [...o.servers] };
  }
}
