import { resolve } from "node:path";
import { isStoreUrl, redactStoreUrl } from "../store/location.ts";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { RollgateError } from "../model/errors.ts";
import { abortRun, confirmRun, pauseRun, resumeLiveRun } from "../run/control.ts";
import { defaultStatePath } from "../run/state-path.ts";
import { type RunRecord, shownEngine } from "../store/types.ts";
import { OPERATOR, type Principal, requireOperator } from "./auth.ts";
import type { ServerContext } from "./context.ts";

/**
 * The operator's controls: the CLI's own (run/control.ts). They write the run's state into the
 * store and the engine, in whatever process, reads it.
 * The server runs no engine: resuming a run no engine drives is refused with the command to run.
 */
type ActionRequest = FastifyRequest<{ Params: { id: string }; Body: unknown }>;

/** Runs a control of run/control.ts, answering its refusals with the API's codes. */
async function control<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof RollgateError) {
      if (e.code === "ROLLGATE_E_USAGE") throw new RollgateError("ROLLGATE_E_API_BAD_REQUEST", e.message);
      if (e.code === "ROLLGATE_E_RUN_FINISHED" || e.code === "ROLLGATE_E_RUN_STATE")
        throw new RollgateError("ROLLGATE_E_API_CONFLICT", e.message);
    }
    throw e;
  }
}

/** The abort's body: none, {}, or { "returnToService": boolean }; anything else (null too) is a 400. */
function abortBody(body: unknown): boolean {
  if (body === undefined) return false;
  const shape = 'the body must be a JSON object: { "returnToService": true } (or none)';
  if (typeof body !== "object" || body === null || Array.isArray(body))
    throw new RollgateError("ROLLGATE_E_API_BAD_REQUEST", shape);
  const unknown = Object.keys(body).filter((k) => k !== "returnToService");
  if (unknown.length)
    throw new RollgateError("ROLLGATE_E_API_BAD_REQUEST", `unknown field ${unknown.join(", ")}: ${shape}`);
  const { returnToService } = body as { returnToService?: unknown };
  if (returnToService !== undefined && typeof returnToService !== "boolean")
    throw new RollgateError("ROLLGATE_E_API_BAD_REQUEST", "returnToService must be true or false");
  return returnToService === true;
}

/** For an abort with return to service no engine drives: the commands that do, on this run. */
function noEngineHint(ctx: ServerContext, run: RunRecord): string {
  const fleetFile = resolve(run.fleetFile);
  const state = ctx.statePath
    ? isStoreUrl(ctx.statePath)
      ? redactStoreUrl(ctx.statePath)
      : resolve(ctx.statePath)
    : "<state file>";
  const where = state === defaultStatePath(fleetFile) ? "" : ` --state ${state}`;
  const tail = `${where} --run ${run.id}`;
  return `the server runs no engine: \`rollgate abort ${fleetFile} --return-to-service${tail}\` or \`rollgate resume ${fleetFile}${tail}\` drives it`;
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
  const answer = async (run: RunRecord, extra: Record<string, unknown> = {}) => {
    const now = (await ctx.store.getRun(run.id))!;
    return {
      ok: true,
      run: run.id,
      state: now.state,
      engine: shownEngine(await ctx.store.engineHolder(run.fleet)),
      ...extra,
    };
  };
  const by = (p: Principal) => `an operator (dashboard, token ${p.id})`;

  app.post("/api/runs/:id/pause", { config: OPERATOR }, async (req: ActionRequest) => {
    const p = operator(req);
    const run = await ctx.run(req.params.id);
    await control(async () => await pauseRun(ctx.writer(), run, by(p)));
    return answer(run);
  });

  app.post("/api/runs/:id/resume", { config: OPERATOR }, async (req: ActionRequest) => {
    const p = operator(req);
    const run = await ctx.run(req.params.id);
    if (!(await control(async () => await resumeLiveRun(ctx.writer(), run, by(p))))) {
      throw new RollgateError(
        "ROLLGATE_E_API_NO_ENGINE",
        `no engine is driving run ${run.id} (${run.state}); the server does not run engines: run \`rollgate resume --state <state file> --run ${run.id}\` on the machine that drives ${run.fleet}`,
      );
    }
    return answer(run);
  });

  // The body is optional: { "returnToService": true } asks the engine to bring back, once running
  // steps finish, what the run took out of service that the rules let return (the CLI's
  // `abort --return-to-service`: DMA clusters D6/D3, Matrix servers M3/M4/M5/M9). The server runs
  // no engine: with none alive the run stays "aborting" until one drives the return.
  app.post("/api/runs/:id/abort", { config: OPERATOR }, async (req: ActionRequest) => {
    const p = operator(req);
    const run = await ctx.run(req.params.id);
    const returnToService = abortBody(req.body);
    const r = await control(
      async () =>
        await abortRun(ctx.writer(), run, by(p), { returnToService, noEngine: noEngineHint(ctx, run) }),
    );
    return answer(run, { returnToService, message: r.message });
  });

  app.post("/api/runs/:id/confirm", { config: OPERATOR }, async (req: ActionRequest) => {
    const p = operator(req);
    const run = await ctx.run(req.params.id);
    const body = req.body === undefined ? {} : req.body;
    if (typeof body !== "object" || body === null || Array.isArray(body))
      throw new RollgateError(
        "ROLLGATE_E_API_BAD_REQUEST",
        'the body must be a JSON object: { "step": "<step id>" }',
      );
    const { step } = body as { step?: unknown };
    if (step !== undefined && typeof step !== "string")
      throw new RollgateError("ROLLGATE_E_API_BAD_REQUEST", "step must be a step id (a string)");
    const chosen = await control(async () => await confirmRun(ctx.writer(), run, `dashboard:${p.id}`, step));
    return answer(run, { confirmed: chosen });
  });
}
