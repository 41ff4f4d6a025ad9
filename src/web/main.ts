import "./style.css";
import { nextStepView } from "../events/fold.ts";
import { FINISHED_STATES, type RunEvent } from "../events/types.ts";
import type { Plan } from "../plan/types.ts";
import { Api, ApiFailure, type RunDetail } from "./api.ts";
import { drawCapacity, drawTimeline, formatSeconds, frameOf } from "./charts.ts";
import { FleetPanel } from "./fleet.ts";
import { EventLog } from "./log.ts";

/**
 * The dashboard. Token: from a `#token=` fragment (then wiped from the address bar) or the
 * sign-in form, kept in sessionStorage, sent only in the Authorization header.
 * Data: GET the run, its plan and the fleet once; then live from the event stream (each step's
 * status moved on by the server's own fold, events/fold.ts), with the run's summary and the
 * fleet refetched (debounced) when steps end or the state changes.
 */
const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;
const KEY = "rollgate.token";

function takeToken(): string | null {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (m) {
    sessionStorage.setItem(KEY, decodeURIComponent(m[1]!));
    history.replaceState(null, "", location.pathname + location.search);
  }
  return sessionStorage.getItem(KEY);
}

function signIn(message = ""): void {
  $("app").hidden = true;
  $("signin").hidden = false;
  $("signin-error").textContent = message;
  $("signin-form").onsubmit = (ev) => {
    ev.preventDefault();
    const v = $<HTMLInputElement>("token-input").value.trim();
    if (!v) return;
    sessionStorage.setItem(KEY, v);
    $("signin").hidden = true;
    void start(v);
  };
}

let stopFollow: (() => void) | undefined;

async function start(token: string): Promise<void> {
  const api = new Api(token);
  let role: "viewer" | "operator";
  try {
    const who = await api.whoami();
    role = who.token.role;
    $("who").textContent = `${role} · ${who.token.id}`;
    $("who").title = "click to sign out";
    $("who").onclick = () => {
      sessionStorage.removeItem(KEY);
      stopFollow?.();
      location.reload();
    };
  } catch (e) {
    sessionStorage.removeItem(KEY);
    return signIn(e instanceof ApiFailure ? `${e.message} [${e.code}]` : String(e));
  }
  $("app").hidden = false;
  document.body.dataset.role = role;

  const wanted = new URLSearchParams(location.search).get("run");
  let runId: string | undefined;
  while (!runId) {
    const { defaultRun } = await api.runs();
    runId = wanted ?? defaultRun ?? undefined;
    if (!runId) {
      notice("No run in the state file yet: waiting for one (rollgate apply, or rollgate demo --dashboard).");
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
  notice("");
  const id = runId;
  const [{ plan }, detail0, fleet0] = await Promise.all([
    api.plan(id),
    api.run(id),
    api.fleet(id).catch(() => null),
  ]);
  const fleetPanel = new FleetPanel($("fleet"), $("fleet-legend"));
  if (fleet0) fleetPanel.show(fleet0);
  else $("fleet").textContent = "The fleet file of this run cannot be read.";
  const rules = new Map(plan.steps.map((s) => [s.id, s.rules]));
  const log = new EventLog($<HTMLOListElement>("log"), $("log-count"), 400, (step) => rules.get(step) ?? []);
  let detail: RunDetail = detail0;
  const status = { ...detail.steps };
  let lastAt = Date.now();

  const paintCharts = () => {
    const frame = frameOf(plan, detail.startedAt, FINISHED_STATES.includes(detail.run.state), lastAt);
    drawTimeline($<HTMLCanvasElement>("timeline"), plan, status, frame);
    drawCapacity($("capacity") as unknown as SVGSVGElement, detail, frame);
  };
  let chartFrame = 0;
  const scheduleCharts = () => {
    if (!chartFrame)
      chartFrame = requestAnimationFrame(() => {
        chartFrame = 0;
        paintCharts();
      });
  };
  const render = () => {
    renderHeader(plan, detail, role);
    renderAlerts(api, id, detail, role);
    scheduleCharts();
  };
  render();
  wireControls(api, id, role, () => refresh());

  let timer: ReturnType<typeof setTimeout> | undefined;
  let fleetDue = false;
  const refresh = (fleetToo = false) => {
    fleetDue ||= fleetToo;
    if (timer) return;
    timer = setTimeout(async () => {
      timer = undefined;
      const withFleet = fleetDue;
      fleetDue = false;
      try {
        detail = await api.run(id);
        Object.assign(status, detail.steps);
        render();
        if (withFleet) fleetPanel.show(await api.fleet(id));
      } catch (e) {
        notice(`cannot refresh: ${e instanceof ApiFailure ? `${e.message} [${e.code}]` : String(e)}`);
      }
    }, 250);
  };

  // the history first (the log shows it), then live
  const history = await api.get<{ events: RunEvent[] }>(
    `/api/runs/${encodeURIComponent(id)}/events?limit=10000`,
  );
  for (const e of history.events.slice(-400)) log.add(e);
  const after = history.events.at(-1)?.seq ?? 0;
  stopFollow = api.follow(
    id,
    after,
    (e) => {
      log.add(e);
      lastAt = Date.parse(e.at);
      const step = "step" in e && typeof e.step === "string" ? e.step : undefined;
      const next = step === undefined ? undefined : nextStepView(status[step], e);
      if (step !== undefined && next !== undefined) status[step] = next;
      switch (e.type) {
        case "observation":
          fleetPanel.observe(e.cluster, e.server, e.release, e.state);
          break;
        case "step.intent":
        case "step.started":
        case "step.done":
          scheduleCharts();
          refresh(true);
          break;
        case "step.waiting":
        case "step.failed":
        case "confirmation.needed":
        case "confirmation.given":
        case "escalation":
        case "run.state":
          refresh(true);
          break;
        default:
          break;
      }
    },
    (live) => {
      document.body.classList.toggle("offline", !live);
      notice(live ? "" : "Connection lost: reconnecting…");
    },
    (engine) => {
      detail = { ...detail, engine };
      renderLeader(engine);
    },
  );
  // the now-line moves with the clock
  setInterval(() => {
    if (!FINISHED_STATES.includes(detail.run.state)) scheduleCharts();
  }, 1000);
  window.addEventListener("resize", scheduleCharts);
}

function notice(text: string): void {
  const n = $("notice");
  n.textContent = text;
  n.hidden = !text;
}

/** Which engine leads the run and since when (a takeover changes it live: `event: leader`). */
function renderLeader(engine: RunDetail["engine"]): void {
  const el = $("leader");
  el.textContent = engine
    ? `engine: pid ${engine.pid} on ${engine.host}, leads since ${new Date(engine.since).toLocaleTimeString()}`
    : "engine: none";
  el.title = engine ? `leads since ${engine.since}` : "no engine drives this run now";
}

function renderHeader(plan: Plan, d: RunDetail, role: string): void {
  renderLeader(d.engine);
  $("run-title").textContent = `${d.run.fleet} → ${d.run.target} · ${d.run.strategy} · ${d.run.id}`;
  const badge = $("run-state");
  badge.textContent = d.run.state;
  badge.className = `badge state-${d.run.state}`;
  const pct = d.progress.total ? (d.progress.done / d.progress.total) * 100 : 0;
  $("progress-bar").style.width = `${pct}%`;
  $("progress-text").textContent =
    `${d.progress.done}/${d.progress.total} steps · ~${formatSeconds(d.secondsLeft)} left`;
  $("plan-meta").textContent =
    `${plan.steps.length} steps · plan ${formatSeconds(plan.estimate.seconds)} · lower bound ${formatSeconds(plan.estimate.lowerBoundSeconds)} · verified ${plan.verification.statesChecked} states`;
  const domains = Object.entries(d.capacity.domains)
    .map(([k, v]) => `${k} ${Math.round(v * 100)}%`)
    .join(" · ");
  $("capacity-meta").textContent =
    `now ${Math.round(d.capacity.now * 100)}% (${domains}) · plan min ${Math.round(plan.estimate.minCapacity * 100)}%`;
  const s = d.run.state;
  const operator = role === "operator";
  const set = (id: string, enabled: boolean) => {
    const b = $<HTMLButtonElement>(id);
    b.disabled = !operator || !enabled;
    b.title = operator ? "" : "a viewer token cannot steer the run";
  };
  set("btn-pause", s === "running" || s === "awaiting-confirmation" || s === "pending");
  set("btn-resume", s === "paused" || s === "awaiting-confirmation" || s === "escalated");
  set("btn-abort", !FINISHED_STATES.includes(s) && s !== "aborting");
  document.title = `${s} · ${d.progress.done}/${d.progress.total} · rollgate`;
}

function renderAlerts(api: Api, id: string, d: RunDetail, role: string): void {
  const root = $("alerts");
  const items: HTMLElement[] = [];
  const el = (tag: string, cls: string, text?: string) => {
    const x = document.createElement(tag);
    x.className = cls;
    if (text !== undefined) x.textContent = text;
    return x;
  };
  const escalations = d.escalation ? [d.escalation] : [];
  for (const e of escalations) {
    const box = el("div", "alert bad escalation");
    const head = el("div", "alert-head");
    head.append(el("b", "rule", e.rule ?? e.code), el("span", "", `Escalated: ${e.detail}`));
    box.append(head);
    if (e.manual) box.append(el("blockquote", "manual", `“${e.manual}”`));
    box.append(el("div", "hint", "Fix the cause, then resume (rollgate resume)."));
    items.push(box);
  }
  for (const step of d.awaitingConfirmation) {
    const box = el("div", "alert confirm");
    const head = el("div", "alert-head");
    head.append(
      el("b", "rule", "G4"),
      el("span", "", `${step} is a point of no return: the old release cannot come back after it.`),
    );
    const btn = el("button", "confirm-btn", "Confirm") as HTMLButtonElement;
    btn.dataset.step = step;
    btn.disabled = role !== "operator";
    btn.onclick = () => act(api, id, "confirm", { step });
    head.append(btn);
    box.append(head);
    items.push(box);
  }
  for (const w of d.waiting) {
    const box = el("div", "alert warn");
    const head = el("div", "alert-head");
    head.append(el("b", "rule", w.rule), el("span", "", `${w.step} waits: ${w.reason}`));
    box.append(head);
    items.push(box);
  }
  root.replaceChildren(...items);
}

async function act(api: Api, id: string, action: string, body: unknown = {}): Promise<void> {
  try {
    await api.act(id, action, body);
    notice("");
  } catch (e) {
    notice(e instanceof ApiFailure ? `${action} refused: ${e.message} [${e.code}]` : String(e));
  }
}

function wireControls(api: Api, id: string, role: string, after: () => void): void {
  for (const b of Array.from(document.querySelectorAll<HTMLButtonElement>("#controls button"))) {
    let armed = false;
    b.onclick = async () => {
      const action = b.dataset.action!;
      if (action === "abort" && !armed) {
        armed = true;
        b.textContent = "Abort? click again";
        setTimeout(() => {
          armed = false;
          b.textContent = "Abort";
        }, 4000);
        return;
      }
      armed = false;
      b.textContent = action === "abort" ? "Abort" : b.textContent;
      if (role !== "operator") return notice(`${action} refused: a viewer token cannot steer the run`);
      const rts = document.querySelector<HTMLInputElement>("#abort-rts")?.checked === true;
      await act(api, id, action, action === "abort" ? { returnToService: rts } : {});
      after();
    };
  }
}

const token = takeToken();
if (token) void start(token);
else signIn();
