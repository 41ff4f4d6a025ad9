import { afterEach, describe, expect, it } from "vitest";
import type { FaultKind, Lab } from "../../src/lab/index.ts";
import { runCli } from "../helpers/cli.ts";
import { labOf, startEngine } from "../helpers/engine.ts";
import { waitFor, e2eTimeouts } from "../helpers/wait.ts";

e2eTimeouts(60_000);

/**
 * Each lab fault leads to its documented reaction (docs/engine.md, "Escalations"): the exit code,
 * ROLLGATE_E_ESCALATED, and the rule id; no new step starts after it, and the lab sees no rule broken.
 */
let lab: Lab | undefined;
afterEach(async () => {
  await lab?.stop();
  lab = undefined;
});

interface Reaction {
  code: number;
  state: string;
  rule?: string;
  detail?: RegExp;
}

/**
 * Applies with a fault injected on `server`: before the run, or (`afterStep`) once that step is
 * done — unreachable servers before the run are refused by the preflight instead (exit 2).
 */
async function applyWithFault(
  example: string,
  targets: string[],
  server: string,
  kind: FaultKind,
  options: { factor?: number; afterStep?: string } = {},
): Promise<{ reaction: Reaction; events: Record<string, unknown>[]; lab: Lab; fleet: string }> {
  const t = await labOf(example, 1200);
  lab = t.lab;
  const inject = () => t.lab.fault(server, kind, options.factor ? { factor: options.factor } : {});
  if (!options.afterStep) inject();
  const engine = startEngine(["apply", t.fleet, ...targets, "--yes", "--confirm-finalize", "--json"]);
  if (options.afterStep) {
    await waitFor(() => engine.lines.some((e) => e.type === "step.done" && e.step === options.afterStep), {
      what: options.afterStep,
    });
    inject();
  }
  const code = await engine.exited;
  const last = engine.lines.at(-1) as {
    state: string;
    escalation?: { rule: string; detail: string; code: string };
  };
  return {
    reaction: { code, state: last.state, ...(last.escalation ? { rule: last.escalation.rule } : {}) },
    events: engine.lines,
    lab: t.lab,
    fleet: t.fleet,
  };
}

function stepsStartedAfterEscalation(events: Record<string, unknown>[]): unknown[] {
  const i = events.findIndex((e) => e.type === "escalation");
  return i < 0 ? [] : events.slice(i).filter((e) => e.type === "step.intent");
}

describe("matrix faults and the engine's reactions", () => {
  const to = ["--to", "3.5.1"];

  it("install fails → escalation M9 at once, exit 1, fleet rule-abiding; resume after clearing finishes", async () => {
    const r = await applyWithFault("matrix-seed", to, "srv2", "install-fails");
    expect(r.reaction).toMatchObject({ code: 1, state: "escalated", rule: "M9" });
    const esc = r.events.find((e) => e.type === "escalation") as {
      escalation: { detail: string; code: string; manual: string };
    };
    expect(esc.escalation.code).toBe("ROLLGATE_E_ESCALATED");
    expect(esc.escalation.detail).toContain("srv2");
    expect(stepsStartedAfterEscalation(r.events)).toEqual([]);
    expect(r.lab.status().violations).toEqual([]);
    // a person fixes the cause; resume continues and finishes
    r.lab.fault("srv2", "clear");
    const again = await runCli(["resume", r.fleet, "--confirm-finalize"]);
    expect(again.code, again.stderr).toBe(0);
    expect(r.lab.status().violations).toEqual([]);
    expect(r.lab.status().servers.every((s) => s.release === "3.5.1")).toBe(true);
  });

  it("install hangs → escalation past 2 × the estimate (install still running), exit 1", async () => {
    const r = await applyWithFault("matrix-seed", to, "srv3", "install-hangs");
    expect(r.reaction).toMatchObject({ code: 1, state: "escalated", rule: "M9" });
    const esc = r.events.find((e) => e.type === "escalation") as { escalation: { detail: string } };
    expect(esc.escalation.detail).toMatch(
      /install is still running on srv3 after [\d.]+s \(more than 2 × its estimate of [\d.]+s\)/,
    );
    expect(r.lab.status().violations).toEqual([]);
  });

  it("slow install within 2 × the estimate → no escalation, the run completes", async () => {
    const r = await applyWithFault("matrix-seed", to, "srv3", "slow-install", { factor: 1.5 });
    expect(r.reaction).toMatchObject({ code: 0, state: "completed" });
    expect(r.lab.status().installs).toEqual({ srv1: 1, srv2: 1, srv3: 1 });
  });

  it("unreachable before the run → refused by the preflight, exit 2, nothing written", async () => {
    const r = await applyWithFault("matrix-seed", to, "srv2", "unreachable-refuse");
    expect(r.reaction.code).toBe(2);
    expect(Object.values(r.lab.status().installs).every((n) => n === 0)).toBe(true);
  });

  it("unreachable (connection refused) mid-run → escalation G5, exit 1, nothing acted on that server", async () => {
    const r = await applyWithFault("matrix-seed", to, "srv2", "unreachable-refuse", {
      afterStep: "matrix-a/srv3/verify",
    });
    expect(r.reaction).toMatchObject({ code: 1, state: "escalated", rule: "G5" });
    expect(r.lab.status().installs.srv2 ?? 0).toBe(0);
    expect(r.lab.status().violations).toEqual([]);
  });

  it("unreachable (packets dropped) → escalation G5 after the observe time-out", async () => {
    const r = await applyWithFault("matrix-seed", to, "srv1", "unreachable-drop", {
      afterStep: "matrix-a/srv2/verify",
    });
    expect(r.reaction).toMatchObject({ code: 1, state: "escalated", rule: "G5" });
    expect(r.lab.status().violations).toEqual([]);
  });

  it("crash and reboot during an install → escalation M9 (the install was interrupted), exit 1", async () => {
    const t = await labOf("matrix-seed", 1200);
    lab = t.lab;
    const engine = startEngine(["apply", t.fleet, "--to", "3.5.1", "--yes", "--confirm-finalize", "--json"]);
    await waitFor(
      () =>
        engine.lines.some((e) => e.type === "step.accepted" && String(e.step) === "matrix-a/srv3/install"),
      { what: "srv3's install accepted" },
    );
    t.lab.fault("srv3", "crash");
    expect(await engine.exited).toBe(1);
    const last = engine.lines.at(-1) as { escalation?: { rule: string } };
    expect(last.escalation?.rule).toBe("M9");
    expect(t.lab.status().violations).toEqual([]);
  });
});

describe("DMA faults and the engine's reactions (D8)", () => {
  // A patch release (D3): each cluster installs while it stays in the supercluster.
  const to = ["--to", "10.0.2"];

  async function escalationOf(server: string, kind: FaultKind) {
    const r = await applyWithFault("dma-supercluster", to, server, kind);
    const esc = r.events.find((e) => e.type === "escalation") as
      | { escalation: { rule: string; detail: string; manual: string; code: string } }
      | undefined;
    expect(stepsStartedAfterEscalation(r.events)).toEqual([]);
    expect(r.lab.status().violations).toEqual([]);
    return { ...r, esc: esc?.escalation };
  }

  it("login never comes back (install hangs) → D8a with the manual's words, exit 1", async () => {
    const r = await escalationOf("nyc-1", "install-hangs");
    expect(r.reaction).toMatchObject({ code: 1, state: "escalated", rule: "D8a" });
    expect(r.esc?.manual).toContain("significantly longer than the estimated install time");
  });

  it("the dashboard shows one server of two after the install → D8b, exit 1", async () => {
    const r = await escalationOf("bos-2", "dashboard-missing");
    expect(r.reaction).toMatchObject({ code: 1, state: "escalated", rule: "D8b" });
    expect(r.esc?.detail).toMatch(/dashboard/);
    expect(r.esc?.detail).toContain("bos-2");
    expect(r.esc?.manual).toContain("Dashboard shows only one server for a two-server cluster");
  });

  it("package versions differ after the install → D8c, exit 1", async () => {
    const r = await escalationOf("phl-1", "package-mismatch");
    expect(r.reaction).toMatchObject({ code: 1, state: "escalated", rule: "D8c" });
    expect(r.esc?.manual).toContain("package version numbers on the two servers are not the same");
  });

  it("install fails → D7 at once, exit 1", async () => {
    const r = await escalationOf("nyc-2", "install-fails");
    expect(r.reaction).toMatchObject({ code: 1, state: "escalated", rule: "D7" });
  });
});
