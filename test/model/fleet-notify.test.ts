import { describe, expect, it } from "vitest";
import { parseFleetText } from "../../src/model/fleet-file.ts";
import { NOTIFY_KINDS } from "../../src/model/notify.ts";

/** The fleet file's `notify:` section (docs/fleet-format.md, docs/notifications.md). */
const head = `apiVersion: rollgate/v1
fleet: t
clusters:
  - name: m
    pack: polyserve-matrix
    version: 3.5.0
    servers:
      - { name: s1, address: 10.0.0.1 }
`;

function errorsOf(notify: string) {
  const r = parseFleetText(`${head}${notify}`, "f.yaml");
  if (r.ok) throw new Error("expected errors");
  return r.diagnostics;
}

describe("fleet file: notify:", () => {
  it("reads the webhooks with their defaults: json, every kind, no secret", () => {
    const r = parseFleetText(
      `${head}notify:
  - url: https://hooks.example.com/rollgate
  - url: http://127.0.0.1:9000/slack?token=abc
    format: slack
    secretEnv: HOOK_KEY
    events: [escalation, stuck, stuck]
`,
      "f.yaml",
    );
    if (!r.ok) throw new Error(JSON.stringify(r.diagnostics));
    expect(r.fleet.notify).toEqual([
      { url: "https://hooks.example.com/rollgate", format: "json" },
      {
        url: "http://127.0.0.1:9000/slack?token=abc",
        format: "slack",
        secretEnv: "HOOK_KEY",
        events: ["escalation", "stuck"],
      },
    ]);
  });

  it("a file without notify: has no webhooks", () => {
    const r = parseFleetText(head, "f.yaml");
    expect(r.ok && r.fleet.notify).toBeUndefined();
  });

  it("refuses a scheme other than http/https, and a URL that does not parse, where they are written", () => {
    const ds = errorsOf(`notify:
  - url: file:///etc/passwd
  - url: "not a url"
`);
    expect(ds.map((d) => [d.code, d.path, d.line])).toEqual([
      ["ROLLGATE_E_FLEET_WEBHOOK_URL", "notify[0].url", 10],
      ["ROLLGATE_E_FLEET_WEBHOOK_URL", "notify[1].url", 11],
    ]);
    expect(ds[0]!.message).toContain("file:");
    expect(ds[0]!.expected).toContain("https://");
  });

  it("refuses a URL longer than 2,048 characters without quoting it", () => {
    const long = `https://hooks.example/${"a".repeat(3000)}`;
    const ds = errorsOf(`notify:\n  - url: ${long}\n`);
    expect(ds.map((d) => [d.code, d.path, d.line])).toEqual([
      ["ROLLGATE_E_FLEET_WEBHOOK_URL", "notify[0].url", 10],
    ]);
    expect(ds[0]!.message).toContain("at most 2048");
    expect(ds[0]!.message.length).toBeLessThan(200);
  });

  it("refuses a URL with credentials, and never repeats the password", () => {
    const ds = errorsOf(`notify:
  - url: https://bot:hunter2@hooks.example.com/x
  - url: https://bot@hooks.example.com/y
`);
    expect(ds.map((d) => [d.code, d.path, d.line, d.column])).toEqual([
      ["ROLLGATE_E_FLEET_URL_CREDENTIALS", "notify[0].url", 10, 10],
      ["ROLLGATE_E_FLEET_URL_CREDENTIALS", "notify[1].url", 11, 10],
    ]);
    expect(JSON.stringify(ds)).not.toContain("hunter2");
    expect(ds[0]!.message).toContain("bot:***@");
  });

  it("a misspelt field, an unknown format or event kind, a bad variable name: shape errors with what is allowed", () => {
    const ds = errorsOf(`notify:
  - url: https://hooks.example.com/a
    secret_env: HOOK_KEY
  - url: https://hooks.example.com/b
    format: teams
    events: [escalation, overdue]
    secretEnv: 1-KEY
  - format: json
  - url: https://hooks.example.com/c
    events: []
`);
    const by = Object.fromEntries(ds.map((d) => [d.path, d]));
    expect(by["notify[0].secret_env"]).toMatchObject({ code: "ROLLGATE_E_FLEET_SCHEMA", line: 11 });
    expect(by["notify[0].secret_env"]!.message).toContain("did you mean secretEnv?");
    expect(by["notify[1].format"]).toMatchObject({ line: 13 });
    expect(by["notify[1].format"]!.expected).toContain("slack");
    expect(by["notify[1].events[1]"]).toMatchObject({ line: 14 });
    for (const k of NOTIFY_KINDS) expect(by["notify[1].events[1]"]!.expected).toContain(k);
    expect(by["notify[1].secretEnv"]).toMatchObject({ line: 15 });
    expect(by["notify[2].url"]!.message).toBe("required field is missing");
    expect(by["notify[3].events"]).toMatchObject({ line: 18 });
    expect(ds.every((d) => d.file === "f.yaml")).toBe(true);
  });
});
