import type { IncomingMessage, ServerResponse } from "node:http";

/** Small helpers shared by the appliance and control servers (node:http, no framework). */

const MAX_BODY = 256 * 1024;

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.destroyed || res.writableEnded) return;
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/**
 * Reads a JSON object body; {} when empty. Rejects with a message for malformed bodies: plain
 * Errors, as every caller answers them at once as the lab's own 400 (badRequest), never further.
 */
export function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on("data", (d: Buffer) => {
      size += d.length;
      if (size > MAX_BODY) {
        reject(new Error("body too large"));
        req.destroy();
      } else chunks.push(d);
    });
    req.on("error", reject);
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8").trim();
      if (!text) return resolve({});
      try {
        const v = JSON.parse(text) as unknown;
        if (!v || typeof v !== "object" || Array.isArray(v))
          reject(new Error("the body must be a JSON object"));
        else resolve(v as Record<string, unknown>);
      } catch {
        // JSON.parse throws only a SyntaxError: the body is not JSON
        reject(new Error("the body is not valid JSON"));
      }
    });
  });
}

export function badRequest(res: ServerResponse, message: string): void {
  sendJson(res, 400, { ok: false, code: "bad-request", message });
}

export function notFound(res: ServerResponse, message = "no such endpoint"): void {
  sendJson(res, 404, { ok: false, code: "not-found", message });
}

/** `?wait=1` / `?wait=0`, else the default. */
export function waitFlag(url: URL, dflt: boolean): boolean {
  const v = url.searchParams.get("wait");
  if (v === null) return dflt;
  return v === "1" || v === "true";
}
