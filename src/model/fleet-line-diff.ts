/** Line by line comparisons of a fleet file's text before and after `rollgate fleet sync`. */

/** Lines that say the same up to the spacing inside flow brackets (`[a, b]`, `{ a: 1 }`). */
function sameLine(a: string, b: string): boolean {
  if (a === b) return true;
  const norm = (x: string) =>
    x
      .replace(/([[{])\s+/g, "$1")
      .replace(/\s+([\]}])/g, "$1")
      .trimEnd();
  return norm(a) === norm(b);
}

/** The LCS table of two line lists (`eq` decides which lines are the same). */
function lcsTable(a: string[], b: string[], eq: (x: string, y: string) => boolean): Uint32Array[] {
  const n = a.length;
  const m = b.length;
  const lcs: Uint32Array[] = Array.from({ length: n + 1 }, () => new Uint32Array(m + 1));
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--)
      lcs[i]![j] = eq(a[i]!, b[j]!) ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  return lcs;
}

/**
 * The Document API renders every node again; a line it renders only with other spacing inside
 * flow brackets than the file's is given back as the file wrote it, so that only what changed
 * reads differently.
 */
export function keepStyle(original: string, rendered: string): string {
  const a = original.split("\n");
  const b = rendered.split("\n");
  if (a.length * b.length > 4_000_000) return rendered;
  const lcs = lcsTable(a, b, sameLine);
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (j < b.length) {
    if (i < a.length && sameLine(a[i]!, b[j]!)) {
      out.push(a[i]!);
      i++;
      j++;
    } else if (i < a.length && lcs[i + 1]![j]! >= lcs[i]![j + 1]!) i++;
    else out.push(b[j++]!);
  }
  return out.join("\n");
}

/**
 * The lines that differ between two texts, as an operator would edit them: `-  12 | old` and
 * `+  12 | new` (line numbers of the old and of the new text). A plain LCS over the lines.
 */
export function lineDiff(before: string, after: string): string[] {
  const a = before.split("\n");
  const b = after.split("\n");
  if (a.length * b.length > 4_000_000) return ["(the file is too large to show the lines that change)"];
  const n = a.length;
  const m = b.length;
  const lcs = lcsTable(a, b, (x, y) => x === y);
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      i++;
      j++;
    } else if (i < n && (j >= m || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) {
      out.push(`- ${String(i + 1).padStart(4)} | ${a[i]}`);
      i++;
    } else {
      out.push(`+ ${String(j + 1).padStart(4)} | ${b[j]}`);
      j++;
    }
  }
  return out;
}
