import { afterEach, describe, expect, it } from "vitest";
import { type Lab, startLab } from "../../src/lab/index.ts";
import { writeFleet } from "./lab-helpers.ts";
import { e2eTimeouts } from "../helpers/wait.ts";

e2eTimeouts(240_000);

// G3 as the lab sees it: in-service capacity against the fleet's floor, at every change.
const FLEET = `apiVersion: rollgate/v1
fleet: lab-capacity
defaults:
  capacityFloor: 0.6
clusters:
  - name: mx
    pack: polyserve-matrix
    version: 3.5.0
    servers:
      - { name: m1, address: 10.62.1.1 }
      - { name: m2, address: 10.62.1.2 }
      - { name: m3, address: 10.62.1.3 }
  - name: dma-a
    pack: polycom-dma
    version: 10.0.1
    capacity: 100
    servers:
      - { name: a-1, address: 10.62.2.1 }
  - name: dma-b
    pack: polycom-dma
    version: 10.0.1
    capacity: 100
    servers:
      - { name: b-1, address: 10.62.3.1 }
superclusters:
  - { name: sc, pack: polycom-dma, clusters: [dma-a, dma-b] }
`;

let lab: Lab | undefined;
afterEach(async () => {
  await lab?.stop();
  lab = undefined;
});

describe("lab: capacity against the floor (G3)", () => {
  it("records a violation once per dip when a matrix's in-service servers fall below the floor, none above it", async () => {
    lab = await startLab(writeFleet(FLEET), { speed: 9000 });
    await lab.act("m1", { action: "stop" });
    expect(lab.status().violations).toEqual([]); // 2 of 3: 66% ≥ 60%
    await lab.act("m2", { action: "disable" });
    const v = lab.status().violations;
    expect(v.map((x) => x.rule)).toEqual(["G3"]);
    expect(v[0]!.detail).toContain("mx has 33% of its capacity in service, below the floor 60%");
    expect(v[0]!.detail).toContain("m1, m2");
    await lab.act("m3", { action: "stop" }); // still below: the same dip
    expect(lab.status().violations).toHaveLength(1);
  });

  it("counts a DMA supercluster's clusters by capacity: one of two busied out is 50%, below 60%", async () => {
    lab = await startLab(writeFleet(FLEET), { speed: 9000 });
    await lab.act("a-1", { action: "busy-out" });
    expect(lab.status().violations.map((x) => `${x.rule} ${x.detail}`)).toEqual([
      expect.stringMatching(
        /^G3 sc has 50% of its capacity in service, below the floor 60% \(out of service: dma-a\)/,
      ),
    ]);
  });
});
