import { RollgateError } from "../model/errors.ts";
import type { Fleet } from "../model/fleet.ts";
import { fleetTooLarge, MAX_FLEET_FILE_BYTES, parseFleetText } from "../model/fleet-file.ts";
import { readBoundedFile } from "./read-bounded.ts";

/**
 * Reads and validates a fleet file: the one place the shell turns a path into a Fleet.
 * Throws a RollgateError carrying every diagnostic (exit code 2) when the file is unreadable or invalid.
 * A file larger than MAX_FLEET_FILE_BYTES is refused before it is parsed (ROLLGATE_E_FLEET_TOO_LARGE):
 * by its size when it is a regular file, else (a pipe, a device) after reading one byte more than the
 * limit, never more.
 */
export function loadFleetFile(path: string): Fleet {
  const text = readFleetText(path);
  const result = parseFleetText(text, path);
  if (!result.ok) {
    const n = result.diagnostics.length;
    throw new RollgateError(
      result.diagnostics[0]!.code,
      n === 1 && result.diagnostics[0]!.code === "ROLLGATE_E_FLEET_TOO_LARGE"
        ? `${path}: ${result.diagnostics[0]!.message}`
        : `${path}: ${n} error${n === 1 ? "" : "s"} in the fleet file`,
      {
        diagnostics: result.diagnostics,
      },
    );
  }
  return result.fleet;
}

export function readFleetText(path: string): string {
  return readBoundedFile(path, MAX_FLEET_FILE_BYTES, {
    unreadable: (e) => notFound(path, e),
    tooLarge: (bytes, atLeast) => tooLarge(path, bytes, atLeast),
  });
}

function tooLarge(path: string, bytes: number, atLeast = false): RollgateError {
  const d = fleetTooLarge(path, bytes, atLeast);
  return new RollgateError("ROLLGATE_E_FLEET_TOO_LARGE", `${path}: ${d.message}`, {
    diagnostics: [d],
    details: {
      file: path,
      ...(atLeast ? { sizeAtLeast: bytes } : { size: bytes }),
      limit: MAX_FLEET_FILE_BYTES,
    },
  });
}

function notFound(path: string, e: unknown): RollgateError {
  const reason = (e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message;
  return new RollgateError("ROLLGATE_E_FLEET_NOT_FOUND", `cannot read fleet file ${path}: ${reason}`, {
    diagnostics: [{ code: "ROLLGATE_E_FLEET_NOT_FOUND", file: path, message: reason }],
  });
}
