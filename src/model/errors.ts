/**
 * The one error catalog. Every error rollgate reports carries a stable code from here; each code
 * has a section in docs/errors.md (test/model/errors-catalog.test.ts keeps the two in sync).
 *
 * Exit codes: 0 ok, 1 an operation halted (escalation, abort), 2 bad input or usage, 3 internal error,
 * 4 the engine lost its run's lease to another engine (docs/ha.md).
 *
 * HTTP statuses (what the API answers for the code, `{ error: { code, message } }`): 400 bad
 * input (a flag, a field, a fleet file), 401/403 the token, 404 a thing named that does not exist,
 * 409 the state of a run, lab or fleet does not allow it (locked, finished, halted), 422 a valid
 * request the rules refuse (no plan can keep them), 500 a bug, 502 a server or driver answered
 * badly, 503 a resource of this host is unavailable (the state file, a port, a lock), 504 the lab
 * did not answer in time.
 *
 * Add a code by adding an entry to the right section below and a `### CODE` section to
 * docs/errors.md (its first line: `Exit N. HTTP S.`).
 */
export type ExitCode = 0 | 1 | 2 | 3 | 4;

export type HttpStatus = 400 | 401 | 403 | 404 | 409 | 422 | 500 | 502 | 503 | 504;

export interface ErrorSpec {
  /** One line, what went wrong in general; the instance adds the specifics. */
  readonly title: string;
  readonly exit: ExitCode;
  /** The HTTP status the API answers with this code. */
  readonly status: HttpStatus;
}

export const ERROR_CATALOG = {
  // ── usage and internal ─────────────────────────────────────────────────────────────
  ROLLGATE_E_USAGE: { title: "The command line is not valid", exit: 2, status: 400 },
  ROLLGATE_E_INTERNAL: {
    title: "rollgate hit an internal error (a bug: please report it)",
    exit: 3,
    status: 500,
  },

  // ── fleet file (model/) ────────────────────────────────────────────────────────────
  ROLLGATE_E_FLEET_NOT_FOUND: { title: "The fleet file cannot be read", exit: 2, status: 404 },
  ROLLGATE_E_FLEET_TOO_LARGE: {
    title: "The fleet file is larger than the limit (8 MiB)",
    exit: 2,
    status: 400,
  },
  ROLLGATE_E_FLEET_NOT_WRITABLE: {
    title: "The fleet file is not writable (fleet sync --write)",
    exit: 2,
    status: 403,
  },
  ROLLGATE_E_FLEET_YAML: { title: "The fleet file is not valid YAML", exit: 2, status: 400 },
  ROLLGATE_E_FLEET_SCHEMA: { title: "A field of the fleet file has the wrong shape", exit: 2, status: 400 },
  ROLLGATE_E_FLEET_API_VERSION: {
    title: "The fleet file's apiVersion is not rollgate/v1",
    exit: 2,
    status: 400,
  },
  ROLLGATE_E_FLEET_DUPLICATE_NAME: { title: "A name is used twice in the fleet file", exit: 2, status: 400 },
  ROLLGATE_E_FLEET_UNKNOWN_CLUSTER: {
    title: "A supercluster or territory names a cluster that does not exist",
    exit: 2,
    status: 400,
  },
  ROLLGATE_E_FLEET_UNKNOWN_SUPERCLUSTER: {
    title: "A cluster's leftSupercluster names no supercluster of the fleet file",
    exit: 2,
    status: 400,
  },
  ROLLGATE_E_FLEET_NOT_MEMBER: {
    title: "A territory names a cluster outside its supercluster",
    exit: 2,
    status: 400,
  },
  ROLLGATE_E_FLEET_CLUSTER_SHARED: {
    title: "A cluster belongs to more than one supercluster",
    exit: 2,
    status: 400,
  },
  ROLLGATE_E_FLEET_SUPERCLUSTER_SIZE: {
    title: "A supercluster has more than five clusters (D1)",
    exit: 2,
    status: 400,
  },
  ROLLGATE_E_FLEET_SUPERCLUSTER_PACK: {
    title: "A supercluster mixes clusters of different rule packs (D1)",
    exit: 2,
    status: 400,
  },
  ROLLGATE_E_FLEET_CLUSTER_SIZE: {
    title: "A cluster has a number of servers its rule pack does not allow (D1)",
    exit: 2,
    status: 400,
  },
  ROLLGATE_E_FLEET_PASSES: {
    title: "A cluster's mode or passes (M11) cannot be planned as declared",
    exit: 2,
    status: 400,
  },
  ROLLGATE_E_FLEET_ADDRESS: { title: "An address is not a valid IPv4 or IPv6 address", exit: 2, status: 400 },
  ROLLGATE_E_FLEET_DUPLICATE_ADDRESS: {
    title: "Two servers of one cluster share an address",
    exit: 2,
    status: 400,
  },
  ROLLGATE_E_FLEET_ADDRESS_NOT_INTERFACE: {
    title: "A server's address is not among its interfaces",
    exit: 2,
    status: 400,
  },
  ROLLGATE_E_FLEET_UNKNOWN_SERVER: {
    title: "A filesystem is mounted on a server that is not in its cluster",
    exit: 2,
    status: 400,
  },
  ROLLGATE_E_FLEET_DURATION: { title: "A duration is not of the form 90s, 15m, 2h", exit: 2, status: 400 },
  ROLLGATE_E_FLEET_URL_CREDENTIALS: {
    title: "A URL of the fleet file (a driver's, a webhook's) has a user or password in it",
    exit: 2,
    status: 400,
  },
  ROLLGATE_E_FLEET_WEBHOOK_URL: {
    title: "A webhook URL of the fleet file is not an http:// or https:// URL",
    exit: 2,
    status: 400,
  },
  ROLLGATE_E_FLEET_SECRET_ENV: {
    title: "A webhook's secretEnv names an environment variable that is not set",
    exit: 2,
    status: 400,
  },
  ROLLGATE_E_FLEET_VERSION: { title: "A version is not a dotted number such as 3.5.1", exit: 2, status: 400 },

  // ── import (import/: rollgate import ansible) ──────────────────────────────────────
  ROLLGATE_E_IMPORT_NOT_FOUND: { title: "The inventory file cannot be read", exit: 2, status: 400 },
  ROLLGATE_E_IMPORT_TOO_LARGE: { title: "The inventory file is larger than 8 MiB", exit: 2, status: 400 },
  ROLLGATE_E_IMPORT_SYNTAX: {
    title: "A line of the inventory is malformed (INI, YAML or ansible-inventory JSON)",
    exit: 2,
    status: 400,
  },
  ROLLGATE_E_IMPORT_SHARED: {
    title: "A host is in two groups that become clusters (or a cluster in two superclusters)",
    exit: 2,
    status: 400,
  },
  ROLLGATE_E_IMPORT_NO_ADDRESS: {
    title: "A host has no IP address (no ansible_host, and its name is not an IP address)",
    exit: 2,
    status: 400,
  },
  ROLLGATE_E_IMPORT_NO_PACK: {
    title: "A host of a cluster has no rule pack (rollgate_pack or --pack)",
    exit: 2,
    status: 400,
  },
  ROLLGATE_E_IMPORT_PACK: {
    title: "A pack is not one rollgate has, or cannot be used where it stands",
    exit: 2,
    status: 400,
  },
  ROLLGATE_E_IMPORT_NO_VERSION: {
    title: "A cluster's hosts have no release (rollgate_version or --version)",
    exit: 2,
    status: 400,
  },
  ROLLGATE_E_IMPORT_BAD_VALUE: {
    title: "A rollgate_ variable has a value of the wrong form (a version, a capacity, a name)",
    exit: 2,
    status: 400,
  },
  ROLLGATE_E_IMPORT_UNMAPPED: {
    title: "A host or group cannot be mapped to a cluster or supercluster of the fleet",
    exit: 2,
    status: 400,
  },
  ROLLGATE_E_IMPORT_EMPTY: { title: "No group of the inventory becomes a cluster", exit: 2, status: 400 },
  ROLLGATE_E_IMPORT_NOT_WRITABLE: {
    title: "The output fleet file (-o) cannot be written",
    exit: 2,
    status: 400,
  },

  // ── plan (rules/, plan/) ───────────────────────────────────────────────────────────
  ROLLGATE_E_PLAN_BAD_TARGET: {
    title: "The target release (--to) is not valid for this fleet",
    exit: 2,
    status: 400,
  },
  ROLLGATE_E_PLAN_BAD_LIMIT: {
    title: "A --limit names no cluster, supercluster or pack of the fleet (or names a server)",
    exit: 2,
    status: 400,
  },
  ROLLGATE_E_PLAN_LIMIT_SPLITS_SUPERCLUSTER: {
    title: "A --limit takes part of a supercluster that must be upgraded as a whole (D2, D3, D6)",
    exit: 2,
    status: 400,
  },
  ROLLGATE_E_PLAN_TARGET_NOT_NEWER: {
    title: "The target release is not newer than a cluster's current release",
    exit: 2,
    status: 400,
  },
  ROLLGATE_E_PLAN_UNSUPPORTED_PATH: {
    title: "No supported rolling-upgrade path to the target (M8, G1)",
    exit: 2,
    status: 422,
  },
  ROLLGATE_E_PLAN_UNKNOWN_STRATEGY: {
    title: "The strategy named by --strategy does not exist",
    exit: 2,
    status: 400,
  },
  ROLLGATE_E_PLAN_STRATEGY_NOT_APPLICABLE: {
    title: "The chosen strategy does not apply to this upgrade",
    exit: 2,
    status: 422,
  },
  ROLLGATE_E_PLAN_FLOOR_UNREACHABLE: {
    title: "No plan keeps the capacity floor (G3) for this upgrade",
    exit: 2,
    status: 422,
  },
  ROLLGATE_E_PLAN_NO_TERRITORY_ROOM: {
    title: "No plan leaves room to reassign a supercluster's territories (D4) within the capacity floor (G3)",
    exit: 2,
    status: 422,
  },
  ROLLGATE_E_ROLLBACK_NOTHING: {
    title: "There is nothing to roll back: no named matrix runs two releases",
    exit: 2,
    status: 422,
  },
  ROLLGATE_E_ROLLBACK_PAST_NO_RETURN: {
    title: "The old release cannot come back: the matrix is past its point of no return (M4)",
    exit: 2,
    status: 422,
  },
  ROLLGATE_E_ROLLBACK_UNSUPPORTED: {
    title:
      "rollgate cannot roll this cluster back (a generic cluster; a filesystem only newer servers mount, M5; a DMA cluster that cannot say what it returns to or could rejoin nothing, D9)",
    exit: 2,
    status: 422,
  },
  ROLLGATE_E_PLAN_FLEET_BREAKS_RULES: {
    title: "The fleet as the file describes it already breaks a rule (e.g. an out-of-order upgrade, M3)",
    exit: 2,
    status: 422,
  },
  ROLLGATE_E_PLAN_VERIFY_FAILED: {
    title: "The planner produced a plan the verifier rejects (a bug: please report it)",
    exit: 3,
    status: 500,
  },
  ROLLGATE_E_PLAN_FOREIGN_STEP: {
    title: "A step of the plan names a cluster, server or action the fleet does not have",
    exit: 3,
    status: 500,
  },

  // ── lab (lab/) ─────────────────────────────────────────────────────────────────────
  ROLLGATE_E_LAB_RUNNING: { title: "A lab is already running for this fleet file", exit: 2, status: 409 },
  ROLLGATE_E_LAB_NOT_RUNNING: { title: "No lab is running for this fleet file", exit: 2, status: 404 },
  ROLLGATE_E_LAB_START_FAILED: { title: "The lab could not start", exit: 1, status: 503 },
  ROLLGATE_E_LAB_UNREACHABLE: { title: "The lab's control API did not answer", exit: 1, status: 504 },
  ROLLGATE_E_LAB_UNKNOWN_SERVER: { title: "The lab has no server of that name", exit: 2, status: 404 },
  ROLLGATE_E_LAB_REFUSED: { title: "The simulated appliance refused the action", exit: 1, status: 409 },

  // ── engine, store, drivers (run/, store/, drivers/) ────────────────────────────────
  ROLLGATE_E_STATE_OPEN: { title: "The state file cannot be opened", exit: 2, status: 503 },
  ROLLGATE_E_STATE_UNREACHABLE: { title: "The PostgreSQL store cannot be reached", exit: 1, status: 503 },
  ROLLGATE_E_STATE_SCHEMA_NEWER: {
    title: "The store was written by a newer rollgate",
    exit: 2,
    status: 503,
  },
  ROLLGATE_E_RUN_NOT_FOUND: {
    title: "There is no such run (or no unfinished run) in the state file",
    exit: 2,
    status: 404,
  },
  ROLLGATE_E_LEASE_LOST: {
    title: "Another engine took over the run's lease: this engine stopped",
    exit: 4,
    status: 409,
  },
  ROLLGATE_E_RUN_LOCKED: { title: "Another engine is driving this fleet", exit: 2, status: 409 },
  ROLLGATE_E_RUN_LOCK_UNAVAILABLE: {
    title: "The engine lock of the fleet file cannot be created or taken (permissions)",
    exit: 2,
    status: 503,
  },
  ROLLGATE_E_RUN_LIMIT_MISMATCH: {
    title: "A run is resumed with another --limit than it was started with",
    exit: 2,
    status: 409,
  },
  ROLLGATE_E_RUN_FINISHED: { title: "The run has already finished", exit: 2, status: 409 },
  ROLLGATE_E_RUN_UNFINISHED: {
    title: "Another run of this fleet is unfinished: resume it or abort it first",
    exit: 2,
    status: 409,
  },
  ROLLGATE_E_RUN_AMBIGUOUS: {
    title: "Several unfinished runs could be meant: name one with --run ID",
    exit: 2,
    status: 409,
  },
  ROLLGATE_E_RUN_OTHER_FLEET: {
    title: "The run named by --run is a run of another fleet than the fleet file named",
    exit: 2,
    status: 400,
  },
  ROLLGATE_E_RUN_STATE: { title: "The run's state does not allow this action", exit: 2, status: 409 },
  ROLLGATE_E_PREFLIGHT_UNREACHABLE: {
    title: "Servers cannot be reached before the run starts",
    exit: 2,
    status: 502,
  },
  ROLLGATE_E_PREFLIGHT_MISMATCH: {
    title: "The fleet's observed state differs from the fleet file",
    exit: 2,
    status: 409,
  },
  ROLLGATE_E_NO_DRIVER: {
    title: "A cluster has no driver, so rollgate cannot act on it",
    exit: 2,
    status: 400,
  },
  ROLLGATE_E_DRIVER_INCOMPLETE: {
    title: "A cluster's exec or ssh driver has no command for an action the plan needs",
    exit: 2,
    status: 400,
  },
  ROLLGATE_E_ESCALATED: { title: "The run halted and calls for a person (escalation)", exit: 1, status: 409 },
  ROLLGATE_E_CONFIRM_REQUIRED: {
    title: "A point of no return needs an explicit confirmation (G4)",
    exit: 1,
    status: 409,
  },
  ROLLGATE_E_ABORTED: { title: "The run was aborted", exit: 1, status: 409 },
  ROLLGATE_E_DECLINED: { title: "The operator declined the plan", exit: 1, status: 409 },
  ROLLGATE_E_INTERRUPTED: {
    title: "Ctrl-C or SIGTERM came before the run started (nothing was written)",
    exit: 1,
    status: 503,
  },
  ROLLGATE_E_EXEC_DRIVER: {
    title: "The exec driver's command failed or printed no valid status",
    exit: 1,
    status: 502,
  },
  ROLLGATE_E_DRIVER_ANSWER: {
    title:
      "A server's status answer is malformed (a release that is not a version, a field of the wrong type)",
    exit: 1,
    status: 502,
  },
  ROLLGATE_E_SSH_DRIVER: {
    title: "The ssh driver could not connect, or its command failed or printed no valid status",
    exit: 1,
    status: 502,
  },

  ROLLGATE_E_HTTP_DRIVER: {
    title: "The http driver could not deliver an action to the server, or had no answer",
    exit: 1,
    status: 502,
  },

  // ── server and API (server/) ───────────────────────────────────────────────────────
  ROLLGATE_E_API_UNAUTHORIZED: {
    title: "No token, or a token the server does not know (HTTP 401)",
    exit: 2,
    status: 401,
  },
  ROLLGATE_E_API_FORBIDDEN: { title: "The token's role may not do this (HTTP 403)", exit: 2, status: 403 },
  ROLLGATE_E_API_OUT_OF_SCOPE: {
    title: "The token is scoped to another run than the one asked for (HTTP 403)",
    exit: 2,
    status: 403,
  },
  ROLLGATE_E_API_NOT_FOUND: { title: "No such run or resource (HTTP 404)", exit: 2, status: 404 },
  ROLLGATE_E_API_BAD_REQUEST: { title: "The request is not valid (HTTP 400)", exit: 2, status: 400 },
  ROLLGATE_E_API_CONFLICT: {
    title: "The action does not apply to the run in its present state (HTTP 409)",
    exit: 2,
    status: 409,
  },
  ROLLGATE_E_API_NO_ENGINE: {
    title: "No engine is driving the run, so the server cannot resume it (HTTP 409)",
    exit: 2,
    status: 409,
  },
  ROLLGATE_E_API_NO_DASHBOARD: {
    title: "The dashboard's page was not built (HTTP 503)",
    exit: 2,
    status: 503,
  },
  ROLLGATE_E_TOKEN_NOT_FOUND: { title: "The state file has no token of that id", exit: 2, status: 404 },
  ROLLGATE_E_SERVE_LISTEN: {
    title: "The server cannot listen on the host and port asked for",
    exit: 2,
    status: 503,
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

/** A finding tied to a place in an input file (or to a flag, when `file` is absent). */
export interface Diagnostic {
  code: ErrorCode;
  message: string;
  file?: string;
  line?: number;
  column?: number;
  /** The field's path, e.g. clusters[0].servers[2].address */
  path?: string;
  /** What was expected there, in words. */
  expected?: string;
}

/** The anchor of a code's section in docs/errors.md. */
export function errorDocAnchor(code: ErrorCode): string {
  return `docs/errors.md#${code.toLowerCase()}`;
}

/**
 * An error with a catalog code. The CLI prints its message (and diagnostics) without a stack trace
 * and exits with the catalog's exit code.
 */
export class RollgateError extends Error {
  readonly code: ErrorCode;
  readonly diagnostics: Diagnostic[];
  readonly details: Record<string, unknown>;

  constructor(
    code: ErrorCode,
    message: string,
    options: { diagnostics?: Diagnostic[]; details?: Record<string, unknown>; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "RollgateError";
    this.code = code;
    this.diagnostics = options.diagnostics ?? [];
    this.details = options.details ?? {};
  }

  get exitCode(): ExitCode {
    return ERROR_CATALOG[this.code].exit;
  }

  /** The HTTP status the API answers this error with. */
  get httpStatus(): HttpStatus {
    return ERROR_CATALOG[this.code].status;
  }

  toJSON(): Record<string, unknown> {
    return {
      code: this.code,
      message: this.message,
      doc: errorDocAnchor(this.code),
      ...(this.diagnostics.length ? { diagnostics: this.diagnostics } : {}),
      ...(Object.keys(this.details).length ? { details: this.details } : {}),
    };
  }
}

export function isRollgateError(e: unknown): e is RollgateError {
  return e instanceof RollgateError;
}

/** "fleet.yaml:12:7 clusters[0].servers[2].address: … (expected …) [CODE]" */
export function formatDiagnostic(d: Diagnostic): string {
  const where = d.file ? `${d.file}${d.line ? `:${d.line}:${d.column ?? 1}` : ""}` : "";
  const path = d.path ? `${d.path}: ` : "";
  // a message that says "expected X, found Y" already names what was expected
  const expected = d.expected && !d.message.startsWith("expected ") ? ` (expected ${d.expected})` : "";
  return `${where ? `${where} ` : ""}${path}${d.message}${expected} [${d.code}]`;
}
