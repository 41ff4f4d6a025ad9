import type { Plan } from "../plan/types.ts";
import type { RunDetail, StepStatus } from "./api.ts";

/**
 * The plan as a timeline (one lane per cluster, a bar per step, coloured by status, a now-line)
 * on a canvas, and capacity over time against the floor as SVG. Both share the x axis: plan
 * seconds from the run's start (a lab's plan is already in lab time).
 */
export const STATUS_COLOR: Record<StepStatus, string> = {
  pending: "#3a4150",
  running: "#4aa3ff",
  done: "#2fbf71",
  failed: "#ff5c5c",
  waiting: "#f0b429",
  confirm: "#d67cff",
};

export function formatSeconds(s: number): string {
  const v = Math.max(0, Math.round(s));
  if (v < 90) return `${v}s`;
  if (v < 5400) return `${Math.round(v / 60)}m`;
  return `${Math.floor(v / 3600)}h${String(Math.round((v % 3600) / 60)).padStart(2, "0")}`;
}

export interface Frame {
  /** Seconds shown on the x axis. */
  span: number;
  /** Seconds since the run started (the now-line), or null before it started. */
  now: number | null;
}

export function frameOf(plan: Plan, startedAt: string | null, finished: boolean, lastAt: number): Frame {
  const started = startedAt ? Date.parse(startedAt) : null;
  const now = started === null ? null : ((finished ? lastAt : Date.now()) - started) / 1000;
  return { span: Math.max(plan.estimate.seconds, now ?? 0) * 1.04 || 1, now };
}

const LABEL_W = 92;

export function drawTimeline(
  canvas: HTMLCanvasElement,
  plan: Plan,
  status: Record<string, { status: StepStatus }>,
  frame: Frame,
): void {
  const lanes = [...new Set(plan.steps.map((s) => s.cluster))];
  const laneH = lanes.length <= 12 ? 22 : Math.max(5, Math.floor(300 / lanes.length));
  const width = canvas.clientWidth || 800;
  const TOP = 14;
  const height = TOP + lanes.length * laneH + 22;
  const dpr = window.devicePixelRatio || 1;
  if (canvas.width !== Math.round(width * dpr) || canvas.height !== Math.round(height * dpr)) {
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(height * dpr);
    canvas.style.height = `${height}px`;
  }
  const g = canvas.getContext("2d");
  if (!g) return;
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, width, height);
  const plotW = width - LABEL_W - 8;
  const x = (t: number) => LABEL_W + (t / frame.span) * plotW;
  g.font = "11px ui-sans-serif, system-ui, sans-serif";
  g.textBaseline = "middle";
  // grid and time ticks
  const step = niceStep(frame.span / 8);
  g.fillStyle = "#8a93a6";
  g.strokeStyle = "#262c38";
  for (let t = 0; t <= frame.span; t += step) {
    g.beginPath();
    g.moveTo(x(t) + 0.5, TOP);
    g.lineTo(x(t) + 0.5, height - 18);
    g.stroke();
    g.fillText(formatSeconds(t), x(t) + 2, height - 8);
  }
  const laneOf = new Map(lanes.map((l, i) => [l, i]));
  for (const [i, lane] of lanes.entries()) {
    if (laneH >= 12) {
      g.fillStyle = "#c9d1e0";
      g.fillText(lane.length > 13 ? `${lane.slice(0, 12)}…` : lane, 4, TOP + i * laneH + laneH / 2);
    }
  }
  for (const s of plan.steps) {
    const st = status[s.id]?.status ?? "pending";
    const y = TOP + laneOf.get(s.cluster)! * laneH + 2;
    const x0 = x(s.start);
    const w = Math.max(2, x(s.end) - x0 - 1);
    g.fillStyle = STATUS_COLOR[st];
    g.fillRect(x0, y, w, laneH - 4);
    if (s.pointOfNoReturn) {
      g.strokeStyle = "#d67cff";
      g.lineWidth = 2;
      g.strokeRect(x0 + 1, y + 1, w - 2, laneH - 6);
      g.lineWidth = 1;
    }
    if (laneH >= 18 && w > 60) {
      g.fillStyle = st === "pending" ? "#c9d1e0" : "#0d1117";
      const label = `${s.server ? `${s.server} ` : ""}${s.action}`;
      g.save();
      g.beginPath();
      g.rect(x0, y, w, laneH - 4);
      g.clip();
      g.fillText(label, x0 + 4, y + (laneH - 4) / 2);
      g.restore();
    }
  }
  if (frame.now !== null) {
    const nx = x(Math.min(frame.now, frame.span));
    g.strokeStyle = "#ff8a3d";
    g.lineWidth = 2;
    g.beginPath();
    g.moveTo(nx, TOP - 2);
    g.lineTo(nx, height - 18);
    g.stroke();
    g.lineWidth = 1;
    g.fillStyle = "#ff8a3d";
    g.fillText("now", Math.min(Math.max(nx - 10, 0), width - 24), 6);
  }
}

function niceStep(raw: number): number {
  const candidates = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400];
  return candidates.find((c) => c >= raw) ?? 3600 * Math.ceil(raw / 3600);
}

const SVG = "http://www.w3.org/2000/svg";

export function drawCapacity(svg: SVGSVGElement, detail: RunDetail, frame: Frame): void {
  const width = svg.clientWidth || 800;
  const height = 140;
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.style.height = `${height}px`;
  const top = 8;
  const bottom = height - 20;
  const plotW = width - LABEL_W - 8;
  const x = (t: number) => LABEL_W + (Math.min(t, frame.span) / frame.span) * plotW;
  const y = (f: number) => bottom - f * (bottom - top);
  const parts: string[] = [];
  for (const f of [0, 0.5, 1]) {
    parts.push(`<line x1="${LABEL_W}" x2="${width - 8}" y1="${y(f)}" y2="${y(f)}" class="gridline"/>`);
    parts.push(
      `<text x="${LABEL_W - 6}" y="${y(f) + 4}" class="axis" text-anchor="end">${Math.round(f * 100)}%</text>`,
    );
  }
  const stepPath = (pts: { t: number; f: number }[], end: number) => {
    if (!pts.length) return "";
    let d = `M${x(pts[0]!.t)},${y(pts[0]!.f)}`;
    for (let i = 1; i < pts.length; i++) d += ` H${x(pts[i]!.t)} V${y(pts[i]!.f)}`;
    return `${d} H${x(end)}`;
  };
  const planned = detail.capacity.planned.map((p) => ({ t: p.t, f: p.fraction }));
  parts.push(`<path d="${stepPath(planned, planned.at(-1)?.t ?? 0)}" class="planned"/>`);
  const start = detail.startedAt ? Date.parse(detail.startedAt) : null;
  if (start !== null) {
    const actual = detail.capacity.actual.map((p) => ({
      t: Math.max(0, (Date.parse(p.at) - start) / 1000),
      f: p.fraction,
    }));
    parts.push(`<path d="${stepPath(actual, frame.now ?? 0)}" class="actual"/>`);
  }
  const floor = detail.capacity.floor;
  parts.push(`<line x1="${LABEL_W}" x2="${width - 8}" y1="${y(floor)}" y2="${y(floor)}" class="floor"/>`);
  parts.push(
    `<text x="${width - 10}" y="${y(floor) + 13}" class="floor-label" text-anchor="end">floor ${Math.round(floor * 100)}% (G3)</text>`,
  );
  if (frame.now !== null)
    parts.push(`<line x1="${x(frame.now)}" x2="${x(frame.now)}" y1="${top}" y2="${bottom}" class="now"/>`);
  const tmp = document.createElementNS(SVG, "g");
  tmp.innerHTML = parts.join("");
  svg.replaceChildren(...Array.from(tmp.childNodes));
}
