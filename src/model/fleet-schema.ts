import { z } from "zod";
import { PACK_NAMES } from "./fleet.ts";
import { NOTIFY_FORMATS, NOTIFY_KINDS } from "./notify.ts";

/**
 * The shape of a `rollgate/v1` fleet file (its JSON Schema: docs/fleet.schema.json). Only shape here; the
 * semantic checks (unique names, addresses, references, D1) live in fleet-file.ts. Objects are strict:
 * a misspelt field is an error, not silently ignored. `rollgate schema` prints this as JSON Schema.
 */

/** The actions a plan's steps perform (plan/types.ts StepAction), in the order of the procedures. */
const STEP_ACTIONS = [
  "disable",
  "backup",
  "stop",
  "install",
  "set-mode",
  "start",
  "verify",
  "reassign-territories",
  "busy-out",
  "leave-supercluster",
  "join-supercluster",
  "restore-territories",
  "return-to-service",
  "enable",
] as const;

/** Action names whose duration an `estimates` map may override, plus `settle` (D7's wait). */
export const ESTIMATE_KEYS = [...STEP_ACTIONS, "settle"] as const;

/**
 * The names a driver's `commands` may have: `status` (observing) and every action a plan or the
 * engine performs. A misspelt name (`instal`) is an unknown field, found when the file is validated,
 * not mid-upgrade.
 */
export const DRIVER_COMMAND_NAMES = ["status", ...STEP_ACTIONS, "mount", "unmount"] as const;
export type DriverCommandName = (typeof DRIVER_COMMAND_NAMES)[number];

/** A string handed to a program (an argument, a host, a path): a NUL byte cannot be passed to one. */
const noNul = (s: z.ZodString) =>
  s.refine((v) => !v.includes("\0"), {
    message: "contains a NUL byte (\\0), which cannot be passed to a program",
  });

/** The largest `capacity` (a server's or a cluster's weight) accepted (docs/security.md). */
export const MAX_CAPACITY = 1_000_000;

const name = z
  .string()
  .min(1)
  .describe("a name (letters, digits, '.', '_' and '-')")
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, {
    message: "a name of letters, digits, '.', '_' and '-', starting with a letter or digit",
  });
const version = z.string().describe("a dotted numeric release such as 3.5.1 or 10.0.0.4");
/**
 * A supercluster's name: a name, optionally followed by `@RELEASE`: the name rollgate gives the
 * new supercluster of an incompatible upgrade (D6, D10: `sc-east@10.1.0`), so that the fleet file
 * can describe the fleet after the upgrade (`rollgate fleet sync`). model/fleet.ts
 * (`superclusterLineage`) reads the lineage from it.
 */
const superclusterName = z
  .string()
  .min(1)
  .describe("a supercluster name: a name, optionally followed by @RELEASE (sc-east@10.1.0)")
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*(@[0-9]+(\.[0-9]+)*)?$/, {
    message:
      "a name of letters, digits, '.', '_' and '-', starting with a letter or digit, optionally followed by @RELEASE (sc-east@10.1.0)",
  });
/** M11: a matrix's operating mode (`classic`, `extended`, …): what a mode pass changes. */
const mode = z
  .string()
  .describe("a matrix mode: lowercase letters, digits and '-', starting with a letter")
  .regex(/^[a-z][a-z0-9-]{0,39}$/, {
    message: "a mode name of lowercase letters, digits and '-', starting with a letter (at most 40)",
  });
/**
 * M11: one complete rolling pass of a matrix's upgrade, in the order declared: `release` (the
 * release change to the target of --to, several passes where M8 needs a chain) or `{ mode: M }`
 * (a pass that sets every server's mode to M, with its own per-server procedure).
 */
const pass = z
  .union([z.literal("release"), z.strictObject({ mode })])
  .describe("an M11 pass: release (to the target release) or { mode: MODE } (a mode change)");
const duration = z.string().describe("a duration such as 90s, 15m, 2h or 1h30m");
const address = z.string().describe("an IPv4 or IPv6 address");

const compatibility = z
  .union([
    z.enum(["same-major-minor", "same-major"]),
    z.strictObject({ minorDistance: z.int().min(0) }),
    z.strictObject({ table: z.array(z.tuple([version, version])).min(1) }),
  ])
  .describe(
    "a G1 compatibility policy: same-major-minor, same-major, { minorDistance: N } or { table: [[A, B], …] }",
  );

const order = z
  .union([
    z.enum(["address-descending", "address-ascending", "name"]),
    z.strictObject({ roleLast: z.array(z.string()).min(1) }),
    z.strictObject({ list: z.array(name).min(1) }),
  ])
  .describe(
    "a G2 upgrade order: address-descending, address-ascending, name, { roleLast: [ROLE, …] } or { list: [SERVER, …] }",
  );

const server = z.strictObject({
  name,
  address,
  interfaces: z.array(address).min(1).optional(),
  version: version.optional(),
  capacity: z.number().positive().max(MAX_CAPACITY).optional(),
  role: z.string().optional(),
  mode: mode
    .optional()
    .describe("M11: this server's mode when it differs from its matrix's (a mode pass part way)"),
});

const filesystem = z.strictObject({ name, mountedOn: z.array(name) });

const commands = z
  .partialRecord(z.enum(DRIVER_COMMAND_NAMES), z.array(noNul(z.string())).min(1))
  .describe("per action, the argument list of its command (no shell)");

const driver = z.strictObject({
  http: z.strictObject({ url: z.string().min(1), timeout: duration.optional() }).optional(),
  exec: z
    .strictObject({
      commands,
      timeout: duration.optional(),
    })
    .optional(),
  ssh: z
    .strictObject({
      commands,
      timeout: duration.optional(),
      host: noNul(z.string().min(1)).optional(),
      user: noNul(z.string().min(1)).optional(),
      port: z.int().min(1).max(65535).optional(),
      identity: noNul(z.string().min(1)).optional(),
      knownHosts: noNul(z.string().min(1)).optional(),
    })
    .optional(),
});

const cluster = z.strictObject({
  name,
  pack: z.enum(PACK_NAMES),
  version,
  capacity: z.number().positive().max(MAX_CAPACITY).optional(),
  estimates: z.partialRecord(z.enum(ESTIMATE_KEYS), duration).optional(),
  maxUnavailable: z.int().min(1).optional(),
  order: order.optional(),
  compatibility: compatibility.optional(),
  servers: z.array(server).min(1),
  filesystems: z.array(filesystem).optional(),
  mode: mode.optional().describe("M11 (polyserve-matrix): the matrix's operating mode now"),
  passes: z
    .array(pass)
    .min(1)
    .optional()
    .describe(
      "M11 (polyserve-matrix): the complete rolling passes an upgrade takes, in order: release, { mode: MODE }",
    ),
  leftSupercluster: superclusterName
    .optional()
    .describe(
      "DMA: the supercluster this cluster left and has joined no other since (an upgrade part way, D5/D6); listed as a member of that very supercluster, it has left it (its design is kept); written by rollgate fleet sync",
    ),
  driver: driver.optional(),
});

const territory = z.strictObject({
  name,
  primary: name,
  backup: name.optional(),
  assigned: z
    .strictObject({ primary: name, backup: name.optional() })
    .optional()
    .describe(
      "DMA: where the territory is assigned now when that differs from its design (primary/backup), for a while during an upgrade (D4/D6): members of this supercluster; apply restores the design; written by rollgate fleet sync",
    ),
});

const supercluster = z.strictObject({
  name: superclusterName,
  pack: z.enum(PACK_NAMES),
  clusters: z.array(name).min(1),
  territories: z.array(territory).optional(),
});

/** A webhook of the `notify:` section (docs/notifications.md). */
const webhook = z.strictObject({
  url: z.string().min(1).describe("an http:// or https:// URL without user or password"),
  format: z.enum(NOTIFY_FORMATS).optional(),
  secretEnv: z
    .string()
    .describe("the name of an environment variable (letters, digits and '_', not starting with a digit)")
    .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, {
      message: "the name of an environment variable: letters, digits and '_', not starting with a digit",
    })
    .optional(),
  events: z.array(z.enum(NOTIFY_KINDS)).min(1).optional(),
});

export const fleetFileSchema = z.strictObject({
  $schema: z.string().optional(),
  apiVersion: z.literal("rollgate/v1"),
  fleet: name,
  defaults: z
    .strictObject({
      capacityFloor: z.number().min(0).max(1).describe("a number between 0 and 1 (e.g. 0.6)").optional(),
      maxMixedWindow: duration.optional(),
      compatibility: compatibility.optional(),
    })
    .optional(),
  clusters: z.array(cluster).min(1),
  superclusters: z.array(supercluster).optional(),
  notify: z.array(webhook).optional(),
});

export type FleetFile = z.infer<typeof fleetFileSchema>;
export type FleetFileCluster = z.infer<typeof cluster>;
export type FleetFileCompatibility = z.infer<typeof compatibility>;
export type FleetFileOrder = z.infer<typeof order>;
export type FleetFilePass = z.infer<typeof pass>;
export type FleetFileWebhook = z.infer<typeof webhook>;

/** The JSON Schema of the fleet file, for editors (`# yaml-language-server: $schema=…`). */
export function fleetJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(fleetFileSchema, { target: "draft-2020-12", io: "input" }) as Record<
    string,
    unknown
  >;
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    $id: "https://rollgate.dev/schema/fleet-v1.json",
    title: "rollgate fleet file (apiVersion rollgate/v1)",
    ...schema,
  };
}

/**
 * The schema's own words for what belongs at a place of the file, for diagnostics (fleet-file.ts):
 * which keys a map there may have (a "did you mean" for a misspelt one) and what a value there
 * must be ("expected a number between 0 and 1 (e.g. 0.6)").
 */
type Segment = string | number;
// biome-ignore lint/suspicious/noExplicitAny: walking zod's definitions generically
type AnySchema = z.ZodType<any>;

/** The node without its optional, default or pipe wrappers. */
function bare(schema: AnySchema): AnySchema {
  let s = schema;
  for (let i = 0; i < 10; i++) {
    const def = s.def as { type: string; innerType?: AnySchema; in?: AnySchema };
    if ((def.type === "optional" || def.type === "default" || def.type === "nullable") && def.innerType)
      s = def.innerType;
    else if (def.type === "pipe" && def.in) s = def.in;
    else break;
  }
  return s;
}

/** The schema nodes that may stand at `path` (several where a union allows several forms). */
function nodesAt(path: readonly Segment[]): AnySchema[] {
  let nodes: AnySchema[] = [fleetFileSchema];
  for (const seg of path) {
    const next: AnySchema[] = [];
    const visit = (n: AnySchema) => {
      const b = bare(n);
      const def = b.def as {
        type: string;
        shape?: Record<string, AnySchema>;
        element?: AnySchema;
        valueType?: AnySchema;
        options?: AnySchema[];
        items?: AnySchema[];
      };
      if (def.type === "object" && typeof seg === "string" && def.shape?.[seg]) next.push(def.shape[seg]!);
      else if (def.type === "array" && typeof seg === "number" && def.element) next.push(def.element);
      else if (def.type === "tuple" && typeof seg === "number" && def.items?.[seg])
        next.push(def.items[seg]!);
      else if (def.type === "record" && def.valueType) next.push(def.valueType);
      else if (def.type === "union") for (const o of def.options ?? []) visit(o);
    };
    for (const n of nodes) visit(n);
    nodes = next;
    if (!nodes.length) return [];
  }
  return nodes;
}

/** The nodes at `path`, each union opened into its forms. */
function formsAt(path: readonly Segment[]): AnySchema[] {
  const out: AnySchema[] = [];
  const open = (n: AnySchema) => {
    const def = bare(n).def as { type: string; options?: AnySchema[] };
    if (def.type === "union") for (const o of def.options ?? []) open(o);
    else out.push(n);
  };
  for (const n of nodesAt(path)) open(n);
  return out;
}

/** The words a value at `path` may be, where the schema names them (enums, literals). */
export function valuesAt(path: readonly Segment[]): string[] {
  const values = new Set<string>();
  for (const n of formsAt(path)) {
    const def = bare(n).def as { type: string; entries?: Record<string, string>; values?: unknown[] };
    if (def.type === "enum") for (const v of Object.values(def.entries ?? {})) values.add(String(v));
    if (def.type === "literal") for (const v of def.values ?? []) values.add(String(v));
  }
  return [...values];
}

/** The keys a map at `path` may have, where the schema names them. */
export function keysAt(path: readonly Segment[]): string[] | undefined {
  const keys = new Set<string>();
  for (const n of formsAt(path)) {
    const def = bare(n).def as { type: string; shape?: object; keyType?: AnySchema };
    if (def.type === "object" && def.shape) for (const k of Object.keys(def.shape)) keys.add(k);
    if (def.type === "record" && def.keyType) {
      const k = bare(def.keyType).def as { type: string; entries?: Record<string, string> };
      if (k.type === "enum" && k.entries) for (const v of Object.values(k.entries)) keys.add(v);
    }
  }
  return keys.size ? [...keys] : undefined;
}

/** What a value at `path` must be, in words; undefined where the schema does not say. */
export function expectedAt(path: readonly Segment[]): string | undefined {
  const nodes = nodesAt(path);
  if (!nodes.length) return undefined;
  const words = [...new Set(nodes.map((n) => describeNode(n)))];
  return words.join(", or ");
}

function describeNode(schema: AnySchema, depth = 0): string {
  const own = schema.description ?? bare(schema).description;
  if (own) return own;
  const b = bare(schema);
  const def = b.def as {
    type: string;
    element?: AnySchema;
    shape?: Record<string, AnySchema>;
    entries?: Record<string, string>;
    values?: unknown[];
    options?: AnySchema[];
    keyType?: AnySchema;
    valueType?: AnySchema;
  };
  switch (def.type) {
    case "number": {
      const n = b as unknown as { minValue: number | null; maxValue: number | null; format?: string | null };
      const what = n.format?.includes("int") ? "a whole number" : "a number";
      // zod keeps an exclusive bound (positive(): > 0) as minValue 0 with inclusive false
      const exclusive = (
        b.def as { checks?: { _zod: { def: { check: string; inclusive?: boolean } } }[] }
      ).checks?.some((c) => c._zod.def.check === "greater_than" && c._zod.def.inclusive === false);
      if (exclusive && n.minValue === 0)
        return n.maxValue !== null && Number.isFinite(n.maxValue)
          ? `a positive number of at most ${n.maxValue}`
          : "a positive number";
      const min = n.minValue !== null && Number.isFinite(n.minValue) && n.minValue > -Number.MAX_SAFE_INTEGER;
      const max = n.maxValue !== null && Number.isFinite(n.maxValue) && n.maxValue < Number.MAX_SAFE_INTEGER;
      if (min && max) return `${what} from ${n.minValue} to ${n.maxValue}`;
      if (min) return `${what} of at least ${n.minValue}`;
      if (max) return `${what} of at most ${n.maxValue}`;
      return what;
    }
    case "string":
      return "a string";
    case "boolean":
      return "true or false";
    case "literal":
      return (def.values ?? []).map((v) => JSON.stringify(v)).join(" or ");
    case "enum":
      return `one of ${Object.values(def.entries ?? {}).join(", ")}`;
    case "array":
      return depth > 1 || !def.element ? "a list" : `a list, each ${describeNode(def.element, depth + 1)}`;
    case "tuple":
      return "a list";
    case "object":
      return `a map (with ${Object.keys(def.shape ?? {})
        .slice(0, 6)
        .join(", ")}${Object.keys(def.shape ?? {}).length > 6 ? ", …" : ""})`;
    case "record":
      return "a map";
    case "union":
      return (def.options ?? []).map((o) => describeNode(o, depth + 1)).join(", or ");
    default:
      return def.type;
  }
}
