import {
  closeSync,
  fstatSync,
  fsyncSync,
  openSync,
  readSync,
  renameSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { RollgateError } from "../model/errors.ts";
import { MAX_FLEET_FILE_BYTES } from "../model/fleet-file.ts";

/**
 * The shell of `rollgate import`: reading the inventory, writing the fleet file. The parsers
 * (ansible*.ts, inventory.ts, to-fleet*.ts) do no I/O.
 */

/** The largest inventory read: the fleet file's limit (8 MiB, docs/security.md). */
export const MAX_INVENTORY_BYTES = MAX_FLEET_FILE_BYTES;

export function readInventory(path: string): string {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (e) {
    throw notFound(path, e);
  }
  try {
    const stat = fstatSync(fd);
    if (stat.isDirectory())
      throw notFound(path, Object.assign(new Error("is a directory"), { code: "EISDIR" }));
    const buf = Buffer.allocUnsafe(MAX_INVENTORY_BYTES + 1);
    let n = 0;
    for (;;) {
      const r = readSync(fd, buf, n, buf.length - n, null);
      if (r === 0) break;
      n += r;
      if (n > MAX_INVENTORY_BYTES)
        throw new RollgateError(
          "ROLLGATE_E_IMPORT_NOT_FOUND",
          `cannot read inventory ${path}: larger than the limit of ${MAX_INVENTORY_BYTES} bytes`,
          {
            diagnostics: [{ code: "ROLLGATE_E_IMPORT_NOT_FOUND", file: path, message: "larger than 8 MiB" }],
          },
        );
    }
    return buf.toString("utf8", 0, n);
  } catch (e) {
    if (e instanceof RollgateError) throw e;
    throw notFound(path, e);
  } finally {
    closeSync(fd);
  }
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
