import { describe, expect, it } from "vitest";
import { redactCredentials, redactStoreUrl, secretsInLocation } from "../../src/store/location.ts";
import { runCli, tempDir } from "../helpers/cli.ts";
import { e2eTimeouts } from "../helpers/wait.ts";

e2eTimeouts(120_000);

describe("a secret in a state location is never printed", () => {
  it("hides user:password and secret query parameters, keeps the rest readable", () => {
    expect(redactStoreUrl("postgres://ops:hunter2@db.example:5432/rollgate")).toBe(
      "postgres://***@db.example:5432/rollgate",
    );
    expect(redactStoreUrl("postgres://db.example/rollgate?password=Secr3t&sslmode=require")).toBe(
      "postgres://db.example/rollgate?password=***&sslmode=require",
    );
    expect(redactStoreUrl("postgresql://h/db?sslmode=verify-full&sslpassword=k3y")).toBe(
      "postgresql://h/db?sslmode=verify-full&sslpassword=***",
    );
    expect(redactCredentials("cannot open postgres://h/db?password=Secr3t: refused")).toBe(
      "cannot open postgres://h/db?password=***: refused",
    );
    expect(redactStoreUrl("/var/lib/rollgate/state.db")).toBe("/var/lib/rollgate/state.db");
    // what the CLI scrubs from all it prints: exactly what redactStoreUrl hides
    expect(secretsInLocation("postgres://ops:hun%40ter2@h/db?sslpassword=k3y&sslmode=require")).toEqual([
      "hun%40ter2",
      "k3y",
    ]);
    expect(secretsInLocation("postgres://ops@h/db")).toEqual([]);
  });

  it("the real CLI: a password in the query string of --state appears in no output", async () => {
    const dir = tempDir("rollgate-redact-");
    // nothing listens on port 9 of 127.0.0.1: the store cannot be reached
    const r = await runCli(
      ["status", "--json", "--state", "postgres://127.0.0.1:9/db?password=Secr3tQ&connect_timeout=1"],
      { cwd: dir, timeoutMs: 120_000, env: { ROLLGATE_STATE_WAIT_SECONDS: "1" } },
    );
    expect(r.code).not.toBe(0);
    expect(`${r.stdout}${r.stderr}`).not.toContain("Secr3tQ");
    expect(`${r.stdout}${r.stderr}`).toContain("password=***");
  });
});
