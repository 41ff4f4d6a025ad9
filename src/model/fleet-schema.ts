import { z } from "zod";
import { PACK_NAMES } from "./fleet.ts";

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
  "start",
  "verify",
  "reassign-territories",
  "busy-out",
  "leave-supercluster",
  "join-supercluster",
  "restore-territories",
  "return-to-service",
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
  .describe("a name: letters, digits, '-', '_', '.'")
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
const duration = z.string().describe("a duration such as 90s, 15m, 2h or 1h30m");
const address = z.string().describe("an IPv4 or IPv6 address");

const compatibility = z
  .union([
    z.enum(["same-major-minor", "same-major"]),
    z.strictObject({ minorDistance: z.int().min(0) }),
    z.strictObject({ table: z.array(z.tuple([version, version])).min(1) }),
  ])
  .describe("G1 compatibility policy");

const order = z
  .union([
    z.enum(["address-descending", "address-ascending", "name"]),
    z.strictObject({ roleLast: z.array(z.string()).min(1) }),
    z.strictObject({ list: z.array(name).min(1) }),
  ])
  .describe("G2 upgrade order");

const server = z.strictObject({
  name,
  address,
  interfaces: z.array(address).min(1).optional(),
  version: version.optional(),
  capacity: z.number().positive().max(MAX_CAPACITY).optional(),
  role: z.string().optional(),
});

const filesystem = z.strictObject({ name, mountedOn: z.array(name) });

const commands = z
  .partialRecord(z.enum(DRIVER_COMMAND_NAMES), z.array(noNul(z.string())).min(1))
  .describe("per action, the argument list of its command (no shell)");

const driver = z.strictObject({
  http: z.strictObject({ url: z.string().min(1) }).optional(),
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
  leftSupercluster: superclusterName
    .optional()
    .describe(
      "DMA: the supercluster this cluster left and has joined no other since (an upgrade part way, D6); written by rollgate fleet sync",
    ),
  driver: driver.optional(),
});

const territory = z.strictObject({ name, primary: name, backup: name.optional() });

const supercluster = z.strictObject({
  name: superclusterName,
  pack: z.enum(PACK_NAMES),
  clusters: z.array(name).min(1),
  territories: z.array(territory).optional(),
});

export const fleetFileSchema = z.strictObject({
  $schema: z.string().optional(),
  apiVersion: z.literal("rollgate/v1"),
  fleet: name,
  defaults: z
    .strictObject({
      capacityFloor: z.number().min(0).max(1).optional(),
      maxMixedWindow: duration.optional(),
      compatibility: compatibility.optional(),
    })
    .optional(),
  clusters: z.array(cluster).min(1),
  superclusters: z.array(supercluster).optional(),
});

export type FleetFile = z.infer<typeof fleetFileSchema>;
export type FleetFileCluster = z.infer<typeof cluster>;
export type FleetFileCompatibility = z.infer<typeof compatibility>;
export type FleetFileOrder = z.infer<typeof order>;

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
