import { isAlias, isMap, isScalar, isSeq, parseDocument, type Document, type YAMLMap, YAMLSeq } from "yaml";
import { RollgateError } from "./errors.ts";
import type { Fleet, Territory } from "./fleet.ts";
import { plainTerritory, superclusterLineage } from "./fleet.ts";
import { compareVersions } from "./version.ts";
import { parseFleetText } from "./fleet-file.ts";

/**
 * `rollgate fleet sync`: the fleet file brought up to what the servers report (G5), as text, with
 * its comments and layout kept (the `yaml` package's Document API edits the nodes in place). Pure:
 * the shell observes (run/fleet-sync.ts) and writes.
 *
 * What is synced: every server's release (the cluster's `version`, and a server's own `version`
 * where it differs from its cluster's), and for DMA clusters the superclusters: their names (the
 * new supercluster of an upgrade is `<lineage>@<release>`, D6) and members (founder first, D10).
 * Territories are the operator's design: kept as the file has them; what the servers assign now
 * is a note, not a change. A supercluster that no longer exists is renamed in place when a
 * supercluster of its lineage takes its place; one every member left (none in another yet) is
 * kept as it is; else it is removed; a new one is appended.
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
  /**
   * What the servers report differently from the file without it being written: a territory the
   * servers assign now to other clusters than the file's design (a temporary reassignment: mid-
   * upgrade, after an abort, a maintenance window's record step), or a territory that names a
   * cluster no longer in its supercluster's lineage (the operator decides; sync invents nothing).
   */
  notes: FleetChange[];
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

/** The node an alias stands for (aliases resolved against the document). */
let currentDoc: Document | undefined;
function deref(node: unknown): unknown {
  if (isAlias(node) && currentDoc) return node.resolve(currentDoc);
  return node;
}

function scalarText(node: unknown): string | undefined {
  const n = deref(node);
  if (isScalar(n)) return n.source ?? String(n.value);
  return undefined;
}

/**
 * `map.key = value`, alias-safe: a key whose value is an alias gets a plain value (the anchor it
 * named stays where it is); a value that carries an anchor other nodes alias is first copied into
 * each of those aliases, so that only this key changes; the anchor is kept on the new value.
 */
function setKey(doc: Document, map: YAMLMap, key: string, value: unknown): void {
  const was = map.get(key, true) as unknown;
  const node = (isSeq(value) || isMap(value) || isScalar(value) ? value : doc.createNode(value)) as
    | YAMLSeq
    | YAMLMap;
  if (
    !isAlias(was) &&
    was &&
    typeof was === "object" &&
    "anchor" in was &&
    (was as { anchor?: string }).anchor
  ) {
    const anchor = (was as { anchor: string }).anchor;
    inlineAliases(doc, anchor, was);
    (node as { anchor?: string }).anchor = anchor;
  }
  map.set(key, node);
}

/** `map.delete(key)`, alias-safe as setKey. */
function deleteKey(doc: Document, map: YAMLMap, key: string): void {
  const was = map.get(key, true) as unknown;
  if (!isAlias(was) && was && typeof was === "object" && (was as { anchor?: string }).anchor)
    inlineAliases(doc, (was as { anchor: string }).anchor, was);
  map.delete(key);
}

/** Every alias of `anchor` replaced by a copy of what it names. */
function inlineAliases(doc: Document, anchor: string, target: unknown): void {
  const visitNode = (n: unknown): unknown => {
    if (isAlias(n)) {
      if (n.source !== anchor) return n;
      const copy = (target as { clone(): { anchor?: string } }).clone();
      copy.anchor = undefined;
      return copy;
    }
    if (isMap(n) || isSeq(n)) {
      const items = n.items as unknown[];
      for (let i = 0; i < items.length; i++) {
        const it = items[i];
        if (isMap(n)) {
          const pair = it as { key: unknown; value: unknown };
          pair.value = visitNode(pair.value);
        } else items[i] = visitNode(it);
      }
    }
    return n;
  };
  visitNode(doc.contents);
}

export function syncFleetText(
  text: string,
  fleet: Fleet,
  observed: readonly ObservedCluster[],
): FleetSyncResult {
  const doc = parseDocument(text, { keepSourceTokens: true });
  currentDoc = doc;
  try {
    return syncDoc(text, doc, fleet, observed);
  } finally {
    currentDoc = undefined;
  }
}

function syncDoc(
  text: string,
  doc: Document,
  fleet: Fleet,
  observed: readonly ObservedCluster[],
): FleetSyncResult {
  const changes: FleetChange[] = [];
  const notes: FleetChange[] = [];
  const clustersNode = deref(doc.get("clusters", true));
  if (!isSeq(clustersNode))
    throw new RollgateError("ROLLGATE_E_FLEET_SCHEMA", "the fleet file has no clusters list");
  const byName = new Map(observed.map((o) => [o.cluster, o]));

  // releases
  clustersNode.items.forEach((item, ci) => {
    const cn = deref(item);
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
      setKey(doc, cn, "version", common);
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
        setKey(doc, cn, "leftSupercluster", left);
        changes.push({
          path: pathText(["clusters", ci, "leftSupercluster"]),
          detail: `${name}: left ${left} and is a member of no supercluster`,
        });
      } else if (left === undefined && had !== undefined) {
        deleteKey(doc, cn, "leftSupercluster");
        changes.push({
          path: pathText(["clusters", ci, "leftSupercluster"]),
          detail: `${name}: a member of ${obs.supercluster} again (leftSupercluster ${had} removed)`,
        });
      }
    }
    const serversNode = deref(cn.get("servers", true));
    if (!isSeq(serversNode)) return;
    serversNode.items.forEach((sitem, si) => {
      const sn = deref(sitem);
      if (!isMap(sn)) return;
      const sname = scalarText(sn.get("name", true));
      const server = cluster.servers.find((s) => s.name === sname);
      if (!server) return;
      const release = obs.releases[server.name] ?? server.version;
      const own = scalarText(sn.get("version", true));
      if (release === common) {
        if (own !== undefined) {
          deleteKey(doc, sn, "version");
          changes.push({
            path: pathText(["clusters", ci, "servers", si, "version"]),
            detail: `${sname}: runs its cluster's ${common} (its own version ${own} removed)`,
          });
        }
      } else if (own !== release) {
        setKey(doc, sn, "version", release);
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
    let scsNode = deref(doc.get("superclusters", true));
    if (!isSeq(scsNode)) {
      if (seen.size === 0) return finish(text, doc, changes, notes);
      scsNode = new YAMLSeq();
      doc.set("superclusters", scsNode);
    }
    const seq = scsNode as YAMLSeq;
    const dmaNames = new Set(dma.map((c) => c.name));
    const placed = new Set<string>();
    const entryName = (n: unknown) => {
      const m = deref(n);
      return isMap(m) ? scalarText(m.get("name", true)) : undefined;
    };
    const fmt = (ts: readonly Territory[]) =>
      ts.length
        ? ts.map((t) => `${t.name}=${t.primary}${t.backup ? `/${t.backup}` : ""}`).join(", ")
        : "none";
    // the clusters of a lineage: members (in the file or as observed) or clusters that left one of it
    const lineageClusters = (lineage: string): Set<string> => {
      const out = new Set<string>();
      for (const c of fleet.clusters) {
        const o = byName.get(c.name);
        const scs = [c.supercluster, c.leftSupercluster, o?.supercluster ?? undefined];
        if (scs.some((s) => s !== undefined && superclusterLineage(s) === lineage)) out.add(c.name);
      }
      return out;
    };
    // The file's territories are the operator's design (primary/backup per territory): kept as the
    // file has them; what the servers assign now is only reported (a temporary reassignment).
    const reviewTerritories = (
      index: number,
      name: string,
      fileTerr: Territory[],
      members: readonly string[],
    ): Territory[] => {
      const lineage = superclusterLineage(name);
      const inLineage = lineageClusters(lineage);
      const now = new Map<string, Territory>();
      for (const [n, e] of seen)
        if (superclusterLineage(n) === lineage)
          for (const t of e.territories) if (!now.has(t.name)) now.set(t.name, t);
      const keep: Territory[] = [];
      for (const t0 of fileTerr) {
        const s = now.get(t0.name);
        // the design (primary/backup) stays; `assigned` says where the servers have it meanwhile
        const { assigned: _was, ...t } = t0;
        const named = [t.primary, t.backup].filter((c): c is string => c !== undefined);
        const sValid =
          s !== undefined && [s.primary, s.backup].every((c) => c === undefined || members.includes(c));
        const sameAsDesign =
          s !== undefined && s.primary === t.primary && (s.backup ?? "") === (t.backup ?? "");
        if (named.every((c) => inLineage.has(c)) && !named.every((c) => members.includes(c))) {
          // a named cluster is in a sibling supercluster of the lineage mid-upgrade: the design
          // is kept, with where the servers assign it now (D4/D6; apply restores the design)
          if (sValid)
            keep.push({
              ...t,
              assigned: { primary: s.primary, ...(s.backup ? { backup: s.backup } : {}) },
            });
          notes.push({
            path: pathText(["superclusters", index, "territories"]),
            detail: `${name}: territory ${t.name} is designed ${t.primary}${t.backup ? `/${t.backup}` : ""}, but ${named.filter((c) => !members.includes(c)).join(", ")} is in another supercluster of ${lineage} for now: ${sValid ? `the design kept, with assigned: ${s.primary}${s.backup ? `/${s.backup}` : ""} (where the servers have it now; apply restores the design)` : "written out (the servers assign it to none of its members); put the design back once the upgrade is done"}`,
          });
          continue;
        }
        keep.push(
          sValid && !sameAsDesign
            ? { ...t, assigned: { primary: s.primary, ...(s.backup ? { backup: s.backup } : {}) } }
            : t,
        );
        const gone = [t.primary, t.backup].filter((c): c is string => c !== undefined && !inLineage.has(c));
        if (gone.length)
          notes.push({
            path: pathText(["superclusters", index, "territories"]),
            detail: `${name}: territory ${t.name} names ${gone.join(", ")}, no longer a cluster of ${lineage}: edit its primary/backup in the file (not changed)`,
          });
        if (!sameAsDesign)
          notes.push({
            path: pathText(["superclusters", index, "territories"]),
            detail: `${name}: territory ${t.name} is ${s ? `assigned to ${s.primary}${s.backup ? `/${s.backup}` : ""}` : "unassigned"} on the servers now; the file's design ${t.primary}${t.backup ? `/${t.backup}` : ""} kept (an upgrade's apply restores it; after an abort with nothing left to upgrade, \`rollgate abort FLEET --return-to-service\` does)${sValid ? ", with assigned: where the servers have it" : ""}`,
          });
      }
      return keep;
    };
    const writeTerritories = (node: YAMLMap, index: number, name: string, ts: Territory[]) => {
      const terrWas = deref(node.get("territories", true));
      if (ts.length === 0) deleteKey(doc, node, "territories");
      else setKey(doc, node, "territories", seqLike(doc, terrWas, ts.map(plainTerritory)));
      changes.push({
        path: pathText(["superclusters", index, "territories"]),
        detail: `${name}: territories ${fmt(ts)}`,
      });
    };
    const terrKey = (ts: readonly Territory[]) =>
      ts
        .map(
          (t) =>
            `${t.name}:${t.primary}:${t.backup ?? ""}:${t.assigned?.primary ?? ""}:${t.assigned?.backup ?? ""}`,
        )
        .join(",");
    const fileTerritories = (node: YAMLMap): Territory[] => {
      const terrWas = deref(node.get("territories", true));
      return isSeq(terrWas)
        ? terrWas.items
            .map((x) => deref(x))
            .filter((x) => isMap(x))
            .map((x) => x.toJS(doc) as Territory)
        : [];
    };
    const fill = (node: YAMLMap, index: number, name: string, designed: boolean) => {
      const want = seen.get(name)!;
      const clustersWas = deref(node.get("clusters", true));
      const wasList = isSeq(clustersWas) ? clustersWas.items.map((x) => scalarText(x)) : [];
      if (wasList.join(",") !== want.members.join(",")) {
        setKey(doc, node, "clusters", seqLike(doc, clustersWas, want.members));
        changes.push({
          path: pathText(["superclusters", index, "clusters"]),
          detail: `${name}: clusters [${wasList.join(", ")}] → [${want.members.join(", ")}]`,
        });
      }
      if (designed) {
        const was = fileTerritories(node);
        // the design of a supercluster of its lineage that is gone comes with it (D6: the old
        // supercluster emptied into this one)
        const design = was.length ? was : (inherited.get(name) ?? []);
        const keep = reviewTerritories(index, name, design, want.members);
        if (terrKey(keep) !== terrKey(was)) writeTerritories(node, index, name, keep);
        return;
      }
      // a supercluster of a lineage the file has no design for: its territories as the servers have them
      if (want.territories.length === 0 || designedLineages.has(superclusterLineage(name))) return;
      setKey(
        doc,
        node,
        "territories",
        seqLike(
          doc,
          undefined,
          want.territories.map((t) => ({
            name: t.name,
            primary: t.primary,
            ...(t.backup ? { backup: t.backup } : {}),
          })),
        ),
      );
      changes.push({
        path: pathText(["superclusters", index, "territories"]),
        detail: `${name}: territories ${fmt(want.territories)} (a new supercluster: as its clusters see them)`,
      });
    };
    const designedLineages = new Set<string>();
    for (const it of seq.items) {
      const n = entryName(it);
      const m = deref(it);
      if (n !== undefined && isMap(m) && fileTerritories(m).length)
        designedLineages.add(superclusterLineage(n));
    }
    const designed = new Set<string>();
    // territory designs of removed superclusters, by the supercluster of their lineage that takes them
    const inherited = new Map<string, Territory[]>();
    const fileNames = new Set(
      seq.items.map((it) => entryName(it)).filter((n): n is string => n !== undefined),
    );
    // superclusters of the file: kept, renamed to a new one of their lineage, or removed
    for (let i = seq.items.length - 1; i >= 0; i--) {
      const node = deref(seq.items[i]);
      const name = entryName(node);
      if (!isMap(node) || name === undefined) continue;
      const sc = fleet.superclusters.find((s) => s.name === name);
      // the members the file lists, in its order (those that left it too: leftSupercluster)
      const listed = sc ? [...sc.clusters, ...(sc.formerMembers ?? [])] : [];
      const listNode = deref(node.get("clusters", true));
      if (isSeq(listNode)) {
        const order = listNode.items.map((x) => scalarText(x));
        listed.sort((a, b) => order.indexOf(a) - order.indexOf(b));
      }
      if (sc && !listed.some((c) => dmaNames.has(c))) continue; // not observed: left alone
      if (seen.has(name)) {
        placed.add(name);
        designed.add(name);
        continue;
      }
      const heir = [...seen.keys()].find(
        (n) =>
          !placed.has(n) &&
          superclusterLineage(n) === superclusterLineage(name) &&
          !fleet.superclusters.some((s) => s.name === n),
      );
      if (heir !== undefined) {
        setKey(doc, node, "name", heir);
        placed.add(heir);
        designed.add(heir);
        changes.push({
          path: pathText(["superclusters", i, "name"]),
          detail: `supercluster ${name} is now ${heir}`,
        });
        continue;
      }
      // Every member left it and none is in another supercluster yet (an abort between leaving
      // and founding, D5/D6): the supercluster is kept as the file has it (name, members in the
      // file's order, territories), its clusters marked as having left it; apply carries on from there.
      const members = listed;
      const allLeft =
        members.length > 0 &&
        members.every((m) => {
          const o = byName.get(m);
          return o !== undefined && o.supercluster === null;
        });
      if (allLeft) {
        notes.push({
          path: pathText(["superclusters", i]),
          detail: `supercluster ${name}: every member (${members.join(", ")}) left it and none is in another supercluster yet (an abort between leave and found, D5/D6): kept as the file has it, each cluster marked leftSupercluster: ${name}. ${(() => {
            const rel = (m: string) => {
              const o = byName.get(m)!;
              const vs = [...new Set(Object.values(o.releases))];
              return vs.length === 1 ? vs[0]! : vs.join("/");
            };
            const newest = members.map(rel).sort(compareVersions).at(-1)!;
            const on = members.filter((m) => rel(m) === newest);
            const off = members.filter((m) => rel(m) !== newest);
            const next = `${superclusterLineage(name)}@${newest}`;
            // none upgraded yet: the file cannot say the window's target
            if (
              off.length === 0 &&
              members.every((m) => rel(m) === (fleet.clusters.find((c) => c.name === m)?.version ?? newest))
            )
              return `all run ${newest}, none upgraded yet. \`rollgate apply FLEET --to TARGET\` (the release the window was upgrading to) carries on from here (G5: the rest of the window: install TARGET on every cluster, the first founds ${superclusterLineage(name)}@TARGET (D10), the others join it, the territories restored as the file has them, each cluster returned to service)`;
            return `${on.join(", ")} run${on.length === 1 ? "s" : ""} ${newest}${off.length ? `; ${off.join(", ")} not yet` : ""}. \`rollgate apply FLEET --to ${newest}\` carries on from here (G5: the rest of the window: ${off.length ? `install ${newest} on ${off.join(", ")}, ` : ""}found ${next} on ${on[0] ?? members[0]} (D10), join the others to it, restore the territories as the file has them, return each cluster to service)`;
          })()}`,
        });
        reviewTerritories(i, name, fileTerritories(node), members);
        continue;
      }
      seq.items.splice(i, 1);
      const design = fileTerritories(node);
      const taker = [...seen.keys()].find(
        (n) =>
          n !== name &&
          superclusterLineage(n) === superclusterLineage(name) &&
          fileNames.has(n) &&
          !inherited.has(n),
      );
      if (design.length > 0 && taker !== undefined) inherited.set(taker, design);
      changes.push({
        path: pathText(["superclusters", i]),
        detail: `supercluster ${name} no longer exists: removed${design.length > 0 && taker !== undefined ? ` (its territories' design goes to ${taker}, of the same lineage)` : ""}`,
      });
    }
    seq.items.forEach((item, i) => {
      const node = deref(item);
      const name = entryName(node);
      if (isMap(node) && name !== undefined && seen.has(name)) fill(node, i, name, designed.has(name));
    });
    for (const name of seen.keys()) {
      if (placed.has(name)) continue;
      const like = deref(seq.items.find((n) => isMap(deref(n))));
      const node = doc.createNode({ name, pack: "polycom-dma", clusters: [] }) as YAMLMap;
      if (isMap(like)) {
        const c = deref(like.get("clusters", true));
        (node.get("clusters", true) as unknown as YAMLSeq).flow = isSeq(c) ? (c.flow ?? false) : false;
      }
      seq.items.push(node);
      changes.push({
        path: pathText(["superclusters", seq.items.length - 1]),
        detail: `supercluster ${name} added`,
      });
      fill(node, seq.items.length - 1, name, false);
    }
  }
  return finish(text, doc, changes, notes);
}

function finish(
  original: string,
  doc: Document,
  changes: FleetChange[],
  notes: FleetChange[] = [],
): FleetSyncResult {
  const text = changes.length === 0 ? original : keepStyle(original, doc.toString({ lineWidth: 0 }));
  // what is written must be a valid fleet file of the same fleet
  const check = parseFleetText(text);
  if (!check.ok)
    throw new RollgateError(
      "ROLLGATE_E_FLEET_SCHEMA",
      `the fleet file brought up to what the servers report would not be valid: ${check.diagnostics.map((d) => d.message).join("; ")}`,
    );
  return { text, changes, notes };
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
