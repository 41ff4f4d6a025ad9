import { z } from "zod";
import type { ErrorCode } from "../model/errors.ts";
import { isVersionString } from "../model/version.ts";
import type { ActionTarget, ServerObservation } from "./driver.ts";

/**
 * A server's status answer is untrusted input: checked here, where a driver reads it, before the
 * engine compares releases or counts members. A malformed answer (a release that is not a version,
 * a state that is not one of the five, a field of the wrong type) reads as an unreachable server
 * whose `error` names the field and says what was wrong, with `errorCode` ROLLGATE_E_DRIVER_ANSWER:
 * preflight refuses to start (G5), and a running engine escalates with those words.
 * Fields the driver does not check pass through as they are; `server` and `cluster` are the target's, whatever
 * the answer says.
 */
const version = z
  .string()
  .refine(isVersionString, { message: "not a version (a dotted number such as 3.5.1)" });
const names = z.array(z.string());

const observationSchema = z.looseObject({
  state: z.enum(["running", "stopped", "installing", "isolated", "unreachable"]),
  release: version,
  mode: z
    .string()
    .regex(/^[a-z][a-z0-9-]{0,39}$/, { message: "not a mode name (lowercase letters, digits and '-')" })
    .optional(),
  disabled: z.boolean().optional(),
  backups: z.number().int().min(0).optional(),
  members: names.optional(),
  mounts: names.optional(),
  login: z.boolean().optional(),
  dashboard: names.optional(),
  packages: z.record(z.string(), z.string()).optional(),
  clustered: z.boolean().optional(),
  supercluster: z.string().nullable().optional(),
  superclusterMembers: names.optional(),
  inService: z.boolean().optional(),
  busiedOut: z.boolean().optional(),
  rollbackTo: version.nullable().optional(),
  territories: z
    .array(z.object({ name: z.string(), primary: z.string(), backup: z.string().optional() }))
    .optional(),
  activity: z
    .looseObject({
      action: z.string(),
      release: z.string().optional(),
      mode: z.string().optional(),
      startedAt: z.string().optional(),
      endsAt: z.string().nullable().optional(),
    })
    .nullable()
    .optional(),
  lastInstall: z
    .object({
      release: version,
      result: z.enum(["running", "ok", "failed", "interrupted"]),
      at: z.string().optional(),
    })
    .optional(),
  error: z.string().optional(),
});

export const DRIVER_ANSWER_CODE = "ROLLGATE_E_DRIVER_ANSWER" satisfies ErrorCode;

/** What the status answer of `target`'s server says, or an unreachable observation saying why not. */
export function readObservation(answer: unknown, target: ActionTarget, from: string): ServerObservation {
  const who = { server: target.server.name, cluster: target.cluster.name };
  const r = observationSchema.safeParse(answer);
  if (r.success) {
    const { error, ...rest } = r.data;
    // an "unreachable" answer keeps its reason; any other state is as the server says
    return {
      ...rest,
      ...(rest.state === "unreachable" && error ? { error } : {}),
      ...who,
    } as ServerObservation;
  }
  const issue = r.error.issues[0]!;
  const field = issue.path.map(String).join(".") || "(the answer)";
  const value = issue.path.reduce<unknown>(
    (v, k) => (v && typeof v === "object" ? (v as Record<PropertyKey, unknown>)[k] : undefined),
    answer,
  );
  const shown = value === undefined ? "missing" : JSON.stringify(value)?.slice(0, 80);
  const what = value === undefined ? "is missing" : `is ${shown}: ${issue.message}`;
  return {
    ...who,
    state: "unreachable",
    // not observed: the fleet file's release, so that the field stays a valid version
    release: target.server.version,
    error: `${from} of ${target.server.name} is malformed: field ${field} ${what} [${DRIVER_ANSWER_CODE}]`,
    errorCode: DRIVER_ANSWER_CODE,
  };
}
