import type { RuleViolation } from "../rules/checks.ts";
import type { Step } from "../model/step.ts";
import type { Violation } from "./types.ts";

/** How the verifier's parts report a violation: once per rule and detail, at most MAX_VIOLATIONS. */
export type Report = (
  v: RuleViolation,
  step: Step | undefined,
  branch: Violation["branch"],
  at?: number,
) => void;

const MAX_VIOLATIONS = 50;

/** A report that collects into `violations`. */
export function collectInto(violations: Violation[]): Report {
  const seen = new Set<string>();
  return (v, step, branch, at) => {
    const key = `${v.rule}|${v.detail}`;
    if (seen.has(key) || violations.length >= MAX_VIOLATIONS) return;
    seen.add(key);
    violations.push({
      rule: v.rule,
      ...(step ? { step: step.id } : {}),
      ...(branch ? { branch } : {}),
      ...(at !== undefined ? { at } : {}),
      detail: v.detail,
    });
  };
}
