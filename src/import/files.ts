import { closeSync, fsyncSync, openSync, renameSync, statSync, unlinkSync, writeSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { RollgateError } from "../model/errors.ts";
import { MAX_FLEET_FILE_BYTES } from "../model/fleet-file.ts";
import { readBoundedFile } from "../io/read-bounded.ts";

/**
 * The shell of `rollgate import`: reading the inventory, writing the fleet file. The parsers
 * (ansible*.ts, inventory.ts, to-fleet*.ts) do no I/O.
 */

/** The largest inventory read: the fleet file's limit (8 MiB, docs/security.md). */
export const MAX_INVENTORY_BYTES = MAX_FLEET_FILE_BYTES;

export function readInventory(path: string): string {
  return readBoundedFile(path, MAX_INVENTORY_BYTES, {
    unreadable: (e) => notFound(path, e),
    tooLarge: (bytes, atLeast) =>
      new RollgateError(
        "ROLLGATE_E_IMPORT_TOO_LARGE",
        `cannot read inventory ${path}: ${atLeast ? "at least " : ""}${bytes} bytes, larger than the limit of ${MAX_INVENTORY_BYTES} bytes (8 MiB)`,
        {
          diagnostics: [
            { code: "ROLLGATE_E_IMPORT_TOO_LARGE", file: path, message: "larger than the limit of 8 MiB" },
          ],
        },
      ),
  });
}

/**
 * The `group_vars` and `host_vars` folders beside an inventory file, which Ansible reads with it
 * and rollgate does not (it reads one file): variables set there are not in the fleet it makes.
 */
export function varsFoldersBeside(path: string): string[] {
  return ["group_vars", "host_vars"]
    .map((name) => join(dirname(path), name))
    .filter((dir) => {
      try {
        return statSync(dir).isDirectory();
      } catch {
        return false;
      }
    });
}

function notFound(path: string, e: unknown): RollgateError {
  const reason = (e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message;
  return new RollgateError("ROLLGATE_E_IMPORT_NOT_FOUND", `cannot read inventory ${path}: ${reason}`, {
    diagnostics: [{ code: "ROLLGATE_E_IMPORT_NOT_FOUND", file: path, message: reason }],
  });
}

/**
 * Writes the fleet file whole or not at all: a temporary file beside it (created exclusively,
 * synced), renamed over the target. An error leaves the target as it was.
 */
export function writeFleetAtomically(file: string, text: string): void {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, "wx", 0o644);
    writeSync(fd, text);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, file);
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    try {
      unlinkSync(tmp);
    } catch {
      // not created, or already renamed
    }
    const reason = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new RollgateError(
      "ROLLGATE_E_IMPORT_NOT_WRITABLE",
      `cannot write ${file}: ${reason}; nothing was written`,
      {
        diagnostics: [{ code: "ROLLGATE_E_IMPORT_NOT_WRITABLE", file, message: (e as Error).message }],
      },
    );
  }
}
