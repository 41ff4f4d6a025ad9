import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Fleet } from "../model/fleet.ts";
import { clusterServes, serverServes } from "../rules/index.ts";
import type { RunRecord } from "../store/types.ts";
import { RollgateError } from "../model/errors.ts";
import type { Principal } from "./auth.ts";
import type { ServerContext } from "./context.ts";

/**
 * GET /api/fleet: superclusters → clusters → servers as they are now. During an incremental
 * upgrade a lineage has two superclusters (the old one and the one the first upgraded cluster
 * founded, "sc-east@10.1.0"); clusters between them (left, being installed) have none.
 */
export async function fleetView(ctx: ServerContext, fleet: Fleet, run: RunRecord | undefined) {
  const m = run ? await ctx.model(run) : undefined;
  const state = m?.state;
  const superclusters = state
    ? [...state.superclusters.values()].map((s) => ({
        name: s.name,
        lineage: s.lineage,
        founder: s.founder ?? null,
        isNew: s.name !== s.lineage,
        members: [...s.members],
      }))
    : fleet.superclusters.map((s) => ({
        name: s.name,
        lineage: s.name,
        founder: null,
        isNew: false,
        members: [...s.clusters],
      }));
  return {
    fleet: fleet.name,
    run: run?.id ?? null,
    runState: run?.state ?? null,
    capacityFloor: m?.plan.capacityFloor ?? fleet.defaults.capacityFloor,
    capacity: m ? { now: m.capacityNow(), domains: m.domains() } : null,
    superclusters,
    clusters: fleet.clusters.map((c) => {
      const rec = state?.clusters.get(c.name);
      return {
        name: c.name,
        pack: c.pack,
        capacity: c.capacity,
        lineage: c.supercluster ?? null,
        supercluster: rec ? (rec.supercluster ?? null) : (c.supercluster ?? null),
        target: m?.plan.targets[c.name] ?? null,
        serving: rec ? (c.pack === "polycom-dma" ? clusterServes(rec) : true) : true,
        servers: c.servers.map((s) => {
          const seen = m?.observed.get(`${c.name}/${s.name}`);
          const r = state?.servers.get(s.name);
          return {
            name: s.name,
            address: s.address,
            release: seen?.release ?? r?.release ?? s.version,
            state: seen?.state ?? "unknown",
            serving: r
              ? serverServes(r) && (rec ? c.pack !== "polycom-dma" || clusterServes(rec) : true)
              : true,
          };
        }),
      };
    }),
  };
}

export function registerFleetRoutes(
  app: FastifyInstance,
  ctx: ServerContext,
  principalOf: (req: FastifyRequest) => Principal,
): void {
  app.get("/api/fleet", async (req: FastifyRequest<{ Querystring: { run?: string } }>) => {
    // a token scoped to one run (index.ts refused a ?run= of another): that run's fleet
    const scoped = principalOf(req).run;
    const run = req.query.run
      ? await ctx.run(req.query.run)
      : scoped !== undefined
        ? await ctx.run(scoped)
        : await ctx.defaultRun();
    const fleet = run ? ctx.fleetOf(run) : ctx.fleet(ctx.fleetFile);
    if (!fleet) {
      throw new RollgateError(
        "ROLLGATE_E_API_NOT_FOUND",
        run
          ? `the fleet file of run ${run.id} (${run.fleetFile}) cannot be read; pass the fleet file to rollgate serve (rollgate serve FLEET)`
          : "no run in the state file and no fleet file given (rollgate serve FLEET)",
      );
    }
    return fleetView(ctx, fleet, run);
  });
}
