import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Lab } from "../../src/lab/index.ts";
import { tempDir } from "../helpers/cli.ts";

/** Writes a fleet file into a fresh temporary directory; returns its path. */
export function writeFleet(yaml: string, name = "fleet.yaml"): string {
  const path = join(tempDir("rollgate-lab-test-"), name);
  writeFileSync(path, yaml);
  return path;
}

export interface Answer {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: test code reads JSON answers loosely
  body: any;
}

/** Talks to the lab's appliances over real HTTP, at each server's own loopback URL. */
export function appliances(lab: Lab) {
  const url = (server: string) => {
    const s = lab.servers.find((x) => x.name === server);
    if (!s) throw new Error(`no server ${server}`);
    return s.url;
  };
  const status = async (server: string): Promise<Answer["body"]> => {
    const res = await fetch(`${url(server)}/v1/status`);
    return res.json();
  };
  const act = async (
    server: string,
    action: string,
    body: Record<string, unknown> = {},
    wait?: boolean,
  ): Promise<Answer> => {
    const q = wait === undefined ? "" : `?wait=${wait ? 1 : 0}`;
    const res = await fetch(`${url(server)}/v1/actions/${action}${q}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() };
  };
  const control = async (method: "GET" | "POST", path: string, body?: unknown): Promise<Answer> => {
    const res = await fetch(`${lab.controlUrl}${path}`, {
      method,
      ...(body ? { headers: { "content-type": "application/json" }, body: JSON.stringify(body) } : {}),
    });
    return { status: res.status, body: await res.json() };
  };
  return { url, status, act, control };
}
