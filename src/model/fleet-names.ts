/** Names in diagnostics: "did you mean …" for a misspelt one, and a short list of the names allowed. */

/**
 * "one of a, b, c" for an expected value, naming at most a few names: a file with thousands of
 * clusters and thousands of wrong references would otherwise list every name in every diagnostic
 * (quadratic time and memory). A short list gets a "did you mean" for what was written.
 */
const MAX_NAMES_LISTED = 8;
export function oneOf(names: { size: number; keys(): Iterator<string> }, written: string): string {
  const first: string[] = [];
  const it = names.keys();
  for (let r = it.next(); !r.done && first.length <= MAX_NAMES_LISTED; r = it.next()) first.push(r.value);
  if (names.size > MAX_NAMES_LISTED)
    return `one of ${first.slice(0, MAX_NAMES_LISTED).join(", ")}, … (${names.size} in all)`;
  const all = first;
  const near = closest(written, all);
  return `one of ${all.join(", ")}${near ? ` (did you mean ${near}?)` : ""}`;
}

/** The known name nearest to a misspelt one (edit distance at most 2, or a prefix), if any. */
export function closest(word: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const k of known) {
    const d =
      k.startsWith(word) || word.startsWith(k) ? 1 : editDistance(word.toLowerCase(), k.toLowerCase());
    if (d < bestDistance) {
      best = k;
      bestDistance = d;
    }
  }
  return bestDistance <= 2 ? best : undefined;
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++)
      row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}
