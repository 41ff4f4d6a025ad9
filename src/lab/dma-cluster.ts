import type { TerritoryAssignment } from "../model/step.ts";
import { releasesMayMeet } from "./judge.ts";
import type { SimCluster, SimServer } from "./types.ts";
import type { LabWorld } from "./world.ts";

/** What every part of the DMA behaviour asks of a server and a cluster (dma.ts). */

export function up(s: SimServer): boolean {
  return !s.down && s.software === "running";
}

export function online(s: SimServer): boolean {
  return up(s) && s.net === "ok";
}

export function login(w: LabWorld, s: SimServer): boolean {
  return up(s) && w.now() >= s.loginAt;
}

export function releasesOf(c: SimCluster): string[] {
  return [...new Set(c.servers.map((s) => s.release))];
}

export function compatible(a: SimCluster, b: SimCluster): boolean {
  return releasesOf(a).every((x) => releasesOf(b).every((y) => releasesMayMeet(x, y, a.policy)));
}

export function journalCluster(w: LabWorld, c: SimCluster, detail: string): void {
  w.journal.add({ kind: "state", cluster: c.name, detail });
}

export function fmtTerritory(t: TerritoryAssignment): string {
  return `${t.name}=${t.primary}${t.backup ? `/${t.backup}` : ""}`;
}
