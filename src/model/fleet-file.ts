import { isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node } from "yaml";
import type { z } from "zod";
import { addressKey, canonicalAddress, isIPAddress } from "./address.ts";
import type { CompatibilityPolicy } from "./compatibility.ts";
import { MAX_DURATION_SECONDS, parseDuration } from "./duration.ts";
import type { Diagnostic, ErrorCode } from "./errors.ts";
import {
  DEFAULT_CAPACITY_FLOOR,
  DEFAULT_MAX_MIXED_WINDOW,
  type Cluster,
  type Fleet,
  type OrderSpec,
  plainTerritory,
  type Supercluster,
  superclusterLineage,
} from "./fleet.ts";
import {
  DRIVER_COMMAND_NAMES,
  ESTIMATE_KEYS,
  expectedAt,
  fleetFileSchema,
  keysAt,
  valuesAt,
  type FleetFile,
  type FleetFileCluster,
  type FleetFileCompatibility,
  type FleetFileOrder,
} from "./fleet-schema.ts";
import { isVersionString } from "./version.ts";

/**
 * Fleet file → Fleet. Pure: takes the text and the name to report it by. Every error is collected
 * (YAML syntax, shape, then meaning) and returned at once, each with line, column and field path.
 * Never throws for any input.
 */
export type FleetParseResult = { ok: true; fleet: Fleet } | { ok: false; diagnostics: Diagnostic[] };

type Path = ReadonlyArray<string | number>;

export function formatPath(path: Path): string {
  let out = "";
  for (const p of path) out += typeof p === "number" ? `[${p}]` : out ? `.${p}` : p;
  return out;
}

/** What a "no such cluster/server" diagnostic refers to (see `prune`). */
interface Reference {
  kind: "cluster" | "server";
  name: string;
}

class Reporter {
  readonly diagnostics: Diagnostic[] = [];
  /** Diagnostics that say a named cluster or server does not exist, and which one. */
  readonly references = new Map<Diagnostic, Reference>();
  constructor(
    private readonly file: string,
    private readonly doc: Document,
    private readonly lines: LineCounter,
    /** Maps a path of a pruned copy (see `prune`) back to the file's own path. */
    private readonly toFile: (path: Path) => Path = (p) => p,
  ) {}

  /** Position of the node at `path`, or of its nearest existing ancestor. */
  private position(path: Path, onKey = false): { line: number; column: number } {
    for (let n = path.length; n >= 0; n--) {
      const sub = path.slice(0, n);
      const node = (sub.length === 0 ? this.doc.contents : this.doc.getIn(sub, true)) as
        | Node
        | null
        | undefined;
      if (node && typeof node === "object" && "range" in node && node.range) {
        let offset = node.range[0];
        if (onKey || n < path.length) {
          const parent = (
            sub.length === 0 ? this.doc.contents : this.doc.getIn(sub.slice(0, -1), true)
          ) as Node | null;
          if (n === path.length && isMap(parent)) {
            const pair = parent.items.find((it) => isScalar(it.key) && it.key.value === sub[sub.length - 1]);
            if (pair && isScalar(pair.key) && pair.key.range) offset = pair.key.range[0];
          }
        }
        const { line, col } = this.lines.linePos(offset);
        return { line, column: col };
      }
    }
    return { line: 1, column: 1 };
  }

  /** A diagnostic that a cluster or server named here does not exist. */
  missing(code: ErrorCode, at: Path, ref: Reference, message: string, expected: string): void {
    this.add(code, at, message, expected);
    this.references.set(this.diagnostics[this.diagnostics.length - 1]!, ref);
  }

  add(code: ErrorCode, at: Path, message: string, expected?: string, onKey = false): void {
    const path = this.toFile(at);
    this.diagnostics.push({
      code,
      message,
      file: this.file,
      ...this.position(path, onKey),
      path: formatPath(path) || "(document)",
      ...(expected ? { expected } : {}),
    });
  }
}

/**
 * The largest fleet file accepted: 8 MiB. A fleet of 10,000 servers written out in full (every
 * estimate of every cluster, a driver each) takes about 2 MB, so this leaves room for 40,000 and
 * more, and keeps validation (linear, about a second per MiB) and its memory bounded. Larger files
 * are refused before they are parsed. docs/security.md, "Input limits".
 */
export const MAX_FLEET_FILE_BYTES = 8 * 1024 * 1024;

/** The diagnostic for a fleet file of `bytes` bytes (or more, when read from a pipe), beyond the limit. */
export function fleetTooLarge(file: string, bytes: number, atLeast = false): Diagnostic {
  const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
  const size = atLeast ? `more than ${MAX_FLEET_FILE_BYTES} bytes` : `${mib(bytes)} (${bytes} bytes)`;
  return {
    code: "ROLLGATE_E_FLEET_TOO_LARGE",
    message: `the fleet file is ${size}, larger than the limit of ${mib(MAX_FLEET_FILE_BYTES)} (${MAX_FLEET_FILE_BYTES} bytes)`,
    file,
    expected: `a fleet file of at most ${MAX_FLEET_FILE_BYTES} bytes`,
  };
}

export function parseFleetText(text: string, file = "fleet.yaml"): FleetParseResult {
  // a string's length is at most its UTF-8 size: anything longer is over the limit in bytes too
  if (text.length > MAX_FLEET_FILE_BYTES)
    return { ok: false, diagnostics: [fleetTooLarge(file, text.length)] };
  const lines = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter: lines,
    prettyErrors: false,
    uniqueKeys: true,
    strict: true,
  });
  if (doc.errors.length > 0) {
    return {
      ok: false,
      diagnostics: doc.errors.map((e) => {
        const pos = e.linePos?.[0] ?? lines.linePos(e.pos[0]);
        return {
          code: "ROLLGATE_E_FLEET_YAML" as const,
          message: e.message.split("\n")[0]!.replace(/ at line \d+, column \d+.*$/, ""),
          file,
          line: pos.line,
          column: pos.col,
          expected: "well-formed YAML (check the indentation)",
        };
      }),
    };
  }
  keepVersionsAsWritten(doc);
  const rep = new Reporter(file, doc, lines);
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    rep.add("ROLLGATE_E_FLEET_YAML", [], (e as Error).message);
    return { ok: false, diagnostics: rep.diagnostics };
  }
  const shape = fleetFileSchema.safeParse(raw);
  if (!shape.success) {
    for (const issue of shape.error.issues) reportIssue(rep, issue, raw);
    // All at once: the checks of meaning also run on what is well shaped. The list entries with a
    // shape error (a server, a cluster, a territory, …) are set aside; what the rest then says
    // about the entries set aside (an unknown cluster that is only misshapen) is not reported.
    const part = prune(raw, shape.error.issues);
    if (part) {
      const meaning = new Reporter(file, doc, lines, part.toFile);
      checkMeaning(meaning, part.data);
      for (const d of meaning.diagnostics) {
        const ref = meaning.references.get(d);
        if (!ref || !part.setAside[ref.kind].has(ref.name)) rep.diagnostics.push(d);
      }
    }
    return { ok: false, diagnostics: sortDiagnostics(rep.diagnostics) };
  }
  checkMeaning(rep, shape.data);
  if (rep.diagnostics.length > 0) return { ok: false, diagnostics: sortDiagnostics(rep.diagnostics) };
  return { ok: true, fleet: normalize(shape.data) };
}

interface Copy {
  value: unknown;
  toFile: (path: Path) => Path;
  /** Names of the clusters and servers set aside (a cluster's servers with it). */
  setAside: Record<Reference["kind"], Set<string>>;
}

/** The well-shaped copy, as the schema reads it. */
interface Pruned extends Copy {
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
function prune(raw: unknown, issues: readonly z.core.$ZodIssue[]): Pruned | undefined {
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

function sortDiagnostics(ds: Diagnostic[]): Diagnostic[] {
  return [...ds].sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
}

/** `version: 3.5` and `version: 10` are numbers to YAML; keep the text as written ("3.50" stays "3.50"). */
function keepVersionsAsWritten(doc: Document): void {
  const versionish = new Set(["version"]);
  visit(doc, {
    Pair(_, pair) {
      if (isScalar(pair.key) && versionish.has(String(pair.key.value)) && isScalar(pair.value)) {
        if (typeof pair.value.value === "number" && pair.value.source !== undefined)
          pair.value.value = pair.value.source;
      }
    },
    Seq(_, seq) {
      // compatibility tables: [[3.5, 3.6]]
      for (const item of seq.items) {
        if (isSeq(item)) {
          for (const s of item.items)
            if (isScalar(s) && typeof s.value === "number" && s.source) s.value = s.source;
        }
      }
    },
  });
}

/**
 * One shape issue as a diagnostic that says what was expected there and what was found, in the
 * schema's words (fleet-schema.ts expectedAt), with a "did you mean" for a misspelt key or value.
 * `raw` is the document as parsed: zod 4 does not carry the input in its issues.
 */
function reportIssue(rep: Reporter, issue: z.core.$ZodIssue, raw: unknown): void {
  const path = issue.path.filter((p): p is string | number => typeof p !== "symbol");
  if (issue.code === "unrecognized_keys") {
    const known = knownKeys(path) ?? keysAt(path);
    for (const key of issue.keys) {
      const near = known && closest(key, known);
      rep.add(
        "ROLLGATE_E_FLEET_SCHEMA",
        [...path, key],
        `unknown ${known === DRIVER_COMMAND_NAMES ? "command" : "field"} "${key}"${near ? `: did you mean ${near}?` : ""}`,
        known ? `one of ${known.join(", ")}` : "no such field (is it misspelt?)",
        true,
      );
    }
    return;
  }
  if (path.length === 1 && path[0] === "apiVersion") {
    rep.add(
      "ROLLGATE_E_FLEET_API_VERSION",
      path,
      "apiVersion must be rollgate/v1",
      '"apiVersion: rollgate/v1"',
    );
    return;
  }
  const value = valueAt(raw, path);
  const wanted = expectedAt(path);
  // expected …, found …: the diagnostic's message says both; `expected` keeps the first for JSON
  const foundIt = (expected: string, extra = "") => {
    rep.add(
      "ROLLGATE_E_FLEET_SCHEMA",
      path,
      `expected ${expected}, found ${found(value.value)}${extra}`,
      expected,
    );
  };
  if (issue.code === "invalid_type") {
    if (!value.present) {
      rep.add("ROLLGATE_E_FLEET_SCHEMA", path, "required field is missing", wanted ?? issue.expected);
      return;
    }
    foundIt(wanted ?? article(issue.expected));
    return;
  }
  if (issue.code === "invalid_value") {
    const allowed = issue.values.map((v) => String(v));
    const near = typeof value.value === "string" ? closest(value.value, allowed) : undefined;
    foundIt(`one of ${allowed.join(", ")}`, near ? ` (did you mean ${near}?)` : "");
    return;
  }
  if (issue.code === "invalid_union") {
    foundIt(wanted ?? issue.message, nearForm(path, value.value));
    return;
  }
  if (issue.code === "too_small" || issue.code === "too_big") {
    if (Array.isArray(value.value)) {
      // a list too short or too long: zod's own words say how many
      rep.add("ROLLGATE_E_FLEET_SCHEMA", path, `${issue.message.replace(/^Too (small|big): /, "")}`, wanted);
      return;
    }
    foundIt(wanted ?? issue.message);
    return;
  }
  if (issue.code === "invalid_key") {
    rep.add("ROLLGATE_E_FLEET_SCHEMA", path, "unknown key", "a known action name (install, settle, …)");
    return;
  }
  rep.add("ROLLGATE_E_FLEET_SCHEMA", path, issue.message, wanted);
}

/** " (did you mean same-major?)" for a misspelt word or key of one of the forms a union accepts. */
function nearForm(path: readonly (string | number)[], v: unknown): string {
  let near: string | undefined;
  if (typeof v === "string") near = closest(v, valuesAt(path));
  else if (v && typeof v === "object" && !Array.isArray(v)) {
    const keys = keysAt(path) ?? [];
    const unknown = Object.keys(v).find((k) => !keys.includes(k));
    near = unknown === undefined ? undefined : closest(unknown, keys);
    if (near) return ` (did you mean ${near} instead of ${unknown}?)`;
  }
  return near ? ` (did you mean ${near}?)` : "";
}

/** The value at `path` of the parsed document, and whether its key is there at all. */
function valueAt(raw: unknown, path: readonly (string | number)[]): { present: boolean; value: unknown } {
  let v: unknown = raw;
  for (const seg of path) {
    if (v === null || typeof v !== "object" || !(seg in (v as object)))
      return { present: false, value: undefined };
    v = (v as Record<string | number, unknown>)[seg];
  }
  return { present: true, value: v };
}

/** "number" → "a number" (zod's type names, when the schema has no words of its own). */
const article = (type: string) => (type === "array" ? "a list" : type === "object" ? "a map" : `a ${type}`);

/** What was found, in words: `the string "60%"`, `a list of 2 items`, `the number 12`. */
function found(v: unknown): string {
  if (v === null || v === undefined) return "nothing (an empty value)";
  if (Array.isArray(v)) return `a list of ${v.length} item${v.length === 1 ? "" : "s"}`;
  if (typeof v === "object") {
    const keys = Object.keys(v);
    if (keys.length === 0) return "an empty map ({})";
    return `a map (with ${keys.slice(0, 4).join(", ")}${keys.length > 4 ? ", …" : ""})`;
  }
  const text = JSON.stringify(v);
  return `the ${typeof v} ${text.length > 60 ? `${text.slice(0, 57)}…"` : text}`;
}

/**
 * "one of a, b, c" for an expected value, naming at most a few names: a file with thousands of
 * clusters and thousands of wrong references would otherwise list every name in every diagnostic
 * (quadratic time and memory). A short list gets a "did you mean" for what was written.
 */
const MAX_NAMES_LISTED = 8;
function oneOf(names: { size: number; keys(): Iterator<string> }, written: string): string {
  const first: string[] = [];
  const it = names.keys();
  for (let r = it.next(); !r.done && first.length <= MAX_NAMES_LISTED; r = it.next()) first.push(r.value);
  if (names.size > MAX_NAMES_LISTED)
    return `one of ${first.slice(0, MAX_NAMES_LISTED).join(", ")}, … (${names.size} in all)`;
  const all = first;
  const near = closest(written, all);
  return `one of ${all.join(", ")}${near ? ` (did you mean ${near}?)` : ""}`;
}

/** The names a map at `path` may have, where the schema fixes them (commands, estimates). */
function knownKeys(path: Path): readonly string[] | undefined {
  const last = path[path.length - 1];
  const kind = path[path.length - 2];
  if (last === "commands" && (kind === "exec" || kind === "ssh")) return DRIVER_COMMAND_NAMES;
  if (last === "estimates") return ESTIMATE_KEYS;
  return undefined;
}

/** The known name nearest to a misspelt one (edit distance at most 2, or a prefix), if any. */
export function closest(word: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const k of known) {
    const d =
      k.startsWith(word) || word.startsWith(k) ? 1 : editDistance(word.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return bestDistance <= 2 ? best : undefined;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++)
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}

function checkMeaning(rep: Reporter, f: FleetFile): void {
  const clusterIndex = new Map<string, number>();
  const serverOwner = new Map<string, string>();
  if (f.defaults?.maxMixedWindow !== undefined)
    checkDuration(rep, ["defaults", "maxMixedWindow"], f.defaults.maxMixedWindow);

  f.clusters.forEach((c, ci) => {
    const at = ["clusters", ci] as const;
    if (clusterIndex.has(c.name))
      rep.add(
        "ROLLGATE_E_FLEET_DUPLICATE_NAME",
        [...at, "name"],
        `cluster name "${c.name}" is used twice`,
        "a unique cluster name",
      );
    else clusterIndex.set(c.name, ci);
    checkVersion(rep, [...at, "version"], c.version);
    for (const [k, v] of Object.entries(c.estimates ?? {}))
      if (v !== undefined) checkDuration(rep, [...at, "estimates", k], v);
    if (c.pack === "polycom-dma" && c.servers.length > 2) {
      rep.add(
        "ROLLGATE_E_FLEET_CLUSTER_SIZE",
        [...at, "servers"],
        `a polycom-dma cluster has one or two servers, this one ${c.servers.length} (D1)`,
        "1 or 2 servers",
      );
    }
    const addresses = new Map<string, number>();
    const names = new Set<string>();
    c.servers.forEach((s, si) => {
      const sat = [...at, "servers", si] as const;
      if (names.has(s.name) || serverOwner.has(s.name)) {
        const other = serverOwner.get(s.name);
        rep.add(
          "ROLLGATE_E_FLEET_DUPLICATE_NAME",
          [...sat, "name"],
          other && other !== c.name
            ? `server "${s.name}" is also in cluster "${other}" (a server belongs to exactly one cluster)`
            : `server name "${s.name}" is used twice`,
          "a server name unique in the fleet",
        );
      } else serverOwner.set(s.name, c.name);
      names.add(s.name);
      if (s.version !== undefined) checkVersion(rep, [...sat, "version"], s.version);
      const addrOk = isIPAddress(s.address);
      if (!addrOk)
        rep.add(
          "ROLLGATE_E_FLEET_ADDRESS",
          [...sat, "address"],
          `"${s.address}" is not a valid address`,
          "an IPv4 address such as 10.10.1.3 or an IPv6 address",
        );
      else {
        // the same address written two ways (fd00::1, FD00:0:0::1, ::ffff:10.0.0.1) is one address
        const key = addressKey(s.address)!;
        const other = addresses.get(key);
        if (other !== undefined) {
          const o = c.servers[other]!;
          rep.add(
            "ROLLGATE_E_FLEET_DUPLICATE_ADDRESS",
            [...sat, "address"],
            `address ${s.address} is also the address of ${o.name}${o.address !== s.address ? ` (written ${o.address})` : ""}`,
            "an address unique within the cluster",
          );
        } else addresses.set(key, si);
      }
      s.interfaces?.forEach((ifc, ii) => {
        if (!isIPAddress(ifc))
          rep.add(
            "ROLLGATE_E_FLEET_ADDRESS",
            [...sat, "interfaces", ii],
            `"${ifc}" is not a valid address`,
            "an IPv4 or IPv6 address",
          );
      });
      if (addrOk && s.interfaces && !s.interfaces.some((i) => addressKey(i) === addressKey(s.address))) {
        rep.add(
          "ROLLGATE_E_FLEET_ADDRESS_NOT_INTERFACE",
          [...sat, "address"],
          `address ${s.address} is not among the server's interfaces [${s.interfaces.join(", ")}]`,
          "the address to be one of the interfaces",
        );
      }
    });
    const fsNames = new Set<string>();
    c.filesystems?.forEach((fs, fi) => {
      if (fsNames.has(fs.name))
        rep.add(
          "ROLLGATE_E_FLEET_DUPLICATE_NAME",
          [...at, "filesystems", fi, "name"],
          `filesystem "${fs.name}" is listed twice`,
          "a unique filesystem name",
        );
      fsNames.add(fs.name);
      fs.mountedOn.forEach((sv, mi) => {
        if (!names.has(sv))
          rep.missing(
            "ROLLGATE_E_FLEET_UNKNOWN_SERVER",
            [...at, "filesystems", fi, "mountedOn", mi],
            { kind: "server", name: sv },
            `"${sv}" is not a server of cluster ${c.name}`,
            oneOf(names, sv),
          );
      });
    });
    if (c.order && typeof c.order === "object" && "list" in c.order) {
      const listed = new Set(c.order.list);
      c.order.list.forEach((sv, li) => {
        if (!names.has(sv))
          rep.missing(
            "ROLLGATE_E_FLEET_UNKNOWN_SERVER",
            [...at, "order", "list", li],
            { kind: "server", name: sv },
            `"${sv}" is not a server of cluster ${c.name}`,
            oneOf(names, sv),
          );
      });
      for (const n of names)
        if (!listed.has(n))
          rep.add(
            "ROLLGATE_E_FLEET_UNKNOWN_SERVER",
            [...at, "order", "list"],
            `server "${n}" is missing from the order list`,
            "every server of the cluster listed once",
          );
    }
    checkCompatibility(rep, [...at, "compatibility"], c.compatibility);
    for (const kind of ["http", "exec", "ssh"] as const) {
      const timeout = c.driver?.[kind]?.timeout;
      if (timeout !== undefined) checkDuration(rep, [...at, "driver", kind, "timeout"], timeout);
    }
  });
  checkCompatibility(rep, ["defaults", "compatibility"], f.defaults?.compatibility);

  const scNames = new Set<string>();
  const memberOf = new Map<string, string>();
  // the lineages each cluster belongs to (listed in a supercluster of it, or left one, D6): a
  // territory's design may name a cluster of its lineage that is elsewhere for now
  const lineagesOf = new Map<string, Set<string>>();
  const addLineage = (cn: string, sc: string) =>
    lineagesOf.set(cn, new Set([...(lineagesOf.get(cn) ?? []), superclusterLineage(sc)]));
  for (const sc of f.superclusters ?? []) for (const cn of sc.clusters) addLineage(cn, sc.name);
  for (const c of f.clusters) if (c.leftSupercluster) addLineage(c.name, c.leftSupercluster);
  // leftSupercluster names a supercluster of the file's lineages, on a DMA cluster (D6)
  const fileLineages = new Set((f.superclusters ?? []).map((sc) => superclusterLineage(sc.name)));
  f.clusters.forEach((c, ci) => {
    if (c.leftSupercluster === undefined) return;
    if (c.pack !== "polycom-dma")
      rep.add(
        "ROLLGATE_E_FLEET_UNKNOWN_SUPERCLUSTER",
        ["clusters", ci, "leftSupercluster"],
        `leftSupercluster is for a DMA cluster; ${c.name} uses pack ${c.pack}`,
        "no leftSupercluster",
      );
    else if (!fileLineages.has(superclusterLineage(c.leftSupercluster)))
      rep.add(
        "ROLLGATE_E_FLEET_UNKNOWN_SUPERCLUSTER",
        ["clusters", ci, "leftSupercluster"],
        `${c.name} says it left supercluster "${c.leftSupercluster}", which is of no lineage of this file (D6: a cluster between superclusters stays of the lineage it left)`,
        (f.superclusters ?? []).length > 0
          ? `one of ${(f.superclusters ?? []).map((s) => s.name).join(", ")}`
          : "a supercluster of the file",
      );
  });
  f.superclusters?.forEach((sc, si) => {
    const at = ["superclusters", si] as const;
    if (scNames.has(sc.name))
      rep.add(
        "ROLLGATE_E_FLEET_DUPLICATE_NAME",
        [...at, "name"],
        `supercluster name "${sc.name}" is used twice`,
        "a unique supercluster name",
      );
    scNames.add(sc.name);
    if (sc.clusters.length > 5)
      rep.add(
        "ROLLGATE_E_FLEET_SUPERCLUSTER_SIZE",
        [...at, "clusters"],
        `a supercluster has at most five clusters, this one ${sc.clusters.length} (D1)`,
        "at most 5 clusters",
      );
    const members = new Set<string>();
    sc.clusters.forEach((cn, mi) => {
      const ci = clusterIndex.get(cn);
      if (ci === undefined) {
        rep.missing(
          "ROLLGATE_E_FLEET_UNKNOWN_CLUSTER",
          [...at, "clusters", mi],
          { kind: "cluster", name: cn },
          `unknown cluster "${cn}"`,
          oneOf(clusterIndex, cn),
        );
        return;
      }
      if (members.has(cn))
        rep.add(
          "ROLLGATE_E_FLEET_DUPLICATE_NAME",
          [...at, "clusters", mi],
          `cluster "${cn}" is listed twice`,
          "each member once",
        );
      members.add(cn);
      const owner = memberOf.get(cn);
      if (owner && owner !== sc.name)
        rep.add(
          "ROLLGATE_E_FLEET_CLUSTER_SHARED",
          [...at, "clusters", mi],
          `cluster "${cn}" is already a member of supercluster "${owner}"`,
          "a cluster in at most one supercluster",
        );
      else memberOf.set(cn, sc.name);
      const pack = f.clusters[ci]!.pack;
      if (pack !== sc.pack)
        rep.add(
          "ROLLGATE_E_FLEET_SUPERCLUSTER_PACK",
          [...at, "clusters", mi],
          `cluster "${cn}" uses pack ${pack}, the supercluster ${sc.pack} (D1: all of one pack)`,
          `a ${sc.pack} cluster`,
        );
    });
    const terrNames = new Set<string>();
    const knownMembers = sc.clusters.filter((cn) => clusterIndex.has(cn));
    // members now: a listed cluster that says it left this very supercluster is not one (D5/D6)
    const left = new Set(f.clusters.filter((c) => c.leftSupercluster === sc.name).map((c) => c.name));
    const current = knownMembers.filter((cn) => !left.has(cn));
    sc.territories?.forEach((t, ti) => {
      const tat = [...at, "territories", ti] as const;
      if (terrNames.has(t.name))
        rep.add(
          "ROLLGATE_E_FLEET_DUPLICATE_NAME",
          [...tat, "name"],
          `territory "${t.name}" is listed twice`,
          "a unique territory name",
        );
      terrNames.add(t.name);
      for (const role of ["primary", "backup"] as const) {
        const cn = t[role];
        if (cn === undefined) continue;
        if (!clusterIndex.has(cn))
          rep.missing(
            "ROLLGATE_E_FLEET_UNKNOWN_CLUSTER",
            [...tat, role],
            { kind: "cluster", name: cn },
            `unknown cluster "${cn}"`,
            knownMembers.length > 0
              ? `a member of ${sc.name}: ${knownMembers.join(", ")}`
              : `a member of ${sc.name} (none of its clusters exists)`,
          );
        else if (!members.has(cn)) {
          // the design may name a cluster of the lineage that is elsewhere for now, when the file
          // says where the territory is assigned meanwhile (an upgrade part way, D4/D6)
          const sibling = lineagesOf.get(cn)?.has(superclusterLineage(sc.name)) ?? false;
          if (!sibling || t.assigned === undefined)
            rep.add(
              "ROLLGATE_E_FLEET_NOT_MEMBER",
              [...tat, role],
              `cluster "${cn}" is not a member of supercluster ${sc.name}`,
              sibling
                ? `one of ${knownMembers.join(", ")}, or (${cn} is of ${superclusterLineage(sc.name)}, elsewhere for now) an "assigned" primary/backup among them`
                : `one of ${knownMembers.join(", ")}`,
            );
        }
      }
      for (const role of ["primary", "backup"] as const) {
        const cn = t.assigned?.[role];
        if (cn === undefined || current.includes(cn)) continue;
        if (!clusterIndex.has(cn)) {
          rep.missing(
            "ROLLGATE_E_FLEET_UNKNOWN_CLUSTER",
            [...tat, "assigned", role],
            { kind: "cluster", name: cn },
            `unknown cluster "${cn}"`,
            current.length > 0 ? `a member of ${sc.name}: ${current.join(", ")}` : `a member of ${sc.name}`,
          );
          continue;
        }
        rep.add(
          "ROLLGATE_E_FLEET_NOT_MEMBER",
          [...tat, "assigned", role],
          `cluster "${cn}" is not a member of supercluster ${sc.name} now`,
          current.length > 0 ? `one of ${current.join(", ")}` : `a member of ${sc.name} (none is, now)`,
        );
      }
      if (t.assigned?.backup !== undefined && t.assigned.backup === t.assigned.primary)
        rep.add(
          "ROLLGATE_E_FLEET_NOT_MEMBER",
          [...tat, "assigned", "backup"],
          "the backup cluster is the primary cluster",
          "a backup other than the primary",
        );
      if (t.backup !== undefined && t.backup === t.primary)
        rep.add(
          "ROLLGATE_E_FLEET_NOT_MEMBER",
          [...tat, "backup"],
          "the backup cluster is the primary cluster",
          "a backup other than the primary",
        );
    });
  });
}

function checkVersion(rep: Reporter, path: Path, v: string): void {
  if (!isVersionString(v))
    rep.add(
      "ROLLGATE_E_FLEET_VERSION",
      path,
      `"${v}" is not a version`,
      "a dotted number such as 3.5.1 or 10.0.0.4",
    );
}

function checkDuration(rep: Reporter, path: Path, v: string): void {
  const seconds = parseDuration(v);
  if (seconds === undefined)
    rep.add(
      "ROLLGATE_E_FLEET_DURATION",
      path,
      `"${v}" is not a duration`,
      "a duration such as 90s, 15m, 2h or 1h30m",
    );
  else if (!(seconds <= MAX_DURATION_SECONDS))
    rep.add(
      "ROLLGATE_E_FLEET_DURATION",
      path,
      `"${v}" is longer than the longest duration accepted (7d)`,
      "a duration of at most 7d (604800s)",
    );
}

function checkCompatibility(rep: Reporter, path: Path, c: FleetFileCompatibility | undefined): void {
  if (c && typeof c === "object" && "table" in c) {
    for (const [i, pair] of c.table.entries()) {
      for (const [j, v] of pair.entries())
        checkVersion(rep, [...path, "table", i, j], v.replace(/\.x$/i, ""));
    }
  }
}

function toPolicy(c: FleetFileCompatibility | undefined): CompatibilityPolicy | undefined {
  if (c === undefined) return undefined;
  if (c === "same-major-minor" || c === "same-major") return { kind: c };
  if ("minorDistance" in c) return { kind: "minor-distance", max: c.minorDistance };
  return { kind: "table", pairs: c.table.map(([a, b]) => [a, b] as const) };
}

function toOrder(o: FleetFileOrder | undefined): OrderSpec | undefined {
  if (o === undefined) return undefined;
  if (o === "address-descending") return { by: "address", direction: "descending" };
  if (o === "address-ascending") return { by: "address", direction: "ascending" };
  if (o === "name") return { by: "name" };
  if ("roleLast" in o) return { by: "role", last: o.roleLast };
  return { by: "list", servers: o.list };
}

function normalizeCluster(c: FleetFileCluster, supercluster: string | undefined): Cluster {
  const estimates: Record<string, number> = {};
  for (const [k, v] of Object.entries(c.estimates ?? {}))
    if (v !== undefined) estimates[k] = parseDuration(v)!;
  const out: Cluster = {
    name: c.name,
    pack: c.pack,
    version: c.version,
    capacity: c.capacity ?? 1,
    estimates,
    // addresses in canonical form (RFC 5952 for IPv6), so that every later comparison agrees
    servers: c.servers.map((s) => ({
      name: s.name,
      address: canonicalAddress(s.address)!,
      interfaces: (s.interfaces ?? [s.address]).map((i) => canonicalAddress(i)!),
      version: s.version ?? c.version,
      capacity: s.capacity ?? 1,
      ...(s.role !== undefined ? { role: s.role } : {}),
    })),
    filesystems: (c.filesystems ?? []).map((fs) => ({ name: fs.name, mountedOn: [...fs.mountedOn] })),
  };
  if (c.driver) {
    out.driver = {};
    if (c.driver.http)
      out.driver.http = {
        url: c.driver.http.url,
        ...(c.driver.http.timeout ? { timeout: parseDuration(c.driver.http.timeout)! } : {}),
      };
    if (c.driver.exec) {
      out.driver.exec = { commands: c.driver.exec.commands };
      if (c.driver.exec.timeout) out.driver.exec.timeout = parseDuration(c.driver.exec.timeout)!;
    }
    if (c.driver.ssh) {
      const { timeout, ...rest } = c.driver.ssh;
      out.driver.ssh = { ...rest };
      if (timeout) out.driver.ssh.timeout = parseDuration(timeout)!;
    }
  }
  if (c.maxUnavailable !== undefined) out.maxUnavailable = c.maxUnavailable;
  const order = toOrder(c.order);
  if (order) out.order = order;
  const compat = toPolicy(c.compatibility);
  if (compat) out.compatibility = compat;
  if (supercluster) out.supercluster = supercluster;
  else if (c.leftSupercluster) out.leftSupercluster = c.leftSupercluster;
  return out;
}

function normalize(f: FleetFile): Fleet {
  // a listed member marked as having left this very supercluster is in none now (D5/D6: an abort
  // after the clusters left; the file keeps the supercluster's design, its territories)
  const leftOf = new Map(f.clusters.map((c) => [c.name, c.leftSupercluster]));
  const hasLeft = (cluster: string, sc: string) => leftOf.get(cluster) === sc;
  const memberOf = new Map<string, string>();
  for (const sc of f.superclusters ?? [])
    for (const c of sc.clusters) if (!hasLeft(c, sc.name)) memberOf.set(c, sc.name);
  const superclusters: Supercluster[] = (f.superclusters ?? []).map((sc) => {
    const former = sc.clusters.filter((c) => hasLeft(c, sc.name));
    return {
      name: sc.name,
      pack: sc.pack,
      clusters: sc.clusters.filter((c) => !hasLeft(c, sc.name)),
      ...(former.length > 0 ? { formerMembers: former } : {}),
      territories: (sc.territories ?? []).map(plainTerritory),
    };
  });
  const compat = toPolicy(f.defaults?.compatibility);
  return {
    name: f.fleet,
    defaults: {
      capacityFloor: f.defaults?.capacityFloor ?? DEFAULT_CAPACITY_FLOOR,
      maxMixedWindow: f.defaults?.maxMixedWindow
        ? parseDuration(f.defaults.maxMixedWindow)!
        : DEFAULT_MAX_MIXED_WINDOW,
      ...(compat ? { compatibility: compat } : {}),
    },
    clusters: f.clusters.map((c) => normalizeCluster(c, memberOf.get(c.name))),
    superclusters,
  };
}
