import { RollgateError } from "../../model/errors.ts";
import type { LabStatus } from "../../lab/types.ts";
import type { CliContext } from "../main.ts";
import { painter } from "../output.ts";

// What `rollgate lab status` prints, the table `lab up` prints too, the error for an unknown server.

export function printStatus(ctx: CliContext, st: LabStatus): void {
  const paint = painter(ctx.output.color);
  const o = ctx.output;
  o.out(`lab of ${st.fleet}: port ${st.port}, speed ${st.speed}, up since ${st.startedAt}`);
  const colour = (state: string) =>
    state === "running"
      ? paint("green", state)
      : state === "isolated" || state === "unreachable"
        ? paint("red", state)
        : paint("yellow", state);
  o.out(
    table(
      ["SERVER", "CLUSTER", "ADDRESS", "RELEASE", "STATE", "INSTALLS", "ACTIVITY"],
      st.servers.map((s) => [
        s.name,
        s.cluster,
        s.address,
        // M11: a matrix with modes shows each server's beside its release
        s.mode === undefined ? s.release : `${s.release} (${s.mode})`,
        s.state,
        String(st.installs[s.name] ?? 0),
        s.activity ?? "",
      ]),
      { 4: colour },
    ),
  );
  if (st.faults.length)
    o.out(
      `faults: ${st.faults.map((f) => `${f.server} ${f.kind}${f.factor ? ` ×${f.factor}` : ""}`).join(", ")}`,
    );
  if (st.violations.length === 0) o.out(paint("green", "no rule seen broken"));
  else {
    o.out(paint("red", `${st.violations.length} rule(s) seen broken:`));
    for (const v of st.violations) o.out(`  ${paint("bold", v.rule)} ${v.at} ${v.detail}`);
  }
}

export function table(
  head: string[],
  rows: string[][],
  paintCol: Record<number, (s: string) => string> = {},
): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: string[], paint: boolean) =>
    r
      .map((cell, i) => {
        const padded = cell.padEnd(widths[i]!);
        return paint && paintCol[i] ? paintCol[i]!(cell) + padded.slice(cell.length) : padded;
      })
      .join("  ")
      .trimEnd();
  return [line(head, false), ...rows.map((r) => line(r, true))].join("\n");
}

export function unknownServer(server: string, file: string): RollgateError {
  return new RollgateError("ROLLGATE_E_LAB_UNKNOWN_SERVER", `${file} has no server named ${server}`);
}
