import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { e2eTimeouts, waitFor } from "../helpers/wait.ts";
import { CLI_MS, type JourneyLab, jsonLines, journeyLab } from "./engine-helpers.ts";

e2eTimeouts(240_000);

// The seed's matrix on a network of its own (srv3 is first in the upgrade order, M2).
const FLEET = readFileSync(new URL("../../examples/matrix-seed.yaml", import.meta.url), "utf8").replaceAll(
  "10.10.",
  "10.97.",
);

let lab: JourneyLab | undefined;

describe("journey: a server still busy with an install before the start", () => {
  it(
    "srv3 installs 3.5.1 and the install hangs: apply refuses before writing anything (exit 2, G5/M9), naming srv3, its install and the crash that ends it",
    async () => {
      lab = await journeyLab(FLEET, "matrix-seed", 600);
      await lab.fault("srv3", "install-hangs");
      await lab.act("srv3", "stop");
      const started = await lab.cli(["lab", "act", lab.fleet, "srv3", "install", "3.5.1", "--no-wait"]);
      expect(started.code, started.stderr).toBe(0);
      await waitFor(async () =>
        (await lab!.status()).servers.some(
          (s: { name: string; state: string }) => s.name === "srv3" && s.state === "installing",
        ),
      );
      const seen = lab.journal().length;
      const r = await lab.cli([
        "apply",
        lab.derived,
        "--to",
        "3.5.1",
        "--yes",
        "--confirm-finalize",
        "--json",
      ]);
      expect(r.code, r.stderr).toBe(2);
      const err = jsonLines(r.stdout).at(-1).error;
      expect(err.code).toBe("ROLLGATE_E_PREFLIGHT_MISMATCH");
      expect(err.message).toContain(
        "srv3 (matrix-a) is busy: install 3.5.1 in progress, which will not end by itself",
      );
      expect(err.message).toContain("G5, M9");
      expect(err.message).toContain(
        `wait for it to end, or end it with \`rollgate lab fault ${lab.fleet} srv3 crash\``,
      );
      expect(err.message).toContain("nothing was done");
      expect(err.details.busy).toEqual([
        expect.objectContaining({ server: "srv3", activity: expect.objectContaining({ action: "install" }) }),
      ]);
      // nothing written: no run in a state file, no action sent to the lab
      expect(existsSync(join(dirname(lab.derived), ".rollgate", "state.db"))).toBe(false);
      expect(
        lab
          .journal()
          .slice(seen)
          .filter((e) => e.kind === "action"),
      ).toEqual([]);
      // the command it gives ends the install
      const crash = await lab.cli(["lab", "fault", lab.fleet, "srv3", "crash"]);
      expect(crash.code, crash.stderr).toBe(0);
      await waitFor(async () =>
        (await lab!.status()).servers.some(
          (s: { name: string; state: string }) => s.name === "srv3" && s.state !== "installing",
        ),
      );
    },
    CLI_MS * 2,
  );
});
