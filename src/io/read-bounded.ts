import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { RollgateError } from "../model/errors.ts";

/** What a bounded read says when the file cannot be read, or is larger than its limit. */
export interface BoundedReadErrors {
  unreadable(e: unknown): RollgateError;
  /** `atLeast`: the size is known only to pass the limit (a pipe, a file that grew while read). */
  tooLarge(bytes: number, atLeast: boolean): RollgateError;
}

/**
 * Reads a whole input file of at most `limit` bytes (a fleet file, an inventory): refused by its
 * size when it is a regular file, else after reading one byte more than the limit, never more.
 * A directory or an unreadable path is `unreadable`.
 */
export function readBoundedFile(path: string, limit: number, errors: BoundedReadErrors): string {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (e) {
    throw errors.unreadable(e);
  }
  try {
    const stat = fstatSync(fd);
    if (stat.isDirectory())
      throw errors.unreadable(Object.assign(new Error("is a directory"), { code: "EISDIR" }));
    if (stat.isFile() && stat.size > limit) throw errors.tooLarge(stat.size, false);
    const buf = Buffer.allocUnsafe(limit + 1);
    let n = 0;
    for (;;) {
      const r = readSync(fd, buf, n, buf.length - n, null);
      if (r === 0) break;
      n += r;
      if (n > limit) throw errors.tooLarge(n, true);
    }
    return buf.toString("utf8", 0, n);
  } catch (e) {
    if (e instanceof RollgateError) throw e;
    throw errors.unreadable(e);
  } finally {
    closeSync(fd);
  }
}
