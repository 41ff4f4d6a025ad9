import { isMap, isScalar, isSeq, parseDocument, type Document, type YAMLMap, YAMLSeq } from "yaml";
import { RollgateError } from "./errors.ts";
import type { Fleet, Territory } from "./fleet.ts";
import { superclusterLineage } from "./fleet.ts";
import { parseFleetText } from "./fleet-file.ts";

/**
 * `rollgate fleet sync`: the fleet file brought up to what the servers report (G5), as text, with
 * its comments and layout kept (the `yaml` package's Document API edits the nodes in place). Pure:
 * the shell observes (run/fleet-sync.ts) and writes.
 *
 * What is synced: every server's release (the cluster's `version`, and a server's own `version`
 * where it differs from its cluster's), and for DMA clusters the superclusters: their names (the
 * new supercluster of an upgrade is `<lineage>@<release>`, D6), members (founder first, D10) and
 * territories as the clusters see them. A supercluster that no longer exists is renamed in place
 * when a supercluster of its lineage takes its place, else removed; a new one is appended.
 */
export interface ObservedCluster {
  cluster: string;
  /** Release per server, as each reports it. */
  releases: Record<string, string>;
  /** DMA: the supercluster the cluster is a member of (null: none); undefined when not reported. */
  supercluster?: string | null;
  /** DMA: the supercluster's members as the cluster sees them (its founder first). */
  members?: string[];
  /** DMA: the supercluster's territories as the cluster sees them. */
  territories?: Territory[];
}

export interface FleetChange {
  /** Where in the file, as a YAML path ("clusters[0].version"). */
  path: string;
  detail: string;
}

export interface FleetSyncResult {
  text: string;
  changes: FleetChange[];
}

function pathText(path: (string | number)[]): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? p : `.${p}`)).join("");
}

/** A node for a flow or block collection like `like` (the file's own style kept). */
function seqLike(doc: Document, like: unknown, items: unknown[]): YAMLSeq {
  const node = doc.createNode(items) as YAMLSeq;
  if (isSeq(like)) node.flow = like.flow ?? false;
  if (isSeq(like) && isMap(like.items[0]))
    for (const it of node.items) if (isMap(it)) it.flow = like.items[0].flow ?? false;
  return node;
}

function scalarText(node: unknown): string | undefined {
  if (isScalar(node)) return node.source ?? String(node.value);
  return undefined;
}

export function syncFleetText(
  text: string,
  fleet: Fleet,
  observed: readonly ObservedCluster[],
): FleetSyncResult {
  const doc = parseDocument(text, { keepSourceTokens: true });
  const changes: FleetChange[] = [];
  const clustersNode = doc.get("clusters", true);
  if (!isSeq(clustersNode))
    throw new RollgateError("ROLLGATE_E_FLEET_SCHEMA", "the fleet file has no clusters list");
  const byName = new Map(observed.map((o) => [o.cluster, o]));

  // releases
  clustersNode.items.forEach((cn, ci) => {
    if (!isMap(cn)) return;
    const name = scalarText(cn.get("name", true));
    const cluster = fleet.clusters.find((c) => c.name === name);
    const obs = name === undefined ? undefined : byName.get(name);
    if (!cluster || !obs) return;
    const releases = cluster.servers.map((s) => obs.releases[s.name] ?? s.version);
    // the cluster's version: the release most of its servers run (the oldest on a tie)
    const count = new Map<string, number>();
    for (const r of releases) count.set(r, (count.get(r) ?? 0) + 1);
    const common = [...count].sort((a, b) => b[1] - a[1])[0]![0];
    const was = scalarText(cn.get("version", true));
    if (was !== common) {
      cn.set("version", doc.createNode(common));
      changes.push({
        path: pathText(["clusters", ci, "version"]),
        detail: `${name}: version ${was} → ${common}`,
      });
    }
    // a DMA cluster between superclusters keeps the name of the one it left (its lineage, D6)
    if (cluster.pack === "polycom-dma" && obs.supercluster !== undefined) {
      const had = scalarText(cn.get("leftSupercluster", true));
      const left = obs.supercluster === null ? (cluster.supercluster ?? cluster.leftSupercluster) : undefined;
      if (left !== undefined && had !== left) {
        cn.set("leftSupercluster", doc.createNode(left));
        changes.push({
          path: pathText(["clusters", ci, "leftSupercluster"]),
          detail: `${name}: left ${left} and is a member of no supercluster`,
        });
      } else if (left === undefined && had !== undefined) {
        cn.delete("leftSupercluster");
        changes.push({
          path: pathText(["clusters", ci, "leftSupercluster"]),
          detail: `${name}: a member of ${obs.supercluster} again (leftSupercluster ${had} removed)`,
        });
      }
    }
    const serversNode = cn.get("servers", true);
    if (!isSeq(serversNode)) return;
    serversNode.items.forEach((sn, si) => {
      if (!isMap(sn)) return;
      const sname = scalarText(sn.get("name", true));
      const server = cluster.servers.find((s) => s.name === sname);
      if (!server) return;
      const release = obs.releases[server.name] ?? server.version;
      const own = scalarText(sn.get("version", true));
      if (release === common) {
        if (own !== undefined) {
          sn.delete("version");
          changes.push({
            path: pathText(["clusters", ci, "servers", si, "version"]),
            detail: `${sname}: runs its cluster's ${common} (its own version ${own} removed)`,
          });
        }
      } else if (own !== release) {
        sn.set("version", doc.createNode(release));
        changes.push({
          path: pathText(["clusters", ci, "servers", si, "version"]),
          detail: `${sname}: version ${own ?? was} → ${release}`,
        });
      }
    });
  });

  // DMA superclusters as the clusters see them
  const dma = fleet.clusters.filter(
    (c) => c.pack === "polycom-dma" && byName.get(c.name)?.supercluster !== undefined,
  );
  if (dma.length > 0) {
    const known = new Set(fleet.clusters.map((c) => c.name));
    const seen = new Map<string, { members: string[]; territories: Territory[] }>();
    for (const c of dma) {
      const o = byName.get(c.name)!;
      if (!o.supercluster) continue;
      const entry = seen.get(o.supercluster) ?? { members: [], territories: [] };
      // the members as the first cluster that reports them lists them (the founder first)
      if (entry.members.length === 0)
        entry.members = (o.members?.length ? o.members : [c.name]).filter((m) => known.has(m));
      if (!entry.members.includes(c.name)) entry.members.push(c.name);
      if (entry.territories.length === 0 && o.territories) entry.territories = o.territories;
      seen.set(o.supercluster, entry);
    }
    let scsNode = doc.get("superclusters", true);
    if (!isSeq(scsNode)) {
      if (seen.size === 0) return finish(text, doc, changes);
      scsNode = new YAMLSeq();
      doc.set("superclusters", scsNode);
    }
    const seq = scsNode as YAMLSeq;
    const dmaNames = new Set(dma.map((c) => c.name));
    const placed = new Set<string>();
    const entryName = (n: unknown) => (isMap(n) ? scalarText(n.get("name", true)) : undefined);
    const fill = (node: YAMLMap, index: number, name: string) => {
      const want = seen.get(name)!;
      const clustersWas = node.get("clusters", true);
      const wasList = isSeq(clustersWas) ? clustersWas.items.map((x) => scalarText(x)) : [];
      if (wasList.join(",") !== want.members.join(",")) {
        node.set("clusters", seqLike(doc, clustersWas, want.members));
        changes.push({
          path: pathText(["superclusters", index, "clusters"]),
          detail: `${name}: clusters [${wasList.join(", ")}] → [${want.members.join(", ")}]`,
        });
      }
      const terrWas = node.get("territories", true);
      const key = (t: { name?: unknown; primary?: unknown; backup?: unknown }) =>
        `${t.name}:${t.primary}:${t.backup ?? ""}`;
      const wasList2 = isSeq(terrWas)
        ? terrWas.items.map((x) => (isMap(x) ? (x.toJSON() as Territory) : undefined))
        : [];
      // the file's order kept (the servers may list them in another)
      const pos = (t: Territory) => {
        const k = wasList2.findIndex((x) => x?.name === t.name);
        return k < 0 ? Number.MAX_SAFE_INTEGER : k;
      };
      want.territories = [...want.territories].sort((a, b) => pos(a) - pos(b));
      const wasTerr = wasList2.map((x) => (x ? key(x) : "")).join(",");
      const wantTerr = want.territories.map(key).join(",");
      if (wasTerr !== wantTerr) {
        if (want.territories.length === 0) node.delete("territories");
        else
          node.set(
            "territories",
            seqLike(
              doc,
              terrWas,
              want.territories.map((t) => ({
                name: t.name,
                primary: t.primary,
                ...(t.backup ? { backup: t.backup } : {}),
              })),
            ),
          );
        changes.push({
          path: pathText(["superclusters", index, "territories"]),
          detail: `${name}: territories ${want.territories.length ? want.territories.map((t) => `${t.name}=${t.primary}${t.backup ? `/${t.backup}` : ""}`).join(", ") : "none"} (as its clusters see them)`,
        });
      }
    };
    // superclusters of the file: kept, renamed to a new one of their lineage, or removed
    for (let i = seq.items.length - 1; i >= 0; i--) {
      const node = seq.items[i];
      const name = entryName(node);
      if (!isMap(node) || name === undefined) continue;
      const sc = fleet.superclusters.find((s) => s.name === name);
      if (sc && !sc.clusters.some((c) => dmaNames.has(c))) continue; // not observed: left alone
      if (seen.has(name)) {
        placed.add(name);
        continue;
      }
      const heir = [...seen.keys()].find(
        (n) =>
          !placed.has(n) &&
          superclusterLineage(n) === superclusterLineage(name) &&
          !fleet.superclusters.some((s) => s.name === n),
      );
      if (heir !== undefined) {
        node.set("name", doc.createNode(heir));
        placed.add(heir);
        changes.push({
          path: pathText(["superclusters", i, "name"]),
          detail: `supercluster ${name} is now ${heir}`,
        });
      } else {
        seq.items.splice(i, 1);
        changes.push({
          path: pathText(["superclusters", i]),
          detail: `supercluster ${name} no longer exists: removed`,
        });
      }
    }
    seq.items.forEach((node, i) => {
      const name = entryName(node);
      if (isMap(node) && name !== undefined && seen.has(name)) fill(node, i, name);
    });
    for (const name of seen.keys()) {
      if (placed.has(name)) continue;
      const like = seq.items.find((n) => isMap(n));
      const node = doc.createNode({ name, pack: "polycom-dma", clusters: [] }) as YAMLMap;
      if (isMap(like)) {
        const c = like.get("clusters", true);
        (node.get("clusters", true) as unknown as YAMLSeq).flow = isSeq(c) ? (c.flow ?? false) : false;
      }
      seq.items.push(node);
      changes.push({
        path: pathText(["superclusters", seq.items.length - 1]),
        detail: `supercluster ${name} added`,
      });
      fill(node, seq.items.length - 1, name);
    }
  }
  return finish(text, doc, changes);
}

function finish(original: string, doc: Document, changes: FleetChange[]): FleetSyncResult {
  const text = changes.length === 0 ? original : keepStyle(original, doc.toString());
  // what is written must be a valid fleet file of the same fleet
  const check = parseFleetText(text);
  if (!check.ok)
    throw new RollgateError(
      "ROLLGATE_E_FLEET_SCHEMA",
      `the fleet file brought up to what the servers report would not be valid: ${check.diagnostics.map((d) => d.message).join("; ")}`,
    );
  return { text, changes };
}

/** Lines that say the same up to the spacing inside flow brackets (`[a, b]`, `{ a: 1 }`). */
function sameLine(a: string, b: string): boolean {
  if (a === b) return true;
  const norm = (x: string) =>
    x
      .replace(/([[{])\s+/g, "$1")
      .replace(/\s+([\]}])/g, "$1")
      .trimEnd();
  return norm(a) === norm(b);
}

/** The LCS table of two line lists (`eq` decides which lines are the same). */
function lcsTable(a: string[], b: string[], eq: (x: string, y: string) => boolean): Uint32Array[] {
  const n = a.length;
  const m = b.length;
  const lcs: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--)
      lcs[i]![j] = eq(a[i]!, b[j]!) ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  return lcs;
}

/**
 * The Document API renders every node again; a line it renders only with other spacing inside
 * flow brackets than the file's is given back as the file wrote it, so that only what changed
 * reads differently.
 */
function keepStyle(original: string, rendered: string): string {
  const a = original.split("\n");
  const b = rendered.split("\n");
  if (a.length * b.length > 4_000_000) return rendered;
  const lcs = lcsTable(a, b, sameLine);
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (j < b.length) {
    if (i < a.length && sameLine(a[i]!, b[j]!)) {
      out.push(a[i]!);
      i++;
      j++;
    } else if (i < a.length && lcs[i + 1]![j]! >= lcs[i]![j + 1]!) i++;
    else out.push(b[j++]!);
  }
  return out.join("\n");
}

/**
 * The lines that differ between two texts, as an operator would edit them: `-  12 | old` and
 * `+  12 | new` (line numbers of the old and of the new text). A plain LCS over the lines.
 */
export function lineDiff(before: string, after: string): string[] {
  const a = before.split("\n");
  const b = after.split("\n");
  if (a.length * b.length > 4_000_000) return ["(the file is too large to show the lines that change)"];
  const n = a.length;
  const m = b.length;
  const lcs = lcsTable(a, b, (x, y) => x === y);
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      i++;
      j++;
    } else if (i < n && (j >= m || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) {
      out.push(`- ${String(i + 1).padStart(4)} | ${a[i]}`);
      i++;
    } else {
      out.push(`+ ${String(j + 1).padStart(4)} | ${b[j]}`);
      j++;
    }
  }
  return out;
}
