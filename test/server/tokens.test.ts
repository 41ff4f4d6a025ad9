import { describe, expect, it } from "vitest";
import { createToken } from "../../src/server/auth.ts";
import { runCli } from "../helpers/cli.ts";
import { waitFor, e2eTimeouts } from "../helpers/wait.ts";
import { errorOf, fixture, readSse } from "./helpers.ts";

e2eTimeouts(60_000);

let f: Awaited<ReturnType<typeof fixture>> | undefined;

describe("tokens expire, are listed and revoked (real CLI, real server, one state file)", () => {
  it("a live event stream ends once its token is revoked (an open stream is no way round revocation)", async () => {
    f = await fixture();
    const t = await createToken(f.store, "viewer");
    const res = await f.api(`/api/runs/${f.run.id}/events`, {
      token: t.token,
      headers: { accept: "text/event-stream" },
    });
    expect(res.status).toBe(200);
    const revoke = runCli(["token", "revoke", t.id, "--state", f.statePath], { timeoutMs: 30_000 });
    // the stream delivers the backlog, then ends by itself after the revocation
    const { events } = await readSse(res, () => false, 30_000);
    expect((await revoke).code).toBe(0);
    expect(events.at(-1)).toMatchObject({
      event: "unauthorized",
      data: { error: { code: "ROLLGATE_E_API_UNAUTHORIZED" } },
    });
  }, 60_000);

  it("token create --ttl, token list and token revoke; the API refuses expired and revoked tokens (401)", async () => {
    f = await fixture();
    const created = await runCli(
      ["token", "create", "--role", "operator", "--ttl", "8h", "--state", f.statePath, "--json"],
      { timeoutMs: 30_000 },
    );
    expect(created.code, created.stderr).toBe(0);
    const t = JSON.parse(created.stdout) as { id: string; token: string; expiresAt: string };
    const hours = (Date.parse(t.expiresAt) - Date.now()) / 3_600_000;
    expect(hours).toBeGreaterThan(7.9);
    expect(hours).toBeLessThanOrEqual(8);
    expect((await f.api("/api/whoami", { token: t.token })).status).toBe(200);

    const listed = await runCli(["token", "list", "--state", f.statePath, "--json"], { timeoutMs: 30_000 });
    expect(listed.code, listed.stderr).toBe(0);
    const tokens = JSON.parse(listed.stdout).tokens as Array<Record<string, unknown>>;
    expect(tokens).toHaveLength(3); // the fixture's viewer and operator, and this one
    expect(tokens.find((x) => x.id === t.id)).toMatchObject({
      role: "operator",
      expiresAt: t.expiresAt,
      revokedAt: null,
      state: "active",
    });
    // nothing secret is listed: no token, no hash
    for (const secret of [t.token, t.token.split("_").slice(2).join("_"), f.viewer, f.operator])
      expect(listed.stdout).not.toContain(secret);
    expect(listed.stdout).not.toMatch(/[0-9a-f]{64}/);
    const human = await runCli(["token", "list", "--state", f.statePath], { timeoutMs: 30_000 });
    expect(human.stdout).toMatch(new RegExp(`${t.id}\\s+operator\\s+\\S+\\s+${t.expiresAt}\\s+active`));
    expect(human.stdout).toMatch(/never\s+active/);

    const revoked = await runCli(["token", "revoke", t.id, "--state", f.statePath], { timeoutMs: 30_000 });
    expect(revoked.code, revoked.stderr).toBe(0);
    expect(revoked.stdout).toContain(`revoked token ${t.id}`);
    const refused = await f.api("/api/whoami", { token: t.token });
    expect(refused.status).toBe(401);
    expect(await errorOf(refused)).toMatchObject({
      code: "ROLLGATE_E_API_UNAUTHORIZED",
      message: expect.stringContaining("revoked"),
    });
    const again = await runCli(["token", "revoke", t.id, "--state", f.statePath], { timeoutMs: 30_000 });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("already revoked");
    const after = await runCli(["token", "list", "--state", f.statePath, "--json"], { timeoutMs: 30_000 });
    expect(JSON.parse(after.stdout).tokens.find((x: { id: string }) => x.id === t.id)).toMatchObject({
      state: "revoked",
      revokedAt: expect.any(String),
    });

    const unknown = await runCli(["token", "revoke", "0badc0de", "--state", f.statePath], {
      timeoutMs: 30_000,
    });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("ROLLGATE_E_TOKEN_NOT_FOUND");
    for (const ttl of ["forever", "0s", "-1h", "8", "367d", "99999999999d", "1h99999999999999999999m"]) {
      const bad = await runCli(
        ["token", "create", "--role", "viewer", "--ttl", ttl, "--state", f.statePath],
        {
          timeoutMs: 30_000,
        },
      );
      expect(bad.code, ttl).toBe(2);
      expect(bad.stderr, ttl).toContain("ROLLGATE_E_USAGE");
    }

    // a token past its expiry is refused: one made two minutes ago for one minute, and one
    // made now for a second, refused once its second has passed
    const old = await createToken(f.store, "viewer", { ttlSeconds: 60, now: new Date(Date.now() - 120_000) });
    const stale = await f.api("/api/runs", { token: old.token });
    expect(stale.status).toBe(401);
    expect((await errorOf(stale)).message).toContain("expired");
    const short = await createToken(f.store, "viewer", { ttlSeconds: 1 });
    expect((await f.api("/metrics", { token: short.token })).status).toBe(200);
    await waitFor(async () => (await f!.api("/metrics", { token: short.token })).status === 401, {
      timeoutMs: 10_000,
      what: "the one-second token to expire",
    });
  }, 120_000);
});

describe("rollgate serve on a host other machines can reach", () => {
  it("warns before listening (loopback hosts do not)", async () => {
    const { isLoopback } = await import("../../src/cli/commands/serve.ts");
    for (const h of ["127.0.0.1", "127.10.1.2", "::1", "[::1]", "localhost", "::ffff:127.0.0.1"])
      expect(isLoopback(h), h).toBe(true);
    for (const h of ["0.0.0.0", "::", "10.0.0.1", "192.0.2.1", "example.com", "127.0.0.1.example.com"])
      expect(isLoopback(h), h).toBe(false);
    // 192.0.2.1 (TEST-NET-1) is not this machine's: the listen fails, and no packet is sent
    const d = (await import("../helpers/cli.ts")).tempDir("rollgate-serve-host-");
    const r = await runCli(["serve", "--host", "192.0.2.1", "--port", "0", "--state", `${d}/state.db`], {
      timeoutMs: 30_000,
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^warning: --host 192\.0\.2\.1 can be reached from other machines/m);
    expect(r.stderr).toContain("docs/security.md");
    expect(r.stderr).toContain("ROLLGATE_E_SERVE_LISTEN");
    (await import("node:fs")).rmSync(d, { recursive: true, force: true });
  }, 60_000);
});
