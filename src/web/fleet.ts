import type { FleetCluster, FleetServer, FleetView } from "./api.ts";

/**
 * The fleet: superclusters → clusters → servers, one small cell per server, coloured by release
 * (old / new) and marked by state. During an incremental upgrade each original supercluster shows
 * its old supercluster, the clusters between the two (left, being upgraded) and the new one side
 * by side. The structure is built once and rebuilt only when memberships change; a server's
 * change touches its one cell, batched into the next animation frame.
 */
const h = <K extends keyof HTMLElementTagNameMap>(
  tag: K,
  cls?: string,
  text?: string,
): HTMLElementTagNameMap[K] => {
  const el = document.createElement(tag);
  if (cls) el.className = cls;
  if (text !== undefined) el.textContent = text;
  return el;
};

interface Cell {
  el: HTMLElement;
  release: HTMLElement | undefined;
  cluster: FleetCluster;
  server: FleetServer;
}

export class FleetPanel {
  private cells = new Map<string, Cell>();
  private shape = "";
  private pending = new Map<string, { release: string; state: string }>();
  private frame = 0;
  private compact = false;

  constructor(
    private readonly root: HTMLElement,
    private readonly legend: HTMLElement,
  ) {}

  /** Full picture from GET /api/fleet: rebuilds only when the structure changed. */
  show(view: FleetView): void {
    const shape = JSON.stringify([
      view.superclusters.map((s) => [s.name, s.members]),
      view.clusters.map((c) => [c.name, c.supercluster, c.servers.length]),
    ]);
    if (shape !== this.shape) {
      this.shape = shape;
      this.build(view);
    }
    for (const c of view.clusters) {
      this.clusterCard(c.name)?.classList.toggle("out-of-service", !c.serving);
      for (const s of c.servers) this.update(c.name, s.name, s.release, s.state, s.serving);
    }
    this.renderLegend(view);
  }

  /** One observation event: queued, painted on the next frame. */
  observe(cluster: string, server: string, release: string, state: string): void {
    this.pending.set(`${cluster}/${server}`, { release, state });
    if (!this.frame)
      this.frame = requestAnimationFrame(() => {
        this.frame = 0;
        for (const [key, v] of this.pending) {
          const [c, s] = key.split("/") as [string, string];
          this.update(c, s, v.release, v.state);
        }
        this.pending.clear();
      });
  }

  private clusterCard(name: string): HTMLElement | null {
    return this.root.querySelector(`[data-cluster="${CSS.escape(name)}"]`);
  }

  private update(cluster: string, server: string, release: string, state: string, serving?: boolean): void {
    const cell = this.cells.get(`${cluster}/${server}`);
    if (!cell) return;
    const target = cell.cluster.target;
    const age = target === null ? "same" : release === target ? "new" : "old";
    const cls = `srv rel-${age} st-${state}${serving === false ? " idle" : ""}${this.compact ? " compact" : ""}`;
    if (cell.el.className !== cls) cell.el.className = cls;
    if (cell.el.dataset.release !== release) {
      cell.el.dataset.release = release;
      if (cell.release) cell.release.textContent = release;
    }
    cell.el.dataset.state = state;
    cell.el.title = `${server} (${cluster}) ${cell.server.address}\nrelease ${release}${target ? ` → ${target}` : ""}\n${state}`;
  }

  private build(view: FleetView): void {
    this.cells.clear();
    const total = view.clusters.reduce((n, c) => n + c.servers.length, 0);
    this.compact = total > 80;
    this.root.replaceChildren();
    this.root.classList.toggle("compact", this.compact);
    const byName = new Map(view.clusters.map((c) => [c.name, c]));
    const lineages = [...new Set(view.clusters.map((c) => c.lineage).filter((l): l is string => l !== null))];
    for (const lineage of lineages) {
      const row = h("div", "lineage");
      row.dataset.lineage = lineage;
      const scs = view.superclusters
        .filter((s) => s.lineage === lineage)
        .sort((a, b) => Number(a.isNew) - Number(b.isNew));
      const old = scs.filter((s) => !s.isNew);
      const fresh = scs.filter((s) => s.isNew);
      const between = view.clusters.filter((c) => c.lineage === lineage && c.supercluster === null);
      const col = (title: string, kind: string, clusters: FleetCluster[], founder?: string | null) => {
        const box = h("div", `sc ${kind}`);
        box.dataset.supercluster = title;
        box.append(h("div", "sc-title", title));
        const body = h("div", "sc-body");
        if (clusters.length === 0) body.append(h("div", "empty", kind === "transit" ? "none" : "no member"));
        for (const c of clusters) body.append(this.card(c, c.name === founder));
        box.append(body);
        return box;
      };
      for (const s of old)
        row.append(col(s.name, "old", s.members.map((m) => byName.get(m)!).filter(Boolean)));
      if (fresh.length || between.length) {
        row.append(col("between superclusters", "transit", between));
        for (const s of fresh)
          row.append(col(s.name, "new", s.members.map((m) => byName.get(m)!).filter(Boolean), s.founder));
      }
      this.root.append(row);
    }
    const lone = view.clusters.filter((c) => c.lineage === null);
    if (lone.length) {
      const row = h("div", "lineage lone");
      for (const c of lone) row.append(this.card(c, false));
      this.root.append(row);
    }
  }

  private card(c: FleetCluster, founder: boolean): HTMLElement {
    const card = h("div", "cluster");
    card.dataset.cluster = c.name;
    const head = h("div", "cluster-head");
    head.append(h("span", "cluster-name", c.name));
    if (founder) head.append(h("span", "tag founder", "founder"));
    head.append(h("span", "tag", c.pack.replace("polyserve-", "").replace("polycom-", "")));
    if (c.target) head.append(h("span", "muted target", `→ ${c.target}`));
    card.append(head);
    const cells = h("div", "cells");
    for (const s of c.servers) {
      const el = h("div", "srv");
      el.dataset.server = s.name;
      let release: HTMLElement | undefined;
      if (!this.compact) {
        el.append(h("span", "srv-name", s.name));
        release = h("span", "srv-rel", s.release);
        el.append(release);
      }
      cells.append(el);
      this.cells.set(`${c.name}/${s.name}`, { el, release, cluster: c, server: s });
    }
    card.append(cells);
    return card;
  }

  private renderLegend(view: FleetView): void {
    const targets = [...new Set(view.clusters.map((c) => c.target).filter(Boolean))].join(", ");
    const olds = [
      ...new Set(
        view.clusters.flatMap((c) => c.servers.filter((s) => s.release !== c.target).map((s) => s.release)),
      ),
    ].join(", ");
    const text = `old ${olds || "—"} · new ${targets || "—"}`;
    if (this.legend.dataset.text === text) return;
    this.legend.dataset.text = text;
    this.legend.replaceChildren(
      h("i", "sw rel-old"),
      document.createTextNode(` old (${olds || "none left"}) `),
      h("i", "sw rel-new"),
      document.createTextNode(` new (${targets || "—"}) `),
      h("i", "sw st-installing"),
      document.createTextNode(" installing "),
      h("i", "sw st-stopped"),
      document.createTextNode(" stopped "),
      h("i", "sw st-unreachable"),
      document.createTextNode(" unreachable / isolated"),
    );
  }
}
