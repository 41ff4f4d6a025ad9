import type { Diagnostic } from "../model/errors.ts";
import type { PackName } from "../model/fleet.ts";
import type { FleetFile } from "../model/fleet-schema.ts";

/** The options and result of an import (to-fleet.ts re-exports them), the variables rollgate reads, names. */
export interface ImportOptions {
  /** cluster: each leaf group becomes a cluster; supercluster: also each parent of leaf groups a DMA supercluster. */
  groupAs: "cluster" | "supercluster";
  /** The pack of hosts whose variables name none (rollgate_pack wins). */
  pack?: PackName;
  /** The release of hosts whose variables name none (rollgate_version wins). */
  version?: string;
  /** The fleet's name (else the `all` group's rollgate_fleet, else the file's base name). */
  fleet?: string;
}

export type ImportResult =
  | { ok: true; text: string; fleet: FleetFile; notes: string[] }
  | { ok: false; diagnostics: Diagnostic[]; notes: string[] };

/** The variables rollgate reads (docs/import.md). */
export const VARS = {
  pack: "rollgate_pack",
  version: "rollgate_version",
  capacity: "rollgate_capacity",
  role: "rollgate_role",
  fleet: "rollgate_fleet",
  address: "ansible_host",
} as const;

/** A variable as a host sees it: its value, the line that set it, and the field (path) named in a finding. */
export interface Resolved {
  value: unknown;
  line: number;
  path: string;
}

export const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * A name rollgate accepts: accents dropped (`dbé` is `dbe`, `çà` is `ca`: decomposed, the marks
 * removed), other characters become '-', leading ones dropped.
 */
export function fleetName(text: string): string {
  const s = text
    .normalize("NFKD")
    .replace(/\p{M}/gu, "")
    .replace(/[^A-Za-z0-9._-]/g, "-")
    .replace(/^[^A-Za-z0-9]+/, "");
  return s || "imported";
}

export const text = (v: unknown): string | undefined =>
  typeof v === "string" ? v.trim() : typeof v === "number" ? String(v) : undefined;
