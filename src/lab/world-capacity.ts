import type { SimCluster } from "./types.ts";
import type { LabWorld } from "./world.ts";

/**
 * G3 as the lab sees it: the share of each capacity domain in service, against the fleet file's
 * `capacityFloor`, after every change. A domain is a supercluster of the fleet file (its clusters,
 * wherever they are now), else a cluster. A matrix or generic server serves while it is up, its
 * software runs and it is not disabled; a DMA cluster while it is in service, not busied out, has
 * a server up, no install under way, and is a member of a supercluster if it was one. Going below
 * the floor is recorded once per dip, as a violation of G3 (`belowFloor`: the domains below it now).
 */
export function checkCapacity(w: LabWorld, belowFloor: Set<string>, changed?: SimCluster): void {
  const floor = w.fleet.defaults.capacityFloor;
  if (!(floor > 0)) return;
  const all = domainsOf(w);
  // A change on a matrix or generic cluster moves only its own domain; a DMA action (a join, a
  // territory move) may touch others of its supercluster: every domain is judged then, as at a
  // change with no cluster named. The domains are the fleet file's: built once per world.
  const judged =
    changed && changed.pack !== "polycom-dma"
      ? [[all.domainOf.get(changed.name)!, all.domains.get(all.domainOf.get(changed.name)!)!] as const]
      : all.domains;
  for (const [domain, clusters] of judged) {
    const { share, out } = inService(clusters);
    if (share + 1e-9 < floor) {
      if (belowFloor.has(domain)) continue;
      belowFloor.add(domain);
      w.journal.violation(
        "G3",
        `${domain} has ${Math.floor(share * 100 + 1e-9)}% of its capacity in service, below the floor ${Math.round(floor * 100)}% (out of service: ${out.join(", ")})`,
        clusters.length === 1 ? { cluster: clusters[0]!.name } : {},
      );
    } else belowFloor.delete(domain);
  }
}

interface Domains {
  domains: Map<string, SimCluster[]>;
  /** The domain of each cluster. */
  domainOf: Map<string, string>;
}

const built = new WeakMap<LabWorld, Domains>();

function domainsOf(w: LabWorld): Domains {
  let d = built.get(w);
  if (!d) {
    d = capacityDomains(w);
    built.set(w, d);
  }
  return d;
}

function capacityDomains(w: LabWorld): Domains {
  const domains = new Map<string, SimCluster[]>();
  const domainOf = new Map<string, string>();
  for (const sc of w.fleet.superclusters) {
    const members = sc.clusters.map((n) => w.clusters.get(n)).filter((c): c is SimCluster => c !== undefined);
    domains.set(sc.name, members);
    for (const c of members) domainOf.set(c.name, sc.name);
  }
  for (const c of w.clusters.values())
    if (!domainOf.has(c.name)) {
      domains.set(c.name, [c]);
      domainOf.set(c.name, c.name);
    }
  return { domains, domainOf };
}

/** The share of a domain's capacity in service, and what is out of service (clusters or servers). */
function inService(clusters: readonly SimCluster[]): { share: number; out: string[] } {
  let total = 0;
  let serving = 0;
  const out: string[] = [];
  for (const c of clusters) {
    if (c.pack === "polycom-dma") {
      total += c.spec.capacity;
      const serves =
        c.inService &&
        !c.busiedOut &&
        c.servers.some((s) => !s.down) &&
        c.activity?.action !== "install" &&
        (c.spec.supercluster === undefined || c.supercluster !== null);
      if (serves) serving += c.spec.capacity;
      else out.push(c.name);
    } else {
      for (const [i, s] of c.servers.entries()) {
        // the simulated servers are built in the fleet file's order (world-build.ts)
        const spec =
          c.spec.servers[i]?.name === s.name
            ? c.spec.servers[i]
            : c.spec.servers.find((x) => x.name === s.name);
        const weight = spec?.capacity ?? 1;
        total += weight;
        if (!s.down && s.software === "running" && !s.disabled) serving += weight;
        else out.push(s.name);
      }
    }
  }
  return { share: total === 0 ? 1 : serving / total, out };
}
