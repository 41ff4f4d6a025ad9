import type { Fleet } from "../model/fleet.ts";
import { describeRule } from "../rules/packs.ts";
import { noReturnWords, type Step } from "../model/step.ts";

const INDEX = new WeakMap<Fleet, Map<string, Fleet["clusters"][number]>>();

/** One line per rule that placed a step, with the step's particulars (`rollgate plan --explain`). */
export function explainStep(step: Step, fleet: Fleet): string[] {
  let index = INDEX.get(fleet);
  if (!index) {
    index = new Map(fleet.clusters.map((c) => [c.name, c]));
    INDEX.set(fleet, index);
  }
  const cluster = index.get(step.cluster);
  const server = step.server ? cluster?.servers.find((s) => s.name === step.server) : undefined;
  return step.rules.map((id) => {
    const base = describeRule(id);
    switch (id) {
      case "M2":
        return server ? `${base}: ${server.name} is known to the matrix as ${server.address}` : base;
      case "M1":
        return `${base}: ${step.server ?? step.cluster} starts after the previous server is verified`;
      case "M4":
      case "G4":
        return step.pointOfNoReturn ? `${base}: after this step ${noReturnWords(step)}` : base;
      case "D10":
        return step.joins
          ? `${base}: ${step.cluster} joins ${step.joins}`
          : `${base}: ${step.cluster} founds ${step.founds ?? "the new supercluster"}`;
      case "D4":
        return step.territories?.length
          ? `${base}: ${step.territories.map((t) => `${t.name} → ${t.primary}${t.backup ? `/${t.backup}` : ""}`).join(", ")}`
          : base;
      case "D5": {
        // the maintenance window's record step: every territory's primary and backup, as recorded
        const sc = step.unassigned?.length
          ? fleet.superclusters.find((x) => x.name === step.supercluster)
          : undefined;
        if (sc)
          return `${base}: records ${sc.territories
            .filter((t) => step.unassigned!.includes(t.name))
            .map((t) => `${t.name} = ${t.primary}${t.backup ? `/${t.backup}` : ""}`)
            .join(
              ", ",
            )} and takes them off ${sc.name} while it is out of service; restored once every cluster has joined the new supercluster`;
        if (step.action === "restore-territories" && step.territories?.length)
          return `${base}: restores ${step.territories.map((t) => `${t.name} = ${t.primary}${t.backup ? `/${t.backup}` : ""}`).join(", ")} in ${step.supercluster ?? "the new supercluster"}`;
        return base;
      }
      case "M8":
        return step.pass?.rule === "M8"
          ? `${base}: pass ${step.pass.n} of ${step.pass.of} of a chain of supported rolling upgrades, to ${step.pass.to} (no supported path goes there directly)`
          : step.release
            ? `${base}: a supported path to ${step.release}`
            : base;
      case "M11":
        return step.pass
          ? `${base}: pass ${step.pass.n} of ${step.pass.of} the fleet file declares, ${step.pass.mode === undefined ? `the release change to ${step.pass.to}` : `the mode change to ${step.pass.mode} on ${step.pass.to}`}`
          : base;
      case "G3":
        return `${base}: capacity floor ${fleet.defaults.capacityFloor}`;
      default:
        return base;
    }
  });
}
