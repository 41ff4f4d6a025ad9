import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { RunEvent } from "../../src/events/types.ts";
import { Notifier, type NotifyFailure } from "../../src/notify/index.ts";
import { waitFor } from "../helpers/wait.ts";

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

describe("the notifier at the end of a run (a real receiver on 127.0.0.1)", () => {
  it("a delivery rollgate's end cuts short is reported with the attempts it made and why", async () => {
    let requests = 0;
    const server = createServer(() => {
      requests++; // never answers
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
    const failed: NotifyFailure[] = [];
    const n = new Notifier([{ url, format: "json" }], "seed", { onFailure: (f) => failed.push(f) });
    n.onEvent({
      type: "run.state",
      state: "completed",
      seq: 3,
      runId: "r1",
      at: "2026-01-01T00:00:00.000Z",
    } as RunEvent);
    await waitFor(() => requests > 0, { what: "the receiver saw the request" });
    await n.close(50);
    expect(failed).toEqual([
      expect.objectContaining({ kind: "completed", attempts: 1, error: "no answer before rollgate ended" }),
    ]);
  });
});
