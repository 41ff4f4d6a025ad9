import type { DriveHooks } from "../../run/apply.ts";
import type { openExistingStore } from "../../run/locate.ts";
import type { Dashboard } from "../../server/dashboard.ts";
import { DASHBOARD_TOKEN_TTL_SECONDS } from "../../server/defaults.ts";
import { announceDashboard } from "../dashboard-link.ts";
import type { CliContext } from "../main.ts";

type OnStore = NonNullable<DriveHooks["onStore"]>;

/**
 * `apply --dashboard`: the dashboard served beside the run once its store is open, its link
 * announced, its operator token revoked when the command ends (or at once, on a second Ctrl-C).
 * The server is loaded with import() when the store opens, not to register commands.
 */
export class DashboardBeside {
  private dashboard: Dashboard | undefined;
  private forgetLink = () => {};
  private revoke = () => {};

  constructor(
    private readonly ctx: CliContext,
    private readonly options: { port: number | true; fleetFile: string; tokenFile?: string },
    private readonly openStore: typeof openExistingStore,
  ) {}

  readonly onStore: OnStore = async (store, run) => {
    const dashboard = await (await import("../../server/dashboard.ts")).startDashboard(store, {
      port: this.options.port,
      fleetFile: this.options.fleetFile,
      runId: run.id,
    });
    this.dashboard = dashboard;
    const forget = announceDashboard(this.ctx, dashboard, {
      ...(this.options.tokenFile ? { tokenFile: this.options.tokenFile } : {}),
      statePath: store.location,
      ttlSeconds: DASHBOARD_TOKEN_TTL_SECONDS,
    });
    this.forgetLink = forget;
    // a second Ctrl-C exits at once: the token still goes with the command
    const tokenId = dashboard.tokenId;
    this.revoke = () => {
      forget();
      try {
        const s = this.openStore(store.location);
        // the process exits right after (a second Ctrl-C): the SQLite store writes within the call
        // itself, before its promise is returned, so the revoke is on disk without waiting. A
        // networked store (issue 10) needs this exit path to wait for the promise instead.
        try {
          void s.revokeToken(tokenId).catch(() => undefined);
        } finally {
          void s.close().catch(() => undefined);
        }
      } catch {
        // best effort on the way out: a state file gone or unusable took the token with it
      }
    };
  };

  /** On the way out at once (a second Ctrl-C): the link forgotten, the token revoked. */
  revokeNow(): void {
    this.revoke();
  }

  /** The run ended: the dashboard stays a moment for a last look (server/dashboard.ts). */
  async linger(): Promise<void> {
    if (this.dashboard)
      await (await import("../../server/dashboard.ts")).lingerThenClose(
        this.dashboard,
        Boolean(process.stdin.isTTY),
        this.ctx.output.err,
      );
  }

  async close(): Promise<void> {
    await this.dashboard?.close();
  }

  /** The link announced (a token file) is taken back. */
  forget(): void {
    this.forgetLink();
  }
}
