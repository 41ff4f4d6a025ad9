import type { RunDetail } from "../events/fold.ts";
import type { RunEvent, RunState } from "../events/types.ts";
import type { Plan } from "../plan/types.ts";

/** The run's summary and step views: the shapes the server folds them into (events/fold.ts), declared once. */
export type { RunDetail, StepStatus } from "../events/fold.ts";

/** The API as the page sees it (docs/dashboard.md). The token travels in a header, never a URL. */
export interface ApiErrorBody {
  error: { code: string; message: string };
}

export class ApiFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface RunListItem {
  id: string;
  fleet: string;
  target: string;
  strategy: string;
  state: RunState;
  createdAt: string;
  progress: { done: number; total: number };
}

export interface FleetServer {
  name: string;
  address: string;
  release: string;
  state: string;
  serving: boolean;
}

export interface FleetCluster {
  name: string;
  pack: string;
  capacity: number;
  lineage: string | null;
  supercluster: string | null;
  target: string | null;
  serving: boolean;
  servers: FleetServer[];
}

export interface FleetView {
  fleet: string;
  run: string | null;
  runState: RunState | null;
  capacityFloor: number;
  capacity: { now: number; domains: Record<string, number> } | null;
  superclusters: {
    name: string;
    lineage: string;
    founder: string | null;
    isNew: boolean;
    members: string[];
  }[];
  clusters: FleetCluster[];
}

export class Api {
  constructor(private readonly token: string) {}

  private headers(extra: Record<string, string> = {}): Headers {
    return new Headers({ authorization: `Bearer ${this.token}`, ...extra });
  }

  async get<T>(path: string): Promise<T> {
    const res = await fetch(path, { headers: this.headers(), cache: "no-store" });
    return this.parse<T>(res);
  }

  async post<T>(path: string, body: unknown = {}): Promise<T> {
    const res = await fetch(path, {
      method: "POST",
      headers: this.headers({ "content-type": "application/json" }),
      body: JSON.stringify(body),
    });
    return this.parse<T>(res);
  }

  private async parse<T>(res: Response): Promise<T> {
    const body = (await res.json().catch(() => ({}))) as T | ApiErrorBody;
    if (!res.ok) {
      const err = (body as ApiErrorBody).error ?? { code: `HTTP_${res.status}`, message: res.statusText };
      throw new ApiFailure(res.status, err.code, err.message);
    }
    return body as T;
  }

  whoami = () => this.get<{ token: { id: string; role: "viewer" | "operator" } }>("/api/whoami");
  runs = () => this.get<{ runs: RunListItem[]; defaultRun: string | null }>("/api/runs");
  run = (id: string) => this.get<RunDetail>(`/api/runs/${encodeURIComponent(id)}`);
  plan = (id: string) => this.get<{ plan: Plan }>(`/api/runs/${encodeURIComponent(id)}/plan`);
  fleet = (id: string) => this.get<FleetView>(`/api/fleet?run=${encodeURIComponent(id)}`);
  act = (id: string, action: string, body: unknown = {}) =>
    this.post<{ ok: true; state: RunState }>(`/api/runs/${encodeURIComponent(id)}/${action}`, body);

  /**
   * Follows a run's events over server-sent events, read with fetch so the token goes in a header
   * (EventSource cannot send one). Reconnects after a drop, resuming from the last id it saw.
   * `event: leader` frames (the engine that leads the run, sent when it changes) go to onLeader.
   */
  follow(
    runId: string,
    after: number,
    onEvent: (e: RunEvent) => void,
    onStatus: (live: boolean) => void,
    onLeader: (engine: RunDetail["engine"]) => void = () => undefined,
  ): () => void {
    let last = after;
    let stopped = false;
    let controller: AbortController | undefined;
    const loop = async () => {
      let delay = 500;
      while (!stopped) {
        controller = new AbortController();
        try {
          const res = await fetch(`/api/runs/${encodeURIComponent(runId)}/events`, {
            headers: this.headers({ accept: "text/event-stream", "last-event-id": String(last) }),
            signal: controller.signal,
            cache: "no-store",
          });
          // caught below: the stream reconnects, with a backoff
          if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
          onStatus(true);
          delay = 500;
          const reader = res.body.getReader();
          const decoder = new TextDecoder();
          let buf = "";
          for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            buf += decoder.decode(value, { stream: true });
            // walk the frames by position and cut the buffer once: a burst of events stays linear
            let from = 0;
            let i = buf.indexOf("\n\n");
            while (i >= 0) {
              const block = buf.slice(from, i);
              from = i + 2;
              const lines = block.split("\n");
              const data = lines
                .filter((l) => l.startsWith("data:"))
                .map((l) => l.slice(5).trimStart())
                .join("\n");
              const kind = lines
                .find((l) => l.startsWith("event:"))
                ?.slice(6)
                .trim();
              if (data && kind === "leader") {
                // the engine that leads the run changed (a takeover): no seq, not a journal event
                onLeader((JSON.parse(data) as { engine: RunDetail["engine"] }).engine);
              } else if (data) {
                const e = JSON.parse(data) as RunEvent;
                if (e.seq > last) {
                  last = e.seq;
                  onEvent(e);
                }
              }
              i = buf.indexOf("\n\n", from);
            }
            buf = buf.slice(from);
          }
        } catch {
          /* dropped: reconnect below */
        }
        if (stopped) return;
        onStatus(false);
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 5000);
      }
    };
    void loop();
    return () => {
      stopped = true;
      controller?.abort();
    };
  }
}
