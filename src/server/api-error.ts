import type { FastifyReply } from "fastify";
import type { ErrorCode } from "../model/errors.ts";

/** HTTP status of every API error code (docs/errors.md, "Server and API"). */
const STATUS = {
  ROLLGATE_E_API_BAD_REQUEST: 400,
  ROLLGATE_E_API_UNAUTHORIZED: 401,
  ROLLGATE_E_API_FORBIDDEN: 403,
  ROLLGATE_E_API_OUT_OF_SCOPE: 403,
  ROLLGATE_E_API_NOT_FOUND: 404,
  ROLLGATE_E_API_CONFLICT: 409,
  ROLLGATE_E_API_NO_ENGINE: 409,
  ROLLGATE_E_API_NO_DASHBOARD: 503,
} as const satisfies Partial<Record<ErrorCode, number>>;

export type ApiErrorCode = keyof typeof STATUS;

/** An error the API answers as `{ error: { code, message } }` with the code's HTTP status. */
export class ApiError extends Error {
  readonly status: number;
  constructor(
    readonly code: ApiErrorCode,
    message: string,
  ) {
    super(message);
    this.status = STATUS[code];
  }
}

export function sendError(reply: FastifyReply, code: ApiErrorCode, message: string): FastifyReply {
  return reply.code(STATUS[code]).header("cache-control", "no-store").send({ error: { code, message } });
}
