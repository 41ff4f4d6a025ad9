import type { FastifyInstance, FastifyRequest } from "fastify";
import { authenticate, inScope, type Principal } from "./auth.ts";
import type { RunDetail } from "../events/fold.ts";
import { FINISHED_STATES } from "../events/types.ts";
import { summarizeRun } from "../run/summary.ts";
import { RollgateError } from "../model/errors.ts";
import type { RunRecord } from "../store/types.ts";
import type { ServerContext } from "./context.ts";
import { plannedCapacity } from "./run-model.ts";
import type { EventHub } from "./sse.ts";

/** A sequence number from a header or query parameter: a non-negative integer, else 400. */
export function parseSeq(value: unknown, name: string): number | undefined {
  if (value === undefined || value === "") return undefined;
  const text = String(value).trim();
  if (!/^\d{1,15}$/.test(text))
    throw new RollgateError(
      "ROLLGATE_E_API_BAD_REQUEST",
      `${name} must be an event sequence number, got "${text}"`,
    );
  return Number(text);
}

type RunParams = FastifyRequest<{ Params: { id: string } }>;

export function registerRunRoutes(
  app: FastifyInstance,
  ctx: ServerContext,
  hub: EventHub,
  principalOf: (req: FastifyRequest) => Principal,
): void {
  app.get("/api/runs", async (req) => {
    const p = principalOf(req);
    return {
      /** The run the page opens on when its address names none (`serve FLEET`: that fleet's); a scoped token's: its run. */
      defaultRun:
        p.run !== undefined
          ? ((await ctx.store.getRun(p.run))?.id ?? null)
          : ((await ctx.defaultRun())?.id ?? null),
      /** A token scoped to one run sees only that run. */
      runs: await Promise.all(
        (await ctx.store.listRuns())
          .filter((run) => inScope(p, run.id))
          .map(async (run) => {
            const m = await ctx.model(run);
            return {
              id: run.id,
              fleet: run.fleet,
              target: run.target,
              strategy: run.strategy,
              state: run.state,
              createdAt: run.createdAt,
              updatedAt: run.updatedAt,
              progress: { done: m.stepsDone, total: m.plan.steps.length },
            };
          }),
      ),
    };
  });

  app.get("/api/runs/:id", async (req: RunParams): Promise<RunDetail<RunRecord>> => {
    const run = await ctx.run(req.params.id);
    const m = await ctx.model(run);
    const summary = await summarizeRun(ctx.store, run);
    const open = !FINISHED_STATES.includes(run.state);
    const fleet = ctx.fleetOf(run);
    return {
      ...summary,
      startedAt: m.startedAt ?? null,
      steps: Object.fromEntries(m.status),
      escalations: m.escalations,
      capacity: {
        floor: m.plan.capacityFloor,
        now: m.capacityNow(),
        domains: m.domains(),
        actual: m.capacity,
        planned: fleet ? plannedCapacity(m.plan, fleet) : [],
      },
      mixedSeconds: m.mixedSeconds(Date.now(), open),
    };
  });

  app.get("/api/runs/:id/plan", async (req: RunParams) => {
    const run = await ctx.run(req.params.id);
    return { run: run.id, plan: await ctx.store.getPlan(run.id) };
  });

  app.get(
    "/api/runs/:id/events",
    async (
      req: FastifyRequest<{ Params: { id: string }; Querystring: { after?: string; limit?: string } }>,
      reply,
    ) => {
      const run = await ctx.run(req.params.id);
      const fromHeader = parseSeq(req.headers["last-event-id"], "Last-Event-ID");
      const fromQuery = parseSeq(req.query.after, "after");
      const after = fromHeader ?? fromQuery ?? 0;
      if ((req.headers.accept ?? "").includes("text/event-stream")) {
        reply.hijack();
        // the token is checked again while the stream is open: revoking it (or its expiry) ends it
        const header = req.headers.authorization;
        hub.subscribe(run.id, after, reply.raw, async () =>
          inScope(await authenticate(ctx.store, header), run.id),
        );
        return reply;
      }
      const limit = parseSeq(req.query.limit, "limit") ?? 1000;
      if (limit < 1 || limit > 10_000)
        throw new RollgateError("ROLLGATE_E_API_BAD_REQUEST", `limit must be 1–10000, got ${limit}`);
      const events = await ctx.store.events(run.id, after, limit);
      return { run: run.id, events, lastSeq: events.at(-1)?.seq ?? after, more: events.length === limit };
    },
  );
}
