import { readdirSync, readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type CapacityGauge,
  foldEvents,
  foldJournal,
  mixedSeconds,
  nextStepView,
  type RunView,
  runView,
  summaryOf,
} from "../../src/events/fold.ts";
import type { RunEvent, RunEventBody } from "../../src/events/types.ts";
import type { Fleet } from "../../src/model/fleet.ts";
import type { RuleId } from "../../src/model/step.ts";
import type { Plan } from "../../src/plan/types.ts";

/** The one fold of a run's journal (src/events/fold.ts): every reader's view of a run. */

const STEPS = ["s1", "s2", "s3", "s4"];
const plan = {
  target: "10.1",
  steps: STEPS.map((id, i) => ({ id, cluster: i < 2 ? "c1" : "c2", start: i * 100, end: i * 100 + 90 })),
  estimate: { seconds: 400, lowerBoundSeconds: 300, minCapacity: 0.5 },
  targets: { c1: "10.1", c2: "10.1" },
} as unknown as Plan;
const fleet = {
  clusters: [
    {
      name: "c1",
      supercluster: "sc",
      servers: [
        { name: "a", version: "10.0" },
        { name: "b", version: "10.0" },
      ],
    },
    { name: "c2", servers: [{ name: "c", version: "10.0" }] },
  ],
} as unknown as Fleet;

/** A gauge that records what the fold told it; capacity falls by a quarter per step begun and not finished. */
function gauge(): CapacityGauge & { calls: string[] } {
  const calls: string[] = [];
  const open = new Set<string>();
  return {
    calls,
    start: (s) => {
      calls.push(`start ${s.id}`);
      open.add(s.id);
    },
    finish: (s) => {
      calls.push(`finish ${s.id}`);
      open.delete(s.id);
    },
    lowest: () => 1 - open.size / 4,
  };
}

/** The view's data, the gauge by what it was told (a gauge's functions are no data). */
function data(view: RunView) {
  const { fold, ...rest } = view;
  const g = fold.gauge as (CapacityGauge & { calls: string[] }) | undefined;
  return { ...rest, fold: { ...fold, gauge: g?.calls } };
}

const step = fc.constantFrom(...STEPS, "rts-1");
const rule = fc.constantFrom<RuleId>("M1", "G3", "G4", "D8a");
const server = fc.constantFrom(["c1", "a"], ["c1", "b"], ["c2", "c"]);
const body: fc.Arbitrary<RunEventBody> = fc.oneof(
  fc
    .constantFrom("running", "paused", "escalated", "aborted", "completed" as const)
    .map((state) => ({ type: "run.state" as const, state })),
  fc
    .tuple(step, rule)
    .map(([s, r]) => ({ type: "step.waiting" as const, step: s, rule: r, reason: `hold ${s}` })),
  fc.tuple(step, fc.option(fc.nat(5), { nil: undefined })).map(([s, b]) => ({
    type: "step.intent" as const,
    step: s,
    action: "install",
    cluster: "c1",
    attempt: 1,
    ...(b === undefined ? {} : { backupsBefore: b }),
  })),
  step.map((s) => ({ type: "step.accepted" as const, step: s })),
  step.map((s) => ({ type: "step.started" as const, step: s, action: "install", cluster: "c1" })),
  step.map((s) => ({ type: "step.done" as const, step: s, observed: false, seconds: 3 })),
  fc
    .tuple(step, fc.option(rule, { nil: undefined }))
    .map(([s, r]) => ({ type: "step.failed" as const, step: s, ...(r ? { rule: r } : {}), message: "no" })),
  fc.tuple(step, rule, fc.boolean(), fc.constantFrom("x", "y")).map(([s, r, final, detail]) => ({
    type: "escalation" as const,
    escalation: {
      code: "ROLLGATE_E_ESCALATED",
      rule: r,
      step: s,
      detail,
      manual: "call",
      ...(final ? { outOfService: [{ cluster: "c1", rule: r, reason: "held" }] } : {}),
    },
  })),
  fc
    .tuple(step, rule)
    .map(([s, r]) => ({ type: "confirmation.needed" as const, step: s, rule: r, reason: "G4" })),
  step.map((s) => ({ type: "confirmation.given" as const, step: s, by: "op" })),
  fc
    .tuple(server, fc.constantFrom("10.0", "10.1"), fc.constantFrom("running", "unreachable"))
    .map(([[cluster, srv], release, state]) => ({
      type: "observation" as const,
      cluster: cluster!,
      server: srv!,
      state,
      release,
    })),
  rule.map((r) => ({ type: "alert" as const, rule: r, cluster: "c1", message: "mixed too long" })),
  fc.constant<RunEventBody>({ type: "abort.returned", returned: ["c1"], leftOutOfService: [] }),
);
const T0 = Date.parse("2026-12-02T04:00:00.000Z");
const journal = fc
  .array(body, { maxLength: 60 })
  .map((bodies) =>
    bodies.map(
      (b, i) => ({ ...b, seq: i + 1, runId: "r", at: new Date(T0 + i * 7000).toISOString() }) as RunEvent,
    ),
  );

describe("the one fold of a run's journal", () => {
  it("folding a journal in one pass equals folding it in chunks, a chunk sent again skipped (SSE resumes)", () => {
    fc.assert(
      fc.property(journal, fc.array(fc.nat(), { maxLength: 5 }), fc.nat(5), (events, cuts, overlap) => {
        const whole = foldJournal(plan, events, fleet, gauge());
        const view = runView(plan, fleet, gauge());
        const at = [...new Set(cuts.map((c) => c % (events.length + 1)))].sort((a, b) => a - b);
        let from = 0;
        for (const to of [...at, events.length]) {
          foldEvents(view, events.slice(Math.max(0, from - overlap), to));
          from = to;
        }
        expect(data(view)).toEqual(data(whole));
        expect(mixedSeconds(view, T0 + 10 ** 6, true)).toEqual(mixedSeconds(whole, T0 + 10 ** 6, true));
      }),
      { numRuns: 300 },
    );
  });

  it("tells the gauge once of each plan step's start and finish, a finish after its start", () => {
    fc.assert(
      fc.property(journal, (events) => {
        const g = gauge();
        foldJournal(plan, events, fleet, g);
        expect(new Set(g.calls).size).toBe(g.calls.length);
        for (const c of g.calls.filter((x) => x.startsWith("finish")))
          expect(g.calls.indexOf(`start ${c.slice(7)}`)).toBeLessThan(g.calls.indexOf(c));
        expect(g.calls.some((c) => c.endsWith("rts-1"))).toBe(false);
      }),
    );
  });

  it("the dashboard's status is the page's own transition, and a done step stays done", () => {
    fc.assert(
      fc.property(journal, (events) => {
        const view = foldJournal(plan, events);
        const page = new Map(
          STEPS.map((s) => [s, { status: "pending" as const } as ReturnType<typeof nextStepView>]),
        );
        for (const e of events) {
          const id = "step" in e && typeof e.step === "string" ? e.step : undefined;
          const next = id === undefined ? undefined : nextStepView(page.get(id), e);
          if (id !== undefined && next) page.set(id, next);
        }
        expect(Object.fromEntries(view.status)).toEqual(Object.fromEntries(page));
        const doneOnce = STEPS.filter((s) => events.some((e) => e.type === "step.done" && e.step === s));
        expect(view.stepsDone).toBe(doneOnce.length);
        expect(view.stepsFailed).toBe(events.filter((e) => e.type === "step.failed").length);
      }),
    );
  });

  const ev = (seq: number, b: RunEventBody) =>
    ({ ...b, seq, runId: "r", at: new Date(T0 + seq * 1000).toISOString() }) as RunEvent;

  it("a new intent reopens a step for the engine, not for the dashboard", () => {
    const view = foldJournal(plan, [
      ev(1, {
        type: "step.intent",
        step: "s1",
        action: "install",
        cluster: "c1",
        attempt: 1,
        backupsBefore: 2,
      }),
      ev(2, { type: "step.accepted", step: "s1" }),
      ev(3, { type: "step.done", step: "s1", observed: false, seconds: 2 }),
      ev(4, { type: "step.intent", step: "s1", action: "install", cluster: "c1", attempt: 2 }),
    ]);
    expect(view.standing.get("s1")).toEqual({
      status: "pending",
      attempts: 2,
      accepted: false,
      backupsBefore: 2,
      startedAt: new Date(T0 + 1000).toISOString(),
      doneAt: new Date(T0 + 3000).toISOString(),
    });
    expect(view.status.get("s1")).toEqual({ status: "done" });
  });

  it("reports a halt by its first escalation since the run last ran, or the engine's final word on it", () => {
    const x = {
      code: "ROLLGATE_E_ESCALATED",
      rule: "D8a" as RuleId,
      step: "s2",
      detail: "stuck",
      manual: "m",
    };
    const held = { ...x, outOfService: [{ cluster: "c1", rule: "D8a" as RuleId, reason: "halted" }] };
    const events = [
      ev(1, { type: "run.state", state: "running" }),
      ev(2, { type: "escalation", escalation: x }),
      ev(3, { type: "escalation", escalation: { ...x, step: "s3", detail: "other" } }),
      ev(4, { type: "escalation", escalation: held }),
      ev(5, { type: "run.state", state: "escalated" }),
    ];
    const view = foldJournal(plan, events);
    expect(view.lastEscalation).toEqual(held);
    expect(view.escalations.map((e) => e.detail)).toEqual(["stuck", "other", "stuck"]);
    expect(summaryOf(view, { state: "escalated", confirmed: [] }).escalation).toEqual(held);
    expect(summaryOf(view, { state: "running", confirmed: [] }).escalation).toBeNull();
    const again = foldEvents(view, [
      ev(6, { type: "run.state", state: "running" }),
      ev(7, { type: "escalation", escalation: { ...x, detail: "later" } }),
    ]);
    expect(again.lastEscalation?.detail).toBe("later");
  });

  it("a summary leaves out what a finished run no longer waits for, and what is confirmed or done", () => {
    const view = foldJournal(plan, [
      ev(1, { type: "step.waiting", step: "s2", rule: "M1", reason: "one at a time" }),
      ev(2, { type: "confirmation.needed", step: "s3", rule: "G4", reason: "no return" }),
      ev(3, { type: "confirmation.needed", step: "s4", rule: "G4", reason: "no return" }),
      ev(4, { type: "step.started", step: "s1", action: "install", cluster: "c1" }),
    ]);
    const live = summaryOf(view, { state: "awaiting-confirmation", confirmed: ["s4"] });
    expect(live).toMatchObject({
      progress: { done: 0, total: 4 },
      running: ["s1"],
      waiting: [{ step: "s2", rule: "M1", reason: "one at a time" }],
      awaitingConfirmation: ["s3"],
      secondsLeft: 400,
      lastSeq: 4,
    });
    for (const state of ["aborted", "completed"] as const)
      expect(summaryOf(view, { state, confirmed: [] })).toMatchObject({
        running: [],
        waiting: [],
        awaitingConfirmation: [],
      });
  });

  it("a summary keeps every rule that holds a step back (the event's blockers), for status --json and its text", () => {
    const blockers = [
      { rule: "M1" as RuleId, reason: "srv1 is still being upgraded" },
      { rule: "G3" as RuleId, reason: "33% in service, below the floor 60%" },
    ];
    const view = foldJournal(plan, [
      ev(1, { type: "step.waiting", step: "s2", rule: "M1", reason: "srv1 …; G3: 33% …", blockers }),
      ev(2, { type: "step.waiting", step: "s3", rule: "G3", reason: "one rule" }),
    ]);
    expect(summaryOf(view, { state: "running", confirmed: [] }).waiting).toEqual([
      { step: "s2", rule: "M1", reason: "srv1 …; G3: 33% …", blockers },
      { step: "s3", rule: "G3", reason: "one rule" },
    ]);
  });

  it("measures mixed-release windows per cluster and supercluster, an open one up to now while the run runs", () => {
    const obs = (seq: number, server: string, release: string, cluster = "c1") =>
      ev(seq, { type: "observation", cluster, server, state: "running", release });
    const view = foldJournal(
      plan,
      [obs(10, "a", "10.1"), obs(14, "b", "10.1"), obs(20, "c", "10.1", "c2")],
      fleet,
    );
    expect(mixedSeconds(view, T0 + 30_000, true)).toEqual({
      "cluster:c1": 4,
      "supercluster:sc": 4,
      "cluster:c2": 0,
    });
    foldEvents(view, [obs(22, "a", "10.0")]);
    expect(mixedSeconds(view, T0 + 25_000, true)).toMatchObject({ "cluster:c1": 7 });
    expect(mixedSeconds(view, T0 + 25_000, false)).toMatchObject({ "cluster:c1": 4 });
  });

  it("is pure: no node built-in, no clock, no randomness (the page imports it), in every part of it", () => {
    const dir = new URL("../../src/events/", import.meta.url);
    const parts = readdirSync(dir).filter((f) => /^fold(-[a-z]+)?\.ts$/.test(f));
    expect(parts).toContain("fold.ts");
    for (const part of parts) {
      const text = readFileSync(new URL(part, dir), "utf8");
      expect(text, part).not.toMatch(/from\s+["']node:/);
      expect(text, part).not.toMatch(/Date\.now|new Date\(|Math\.random|performance\./);
      const runtime = [...text.matchAll(/^import\s+(?!type\b)[^;]*?from\s+["']([^"']+)["']/gm)].map(
        (m) => m[1]!,
      );
      // at run time a part imports only events/types.ts and the fold's other parts
      for (const spec of runtime) expect(spec, part).toMatch(/^\.\/(types|fold(-[a-z]+)?)\.ts$/);
    }
  });
});
