import { isMap, isSeq, type Document, type YAMLMap, YAMLSeq } from "yaml";
import type { Cluster, Fleet, Territory } from "./fleet.ts";
import { plainTerritory, superclusterLineage } from "./fleet.ts";
import type { FleetChange, ObservedCluster } from "./fleet-sync.ts";
import { deleteKey, deref, pathText, scalarText, seqLike, setKey } from "./fleet-yaml-edit.ts";
import { type Observed, reviewTerritories, type Seen } from "./fleet-sync-territories.ts";
import { compareVersions } from "./version.ts";

/**
 * The DMA superclusters of the file brought up to what the clusters report (D6, D10): renamed,
 * kept, removed or added, their members and their territories' design reviewed.
 */
export function syncSuperclusters(
  doc: Document,
  fleet: Fleet,
  byName: ReadonlyMap<string, ObservedCluster>,
  changes: FleetChange[],
  notes: FleetChange[],
): void {
  // DMA superclusters as the clusters see them
  const dma = fleet.clusters.filter(
    (c) => c.pack === "polycom-dma" && byName.get(c.name)?.supercluster !== undefined,
  );
  if (dma.length === 0) return;
  const seen = observedSuperclusters(fleet, dma, byName);
  let scsNode = deref(doc.get("superclusters", true));
  if (!isSeq(scsNode)) {
    if (seen.size === 0) return;
    scsNode = new YAMLSeq();
    doc.set("superclusters", scsNode);
  }
  const dmaNames = new Set(dma.map((c) => c.name));
  new SuperclusterSync(doc, fleet, byName, changes, notes, seen, scsNode as YAMLSeq, dmaNames).run();
}

/** The superclusters the DMA clusters `dma` report, by name. */
function observedSuperclusters(
  fleet: Fleet,
  dma: readonly Cluster[],
  byName: ReadonlyMap<string, ObservedCluster>,
): Map<string, Seen> {
  const known = new Set(fleet.clusters.map((c) => c.name));
  const seen = new Map<string, Seen>();
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
  return seen;
}

function entryName(n: unknown): string | undefined {
  const m = deref(n);
  return isMap(m) ? scalarText(m.get("name", true)) : undefined;
}

function fmt(ts: readonly Territory[]): string {
  return ts.length
    ? ts.map((t) => `${t.name}=${t.primary}${t.backup ? `/${t.backup}` : ""}`).join(", ")
    : "none";
}

function terrKey(ts: readonly Territory[]): string {
  return ts
    .map(
      (t) =>
        `${t.name}:${t.primary}:${t.backup ?? ""}:${t.assigned?.primary ?? ""}:${t.assigned?.backup ?? ""}`,
    )
    .join(",");
}

/** One sync of the file's superclusters (`seq`) to the superclusters `seen`. */
class SuperclusterSync {
  /** The observed superclusters that have an entry of the file (kept or renamed to). */
  private readonly placed = new Set<string>();
  /** The observed superclusters whose entry of the file has a design of its own. */
  private readonly designed = new Set<string>();
  /** Territory designs of removed superclusters, by the supercluster of their lineage that takes them. */
  private readonly inherited = new Map<string, Territory[]>();
  /** The lineages the file has a territory design for. */
  private readonly designedLineages = new Set<string>();
  /** The names of the file's superclusters. */
  private readonly fileNames: Set<string>;
  /** What the territories are reviewed against. */
  private readonly observed: Observed;

  constructor(
    private readonly doc: Document,
    private readonly fleet: Fleet,
    private readonly byName: ReadonlyMap<string, ObservedCluster>,
    private readonly changes: FleetChange[],
    private readonly notes: FleetChange[],
    private readonly seen: ReadonlyMap<string, Seen>,
    private readonly seq: YAMLSeq,
    /** The DMA clusters observed. */
    private readonly dmaNames: ReadonlySet<string>,
  ) {
    this.observed = { fleet, byName, seen, notes };
    for (const it of this.seq.items) {
      const n = entryName(it);
      const m = deref(it);
      if (n !== undefined && isMap(m) && this.fileTerritories(m).length)
        this.designedLineages.add(superclusterLineage(n));
    }
    this.fileNames = new Set(
      this.seq.items.map((it) => entryName(it)).filter((n): n is string => n !== undefined),
    );
  }

  run(): void {
    // superclusters of the file: kept, renamed to a new one of their lineage, or removed
    for (let i = this.seq.items.length - 1; i >= 0; i--) this.reconcile(i);
    this.seq.items.forEach((item, i) => {
      const node = deref(item);
      const name = entryName(node);
      if (isMap(node) && name !== undefined && this.seen.has(name))
        this.fill(node, i, name, this.designed.has(name));
    });
    this.appendNew();
  }

  /** The file's supercluster entry at `i`: kept, renamed to a new one of its lineage, or removed. */
  private reconcile(i: number): void {
    const node = deref(this.seq.items[i]);
    const name = entryName(node);
    if (!isMap(node) || name === undefined) return;
    const sc = this.fleet.superclusters.find((s) => s.name === name);
    // the members the file lists, in its order (those that left it too: leftSupercluster)
    const listed = sc ? [...sc.clusters, ...(sc.formerMembers ?? [])] : [];
    const listNode = deref(node.get("clusters", true));
    if (isSeq(listNode)) {
      const order = listNode.items.map((x) => scalarText(x));
      listed.sort((a, b) => order.indexOf(a) - order.indexOf(b));
    }
    if (sc && !listed.some((c) => this.dmaNames.has(c))) return; // not observed: left alone
    if (this.seen.has(name)) {
      this.placed.add(name);
      this.designed.add(name);
      return;
    }
    const heir = [...this.seen.keys()].find(
      (n) =>
        !this.placed.has(n) &&
        superclusterLineage(n) === superclusterLineage(name) &&
        !this.fleet.superclusters.some((s) => s.name === n),
    );
    if (heir !== undefined) {
      setKey(this.doc, node, "name", heir);
      this.placed.add(heir);
      this.designed.add(heir);
      this.changes.push({
        path: pathText(["superclusters", i, "name"]),
        detail: `supercluster ${name} is now ${heir}`,
      });
      return;
    }
    // Every member left it and none is in another supercluster yet (an abort between leaving
    // and founding, D5/D6): the supercluster is kept as the file has it (name, members in the
    // file's order, territories), its clusters marked as having left it; apply carries on from there.
    const members = listed;
    const allLeft =
      members.length > 0 &&
      members.every((m) => {
        const o = this.byName.get(m);
        return o !== undefined && o.supercluster === null;
      });
    if (allLeft) {
      this.notes.push({
        path: pathText(["superclusters", i]),
        detail: `supercluster ${name}: every member (${members.join(", ")}) left it and none is in another supercluster yet (an abort between leave and found, D5/D6): kept as the file has it, each cluster marked leftSupercluster: ${name}. ${this.howToCarryOn(name, members)}`,
      });
      reviewTerritories(this.observed, i, name, this.fileTerritories(node), members);
      return;
    }
    this.seq.items.splice(i, 1);
    const design = this.fileTerritories(node);
    const taker = [...this.seen.keys()].find(
      (n) =>
        n !== name &&
        superclusterLineage(n) === superclusterLineage(name) &&
        this.fileNames.has(n) &&
        !this.inherited.has(n),
    );
    if (design.length > 0 && taker !== undefined) this.inherited.set(taker, design);
    this.changes.push({
      path: pathText(["superclusters", i]),
      detail: `supercluster ${name} no longer exists: removed${design.length > 0 && taker !== undefined ? ` (its territories' design goes to ${taker}, of the same lineage)` : ""}`,
    });
  }

  /** What `rollgate apply` would do next for a supercluster every member (`members`) left. */
  private howToCarryOn(name: string, members: readonly string[]): string {
    const rel = (m: string) => {
      const o = this.byName.get(m)!;
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
      members.every((m) => rel(m) === (this.fleet.clusters.find((c) => c.name === m)?.version ?? newest))
    )
      return `all run ${newest}, none upgraded yet. \`rollgate apply FLEET --to TARGET\` (the release the window was upgrading to) carries on from here (G5: the rest of the window: install TARGET on every cluster, the first founds ${superclusterLineage(name)}@TARGET (D10), the others join it, the territories restored as the file has them, each cluster returned to service)`;
    return `${on.join(", ")} run${on.length === 1 ? "s" : ""} ${newest}${off.length ? `; ${off.join(", ")} not yet` : ""}. \`rollgate apply FLEET --to ${newest}\` carries on from here (G5: the rest of the window: ${off.length ? `install ${newest} on ${off.join(", ")}, ` : ""}found ${next} on ${on[0] ?? members[0]} (D10), join the others to it, restore the territories as the file has them, return each cluster to service)`;
  }

  /** The superclusters observed that the file has no entry for, appended. */
  private appendNew(): void {
    for (const name of this.seen.keys()) {
      if (this.placed.has(name)) continue;
      const like = deref(this.seq.items.find((n) => isMap(deref(n))));
      const node = this.doc.createNode({ name, pack: "polycom-dma", clusters: [] }) as YAMLMap;
      if (isMap(like)) {
        const c = deref(like.get("clusters", true));
        (node.get("clusters", true) as unknown as YAMLSeq).flow = isSeq(c) ? (c.flow ?? false) : false;
      }
      this.seq.items.push(node);
      this.changes.push({
        path: pathText(["superclusters", this.seq.items.length - 1]),
        detail: `supercluster ${name} added`,
      });
      this.fill(node, this.seq.items.length - 1, name, false);
    }
  }

  private writeTerritories(node: YAMLMap, index: number, name: string, ts: Territory[]): void {
    const terrWas = deref(node.get("territories", true));
    if (ts.length === 0) deleteKey(this.doc, node, "territories");
    else setKey(this.doc, node, "territories", seqLike(this.doc, terrWas, ts.map(plainTerritory)));
    this.changes.push({
      path: pathText(["superclusters", index, "territories"]),
      detail: `${name}: territories ${fmt(ts)}`,
    });
  }

  private fileTerritories(node: YAMLMap): Territory[] {
    const terrWas = deref(node.get("territories", true));
    return isSeq(terrWas)
      ? terrWas.items
          .map((x) => deref(x))
          .filter((x) => isMap(x))
          .map((x) => x.toJS(this.doc) as Territory)
      : [];
  }

  /** A supercluster entry's members and territories as observed (`designed`: the file has its design). */
  private fill(node: YAMLMap, index: number, name: string, designed: boolean): void {
    const want = this.seen.get(name)!;
    const clustersWas = deref(node.get("clusters", true));
    const wasList = isSeq(clustersWas) ? clustersWas.items.map((x) => scalarText(x)) : [];
    if (wasList.join(",") !== want.members.join(",")) {
      setKey(this.doc, node, "clusters", seqLike(this.doc, clustersWas, want.members));
      this.changes.push({
        path: pathText(["superclusters", index, "clusters"]),
        detail: `${name}: clusters [${wasList.join(", ")}] → [${want.members.join(", ")}]`,
      });
    }
    if (designed) {
      const was = this.fileTerritories(node);
      // the design of a supercluster of its lineage that is gone comes with it (D6: the old
      // supercluster emptied into this one)
      const design = was.length ? was : (this.inherited.get(name) ?? []);
      const keep = reviewTerritories(this.observed, index, name, design, want.members);
      if (terrKey(keep) !== terrKey(was)) this.writeTerritories(node, index, name, keep);
      return;
    }
    // a supercluster of a lineage the file has no design for: its territories as the servers have them
    if (want.territories.length === 0 || this.designedLineages.has(superclusterLineage(name))) return;
    setKey(
      this.doc,
      node,
      "territories",
      seqLike(
        this.doc,
        undefined,
        want.territories.map((t) => ({
          name: t.name,
          primary: t.primary,
          ...(t.backup ? { backup: t.backup } : {}),
        })),
      ),
    );
    this.changes.push({
      path: pathText(["superclusters", index, "territories"]),
      detail: `${name}: territories ${fmt(want.territories)} (a new supercluster: as its clusters see them)`,
    });
  }
}
