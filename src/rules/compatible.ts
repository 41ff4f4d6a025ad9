import { type CompatibilityPolicy, isCompatible as isCompatibleUncached } from "../model/compatibility.ts";

// G1/D2 are asked the same few release pairs millions of times when verifying a large plan
const COMPAT = new WeakMap<CompatibilityPolicy, Map<string, boolean>>();

/** G1/D2: may releases a and b run side by side under `policy`? (cached per policy) */
export function isCompatible(a: string, b: string, policy: CompatibilityPolicy): boolean {
  if (a === b) return true;
  let m = COMPAT.get(policy);
  if (!m) {
    m = new Map();
    COMPAT.set(policy, m);
  }
  const key = `${a}|${b}`;
  let v = m.get(key);
  if (v === undefined) {
    v = isCompatibleUncached(a, b, policy);
    m.set(key, v);
  }
  return v;
}
