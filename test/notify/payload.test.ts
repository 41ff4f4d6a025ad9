import { describe, expect, it } from "vitest";
import type { RunEvent } from "../../src/events/types.ts";
import {
  backoffMs,
  bodyOf,
  hmacOf,
  notificationOf,
  parseWebhookUrl,
  redactUrl,
  redactUrlsIn,
  slackText,
} from "../../src/notify/index.ts";

const at = "2026-01-01T00:00:00.000Z";
const ev = (body: Record<string, unknown>, seq = 7): RunEvent =>
  ({ ...body, seq, runId: "r1", at }) as RunEvent;

describe("notifications: payloads (pure)", () => {
  it("an escalation carries the rule, its doc link, the manual's words and what to do", () => {
    const n = notificationOf(
      ev({
        type: "escalation",
        escalation: {
          code: "ROLLGATE_E_ESCALATED",
          rule: "M9",
          step: "s1",
          cluster: "matrix-a",
          server: "srv2",
          detail: "install failed",
          manual: "the manual says so",
        },
      }),
      "seed",
    );
    expect(n).toMatchObject({
      version: 1,
      id: "r1:7",
      kind: "escalation",
      runId: "r1",
      fleet: "seed",
      at,
      rule: "M9",
      ruleDoc: "docs/rules.md#m9",
      manual: "the manual says so",
      detail: "install failed",
      server: "srv2",
    });
    expect(n?.ruleStatement).toBeTruthy();
    expect(n?.todo).toContain("rollgate resume");
  });

  it("D8a (a step past k × its estimate) is the stuck step", () => {
    const n = notificationOf(
      ev({ type: "escalation", escalation: { code: "X", rule: "D8a", detail: "d", manual: "m" } }),
    );
    expect(n?.kind).toBe("stuck");
  });

  it("G4 confirmation, pause, abort, completion; other events call for none", () => {
    expect(
      notificationOf(ev({ type: "confirmation.needed", step: "s", rule: "G4", reason: "r" }))?.kind,
    ).toBe("awaiting-confirmation");
    for (const state of ["paused", "aborted", "completed"])
      expect(notificationOf(ev({ type: "run.state", state }))?.kind).toBe(state);
    expect(notificationOf(ev({ type: "run.state", state: "running" }))).toBeUndefined();
    expect(notificationOf(ev({ type: "step.done", step: "s", observed: true, seconds: 1 }))).toBeUndefined();
  });

  it("the Slack format is {text} with the same facts in words", () => {
    const n = notificationOf(
      ev({ type: "confirmation.needed", step: "m/srv1/stop", rule: "G4", reason: "point of no return" }),
      "seed",
    );
    if (!n) throw new Error("no notification");
    const body = JSON.parse(bodyOf(n, "slack"));
    expect(Object.keys(body)).toEqual(["text"]);
    expect(body.text).toBe(slackText(n));
    expect(body.text).toContain("G4");
    expect(body.text).toContain("m/srv1/stop");
    expect(body.text).toContain("--confirm-finalize");
    expect(body.text).toMatch(/^rollgate: run /);
    expect(slackText({ ...n, lab: true })).toMatch(/^rollgate \(lab rehearsal\): run r1 \(seed\)/);
  });

  it("Slack: a driver's answer quoted in the text pings no one and links nowhere (& < > escaped)", () => {
    const n = notificationOf(
      ev({
        type: "escalation",
        escalation: {
          code: "ROLLGATE_E_ESCALATED",
          rule: "M9",
          step: "s1",
          server: "srv2",
          detail: "install failed: <!channel> see <https://elsewhere.example/fix|the fix> & retry",
        },
      }),
      "seed",
    );
    if (!n) throw new Error("no notification");
    const text = JSON.parse(bodyOf(n, "slack")).text as string;
    expect(text).toContain("&lt;!channel&gt; see &lt;https://elsewhere.example/fix|the fix&gt; &amp; retry");
    expect(text).not.toMatch(/[<>]/);
    // the JSON format keeps the text as it is: a receiver escapes for its own use
    expect(JSON.parse(bodyOf(n, "json")).detail).toContain("<!channel>");
  });

  it("backoff grows exponentially, capped, with jitter within [d/2, d]", () => {
    expect(backoffMs(1, 0)).toBe(250);
    expect(backoffMs(1, 0.999)).toBeLessThanOrEqual(500);
    expect(backoffMs(2, 0)).toBe(500);
    expect(backoffMs(3, 0)).toBe(1000);
    expect(backoffMs(20, 0.999)).toBeLessThanOrEqual(8000);
    expect(backoffMs(20, 0)).toBe(4000);
  });

  it("URLs: http and https only; shown without credentials or query", () => {
    expect(() => parseWebhookUrl("ftp://x/")).toThrow(/only http: and https:/);
    expect(() => parseWebhookUrl("not a url")).toThrow(/not a URL/);
    expect(() => parseWebhookUrl(`https://h.example/${"a".repeat(3000)}`)).toThrow(
      /at most 2048 are accepted/,
    );
    expect(parseWebhookUrl("http://127.0.0.1:9/hook")).toBe("http://127.0.0.1:9/hook");
    expect(redactUrl("https://user:pw@hooks.example/a?token=s3cret")).toBe("https://hooks.example/…");
    // an incoming webhook's path is its secret (Slack, Discord, Teams): never shown
    expect(redactUrl("https://hooks.slack.com/services/T000/B000/XXXXSECRET")).toBe(
      "https://hooks.slack.com/…",
    );
    expect(redactUrl("http://[::1]:8080/")).toBe("http://[::1]:8080/");
    expect(
      redactUrlsIn("bad: http://alice:hunter2@127.0.0.1:9/p/SECRET?k=v, twice https://h.example/x"),
    ).toBe("bad: http://127.0.0.1:9/…, twice https://h.example/…");
    // credentials on the command line are refused, as in a fleet file, the password not repeated
    expect(() => parseWebhookUrl("http://alice:hunter2@127.0.0.1:9/hook")).toThrow(/has credentials in it/);
    expect(() => parseWebhookUrl("http://alice@127.0.0.1:9/hook")).toThrow(/has credentials in it/);
    try {
      parseWebhookUrl("http://alice:hunter2@127.0.0.1:9/hook");
    } catch (e) {
      expect((e as Error).message).not.toContain("hunter2");
    }
  });

  it("the signature is HMAC-SHA256 over TIMESTAMP.BODY", () => {
    // node -e 'crypto.createHmac("sha256","k").update("1.{}").digest("hex")'
    expect(hmacOf("k", "1", "{}")).toBe("3dd49b2593d0f9a349e9e71c4bde3e2b862c2be4003fe9b4ba81332029310158");
    expect(hmacOf("k", "1", "{}")).not.toBe(hmacOf("k", "2", "{}"));
  });
});
