import { closeSync, constants, lstatSync, openSync, rmSync, writeSync } from "node:fs";
import { redactStoreUrl } from "../store/location.ts";
import { formatDuration } from "../model/duration.ts";
import { RollgateError } from "../model/errors.ts";
import type { Dashboard } from "../server/dashboard.ts";
import type { CliContext } from "./main.ts";

/**
 * Where the link of `apply|demo --dashboard` goes, never into a log:
 * - `--dashboard-token-file PATH`: the link with its token is written to PATH (mode 0600, a
 *   created new: a path that exists, a file or a symlink, is refused before anything starts,
 *   refuseTokenFile), stderr says where, and the file, which rollgate made, is removed when the
 *   command ends;
 * - else, when stderr is a terminal: the link with its token, on stderr;
 * - else (CI, a pipe, a log file): the address without a token, and how to get one.
 * The token expires after its ttl and is revoked when the command ends, whichever comes first.
 * Returns what to do when the command ends.
 */
/**
 * `--dashboard-token-file PATH` is a file rollgate creates and removes: a PATH that exists (a
 * file, even empty, a folder, a symlink) is refused at once, exit 2, nothing started, so an
 * existing file is never overwritten nor removed.
 */
export function refuseTokenFile(path: string | undefined): void {
  if (path === undefined) return;
  let exists = true;
  try {
    lstatSync(path);
  } catch {
    exists = false;
  }
  if (exists)
    throw new RollgateError(
      "ROLLGATE_E_USAGE",
      `--dashboard-token-file ${path}: it exists; rollgate writes the link to a new file it creates (mode 0600) and removes it when the command ends, so it neither overwrites nor removes a file that was there: name a path that does not exist`,
      { details: { path } },
    );
}

export function announceDashboard(
  ctx: CliContext,
  d: Dashboard,
  options: { tokenFile?: string; statePath: string; ttlSeconds: number },
): () => void {
  const lasts = `operator token ${d.tokenId}, revoked when this command ends, expires in ${formatDuration(options.ttlSeconds)} at the latest`;
  if (options.tokenFile) {
    const path = options.tokenFile;
    let fd: number;
    try {
      fd = openSync(
        path,
        constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
        0o600,
      );
    } catch (e) {
      throw new RollgateError(
        "ROLLGATE_E_USAGE",
        `--dashboard-token-file ${path}: cannot create it (${(e as Error).message}); it must be a new file`,
      );
    }
    try {
      writeSync(fd, `${d.link}\n`);
    } finally {
      closeSync(fd);
    }
    ctx.output.err(`dashboard: ${d.page} (the link with its token is in ${path}, mode 0600; ${lasts})`);
    return () => rmSync(path, { force: true });
  }
  if (ctx.output.errIsTTY) {
    ctx.output.err(`dashboard: ${d.link} (${lasts})`);
    return () => {};
  }
  ctx.output.err(
    `dashboard: ${d.page} (its token is not printed: stderr is not a terminal, and a log is no place for it. ` +
      `Pass --dashboard-token-file PATH for the link, or make a token: rollgate token create --role viewer --ttl 8h --state ${redactStoreUrl(options.statePath)})`,
  );
  return () => {};
}
