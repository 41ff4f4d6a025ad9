import type { z } from "zod";
import { type FleetFile, fleetFileSchema } from "./fleet-schema.ts";
import type { Path, Reference } from "./fleet-reporter.ts";

interface Copy {
  value: unknown;
  toFile: (path: Path) => Path;
  /** Names of the clusters and servers set aside (a cluster's servers with it). */
  setAside: Record<Reference["kind"], Set<string>>;
}

/** The well-shaped copy, as the schema reads it. */
export interface Pruned extends Copy {
  data: FleetFile;
}

const issuePath = (issue: z.core.$ZodIssue): Path =>
  issue.path.filter((p): p is string | number => typeof p !== "symbol");

/**
 * The well-shaped part of a document whose shape has errors, for the checks of meaning: a copy
 * without what holds a shape error, with the way back from the copy's paths to the file's and the
 * names of the list entries set aside. First the misshapen fields themselves are left out (and
 * unknown fields); where that leaves an entry without a field it needs, the whole list entry (a
 * server, a cluster, a territory, …) is. Undefined when neither gives a well-shaped document (a
 * required top-level field is wrong).
 */
export function prune(raw: unknown, issues: readonly z.core.$ZodIssue[]): Pruned | undefined {
  const leave = new Set<string>(); // file paths left out
  for (const issue of issues) {
    const path = issuePath(issue);
    if (issue.code === "unrecognized_keys")
      for (const k of issue.keys) leave.add(JSON.stringify([...path, k]));
    else if (path.length > 0) leave.add(JSON.stringify(path));
    else return undefined;
  }
  // each round sets aside at least one more list entry, or gives up: it ends
  for (;;) {
    const part = copyWithout(raw, leave);
    const again = fleetFileSchema.safeParse(part.value);
    if (again.success) return { ...part, data: again.data };
    const before = leave.size;
    for (const issue of again.error.issues) {
      const path = part.toFile(issuePath(issue));
      const last = path.findLastIndex((p) => typeof p === "number");
      if (last < 0) return undefined;
      leave.add(JSON.stringify(path.slice(0, last + 1)));
    }
    if (leave.size === before) return undefined;
  }
}

function copyWithout(raw: unknown, leave: ReadonlySet<string>): Copy {
  const kept = new Map<string, number[]>(); // the copy's list path → the file's indices it kept
  const setAside: Copy["setAside"] = { cluster: new Set(), server: new Set() };
  const nameOf = (item: unknown) => {
    const name = (item as { name?: unknown } | null)?.name;
    return typeof name === "string" && name !== "" ? name : undefined;
  };
  const copy = (v: unknown, file: Path, mine: Path): unknown => {
    if (Array.isArray(v)) {
      const out: unknown[] = [];
      const indices: number[] = [];
      v.forEach((item, i) => {
        const at = [...file, i];
        if (leave.has(JSON.stringify(at))) {
          const name = nameOf(item);
          if (at.length === 2 && at[0] === "clusters") {
            if (name) setAside.cluster.add(name);
            const servers = (item as { servers?: unknown } | null)?.servers;
            if (Array.isArray(servers))
              for (const sv of servers) {
                const n = nameOf(sv);
                if (n) setAside.server.add(n);
              }
          } else if (at.length === 4 && at[0] === "clusters" && at[2] === "servers" && name)
            setAside.server.add(name);
          return;
        }
        indices.push(i);
        out.push(copy(item, at, [...mine, out.length]));
      });
      kept.set(JSON.stringify(mine), indices);
      return out;
    }
    if (v !== null && typeof v === "object") {
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v))
        if (!leave.has(JSON.stringify([...file, k]))) out[k] = copy(x, [...file, k], [...mine, k]);
      return out;
    }
    return v;
  };
  const value = copy(raw, [], []);
  return {
    value,
    toFile: (path) =>
      path.map((p, i) =>
        typeof p === "number" ? (kept.get(JSON.stringify(path.slice(0, i)))?.[p] ?? p) : p,
      ),
    setAside,
  };
}
