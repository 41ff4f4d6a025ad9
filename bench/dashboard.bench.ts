import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dashboardAtScale } from "./dashboard-scale.ts";

/**
 * The dashboard stays smooth with 1,000 servers (issue 6): time until 1,000 live observations are
 * painted, and the longest main-thread task meanwhile (target: no task near a second).
 */
export const cases = [
  {
    name: "dashboard: 1,000 servers, 1,000 live observations",
    run: async () => {
      const dir = mkdtempSync(join(tmpdir(), "rollgate-bench-dashboard-"));
      try {
        const r = await dashboardAtScale(dir);
        return { servers: r.servers, paintMs: r.paintMs, longestTaskMs: r.longestTaskMs };
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  },
];
