import { readFileSync } from "node:fs";
import { RollgateError } from "../model/errors.ts";
import type { Fleet } from "../model/fleet.ts";
import { parseFleetText } from "../model/fleet-file.ts";

/**
 * Reads and validates a fleet file: the one place the shell turns a path into a Fleet.
 * Throws a RollgateError carrying every diagnostic (exit code 2) when the file is unreadable or invalid.
 */
export function loadFleetFile(path: string): Fleet {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    const reason = (e as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (e as Error).message;
    throw new RollgateError("ROLLGATE_E_FLEET_NOT_FOUND", `cannot read fleet file ${path}: ${reason}`, {
      diagnostics: [{ code: "ROLLGATE_E_FLEET_NOT_FOUND", file: path, message: reason }],
    });
  }
  const result = parseFleetText(text, path);
  if (!result.ok) {
    const n = result.diagnostics.length;
    throw new RollgateError(
      result.diagnostics[0]!.code,
      `${path}: ${n} error${n === 1 ? "" : "s"} in the fleet file`,
      {
        diagnostics: result.diagnostics,
      },
    );
  }
  return result.fleet;
}
