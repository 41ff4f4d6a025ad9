import type { FastifyInstance, FastifyRequest } from "fastify";
import { FINISHED_STATES } from "../events/types.ts";
import type { RunRecord } from "../store/types.ts";
import { ApiError } from "./api-error.ts";
import { type Principal, requireOperator } from "./auth.ts";
import type { ServerContext } from "./context.ts";

/**
 * The operator's controls, with the CLI's semantics (run-control.ts, apply.ts's resume): they
 * write the run's state into the store and the engine, in whatever process, reads it.
 * The server runs no engine: resuming a run no engine drives is refused with the command to run.
 */
type ActionRequest = FastifyRequest<{ Params: { id: string }; Body: unknown }>;

function notFinished(run: RunRecord, verb: string): void {
  if (FINISHED_STATES.includes(run.state))
    throw new ApiError(
      "ROLLGATE_E_API_CONFLICT",
      `run ${run.id} has already ${run.state}: nothing to ${verb}`,
    );
}

export function registerActionRoutes(
  app: FastifyInstance,
  ctx: ServerContext,
  principalOf: (req: FastifyRequest) => Principal,
): void {
  const operator = (req: FastifyRequest) => {
    const p = principalOf(req);
    requireOperator(p);
    return p;
  };
  const answer = (run: RunRecord, extra: Record<string, unknown> = {}) => {
    const now = ctx.store.getRun(run.id)!;
    return {
      ok: true,
      run: run.id,
      state: now.state,
      engine: ctx.store.engineHolder(run.fleet) ?? null,
      ...extra,
    };
  };

  app.post("/api/runs/:id/pause", async (req: ActionRequest) => {
    const p = operator(req);
    const run = ctx.run(req.params.id);
    notFinished(run, "pause");
    if (run.state === "paused") return answer(run);
    if (run.state !== "running" && run.state !== "awaiting-confirmation" && run.state !== "pending")
      throw new ApiError(
        "ROLLGATE_E_API_CONFLICT",
        `run ${run.id} is ${run.state}; only a running run can be paused`,
      );
    ctx.store.setState(run.id, "paused", `paused by an operator (dashboard, token ${p.id})`);
    return answer(run);
  });

  app.post("/api/runs/:id/resume", async (req: ActionRequest) => {
    const p = operator(req);
    const run = ctx.run(req.params.id);
    notFinished(run, "resume");
    if (run.state === "running") return answer(run);
    if (run.state === "aborting")
      throw new ApiError("ROLLGATE_E_API_CONFLICT", `run ${run.id} is being aborted; it cannot be resumed`);
    const live = ctx.store.engineHolder(run.fleet);
    if (!live) {
      throw new ApiError(
        "ROLLGATE_E_API_NO_ENGINE",
        `no engine is driving run ${run.id} (${run.state}); the server does not run engines: run \`rollgate resume --state <state file> --run ${run.id}\` on the machine that drives ${run.fleet}`,
      );
    }
    ctx.store.setState(run.id, "running", `resumed by an operator (dashboard, token ${p.id})`);
    return answer(run);
  });

  app.post("/api/runs/:id/abort", async (req: ActionRequest) => {
    const p = operator(req);
    const run = ctx.run(req.params.id);
    notFinished(run, "abort");
    if (run.state === "aborting") return answer(run);
    const live = ctx.store.engineHolder(run.fleet);
    ctx.store.setState(
      run.id,
      live ? "aborting" : "aborted",
      `aborted by an operator (dashboard, token ${p.id})`,
    );
    return answer(run);
  });

  app.post("/api/runs/:id/confirm", async (req: ActionRequest) => {
    const p = operator(req);
    const run = ctx.run(req.params.id);
    notFinished(run, "confirm");
    const body = req.body ?? {};
    if (typeof body !== "object" || Array.isArray(body))
      throw new ApiError(
        "ROLLGATE_E_API_BAD_REQUEST",
        'the body must be a JSON object: { "step": "<step id>" }',
      );
    const { step } = body as { step?: unknown };
    if (step !== undefined && typeof step !== "string")
      throw new ApiError("ROLLGATE_E_API_BAD_REQUEST", "step must be a step id (a string)");
    const plan = ctx.store.getPlan(run.id);
    const m = ctx.model(run);
    const points = plan.steps.filter((s) => s.pointOfNoReturn);
    let chosen: string[];
    if (step !== undefined) {
      const s = plan.steps.find((x) => x.id === step);
      if (!s) throw new ApiError("ROLLGATE_E_API_BAD_REQUEST", `run ${run.id}'s plan has no step ${step}`);
      if (!s.pointOfNoReturn)
        throw new ApiError(
          "ROLLGATE_E_API_BAD_REQUEST",
          `${step} is not a point of no return (G4); only those need a confirmation`,
        );
      if (m.status.get(step)?.status === "done")
        throw new ApiError("ROLLGATE_E_API_CONFLICT", `${step} is already done`);
      chosen = run.confirmed.includes(step) ? [] : [step];
    } else {
      chosen = points
        .filter((s) => !run.confirmed.includes(s.id) && m.status.get(s.id)?.status !== "done")
        .map((s) => s.id);
    }
    for (const id of chosen) ctx.store.confirm(run.id, id, `dashboard:${p.id}`);
    return answer(run, { confirmed: chosen });
  });
}
