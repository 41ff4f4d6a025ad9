import type { FastifyReply } from "fastify";
import { ERROR_CATALOG, type ErrorCode } from "../model/errors.ts";

/**
 * Answers an error in the API's shape, `{ error: { code, message } }`, with the code's HTTP status
 * from the catalog (model/errors.ts; docs/errors.md states it for every code). A route refuses a
 * request by throwing a RollgateError; the server's error handler sends it through here.
 */
export function sendError(reply: FastifyReply, code: ErrorCode, message: string): FastifyReply {
  return reply
    .code(ERROR_CATALOG[code].status)
    .header("cache-control", "no-store")
    .send({ error: { code, message } });
}
