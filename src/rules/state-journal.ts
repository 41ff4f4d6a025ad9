import type { Undo } from "./state-types.ts";

// ── mutation helpers that record their own undo ──────────────────────────────────────────────

const NO_UNDO: Undo = () => {};

/** The in-place changes of one step's effect, each with its undo (state-effects.ts). */
export class Journal {
  private readonly undos: Undo[] = [];
  /** `record` false: change in place and keep no undo (the verifier's main replay). */
  constructor(private readonly record = true) {}
  set<T extends object, K extends keyof T>(obj: T, key: K, value: T[K]): void {
    const had = Object.hasOwn(obj, key);
    const prev = obj[key];
    if (had && prev === value) return;
    obj[key] = value;
    if (!this.record) return;
    this.undos.push(() => {
      if (had) obj[key] = prev;
      else delete obj[key];
    });
  }
  add<T>(set: Set<T>, v: T): void {
    if (set.has(v)) return;
    set.add(v);
    if (!this.record) return;
    this.undos.push(() => set.delete(v));
  }
  remove<T>(set: Set<T>, v: T): void {
    if (!set.has(v)) return;
    set.delete(v);
    if (!this.record) return;
    this.undos.push(() => set.add(v));
  }
  put<K, V>(map: Map<K, V>, k: K, v: V): void {
    const had = map.has(k);
    const prev = map.get(k);
    map.set(k, v);
    if (!this.record) return;
    this.undos.push(() => (had ? map.set(k, prev as V) : map.delete(k)));
  }
  drop<K, V>(map: Map<K, V>, k: K): void {
    if (!map.has(k)) return;
    const prev = map.get(k) as V;
    map.delete(k);
    if (!this.record) return;
    this.undos.push(() => map.set(k, prev));
  }
  done(): Undo {
    if (!this.record) return NO_UNDO;
    const list = this.undos;
    return () => {
      for (let i = list.length - 1; i >= 0; i--) list[i]!();
    };
  }
}

/** The journal of in-place changes that keep no undo (it holds nothing, so one serves all). */
export const NO_RECORD = new Journal(false);
