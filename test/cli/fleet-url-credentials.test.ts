import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runCli, tempDir } from "../helpers/cli.ts";
import { e2eTimeouts } from "../helpers/wait.ts";

e2eTimeouts(60_000);

/** A driver URL with credentials in it: refused when the fleet file is read, the password never shown. */
function fleetWith(url: string): string {
  const dir = tempDir();
  const file = join(dir, "cred.yaml");
  writeFileSync(
    file,
    `apiVersion: rollgate/v1
fleet: cred
clusters:
  - name: kv
    pack: generic
    version: 1.0.0
    servers:
      - { name: kv-1, address: 127.0.0.1 }
    driver:
      http: { url: "${url}" }
`,
  );
  return file;
}

describe("driver.http.url with credentials (real CLI)", () => {
  it("validate, apply (text and --json): exit 2, file:line:column, the field, the code, the password masked", async () => {
    const file = fleetWith("http://admin:Hunter2@127.0.0.1:9/servers/{name}");
    for (const args of [
      ["validate", file],
      ["apply", file, "--to", "1.1.0", "--yes", "--state", join(tempDir(), "x.db")],
      ["apply", file, "--to", "1.1.0", "--yes", "--json", "--state", join(tempDir(), "x.db")],
    ]) {
      const r = await runCli(args);
      expect(r.code, `${args[0]}: ${r.stderr}`).toBe(2);
      expect(r.stdout + r.stderr).not.toContain("Hunter2");
      expect(r.stderr).toMatch(/cred\.yaml:10:\d+ clusters\[0\]\.driver\.http\.url/);
      expect(r.stderr).toContain("http://admin:***@127.0.0.1:9/servers/{name}");
      expect(r.stderr).toMatch(/authenticating proxy/);
      expect(r.stderr).toContain("ROLLGATE_E_FLEET_URL_CREDENTIALS");
      expect(r.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it("a user alone is refused too", async () => {
    const r = await runCli(["validate", fleetWith("http://admin@{address}:8080")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("http://***@{address}:8080");
    expect(r.stderr).toContain("ROLLGATE_E_FLEET_URL_CREDENTIALS");
  });
});
