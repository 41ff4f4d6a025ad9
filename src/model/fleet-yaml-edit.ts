import { isAlias, isMap, isScalar, isSeq, type Document, type YAMLMap, type YAMLSeq } from "yaml";

/**
 * Editing a fleet file's YAML document in place for `rollgate fleet sync` (fleet-sync.ts): nodes in
 * the file's own style, aliases resolved, keys set and deleted without changing what aliases them.
 */

/** "clusters[0].version": a path in the file, as the changes report it. */
export function pathText(path: (string | number)[]): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? p : `.${p}`)).join("");
}

/** A node for a flow or block collection like `like` (the file's own style kept). */
export function seqLike(doc: Document, like: unknown, items: unknown[]): YAMLSeq {
  const node = doc.createNode(items) as YAMLSeq;
  if (isSeq(like)) node.flow = like.flow ?? false;
  if (isSeq(like) && isMap(like.items[0]))
    for (const it of node.items) if (isMap(it)) it.flow = like.items[0].flow ?? false;
  return node;
}

/** The document being synced (see `withDocument`). */
let currentDoc: Document | undefined;

/** `fn` with `doc` as the document that `deref` resolves aliases against. */
export function withDocument<T>(doc: Document, fn: () => T): T {
  currentDoc = doc;
  try {
    return fn();
  } finally {
    currentDoc = undefined;
  }
}

/** The node an alias stands for (aliases resolved against the document). */
export function deref(node: unknown): unknown {
  if (isAlias(node) && currentDoc) return node.resolve(currentDoc);
  return node;
}

export function scalarText(node: unknown): string | undefined {
  const n = deref(node);
  if (isScalar(n)) return n.source ?? String(n.value);
  return undefined;
}

/**
 * `map.key = value`, alias-safe: a key whose value is an alias gets a plain value (the anchor it
 * named stays where it is); a value that carries an anchor other nodes alias is first copied into
 * each of those aliases, so that only this key changes; the anchor is kept on the new value.
 */
export function setKey(doc: Document, map: YAMLMap, key: string, value: unknown): void {
  const was = map.get(key, true) as unknown;
  const node = (isSeq(value) || isMap(value) || isScalar(value) ? value : doc.createNode(value)) as
    | YAMLSeq
    | YAMLMap;
  if (
    !isAlias(was) &&
    was &&
    typeof was === "object" &&
    "anchor" in was &&
    (was as { anchor?: string }).anchor
  ) {
    const anchor = (was as { anchor: string }).anchor;
    inlineAliases(doc, anchor, was);
    (node as { anchor?: string }).anchor = anchor;
  }
  map.set(key, node);
}

/** `map.delete(key)`, alias-safe as setKey. */
export function deleteKey(doc: Document, map: YAMLMap, key: string): void {
  const was = map.get(key, true) as unknown;
  if (!isAlias(was) && was && typeof was === "object" && (was as { anchor?: string }).anchor)
    inlineAliases(doc, (was as { anchor: string }).anchor, was);
  map.delete(key);
}

/** Every alias of `anchor` replaced by a copy of what it names. */
function inlineAliases(doc: Document, anchor: string, target: unknown): void {
  const visitNode = (n: unknown): unknown => {
    if (isAlias(n)) {
      if (n.source !== anchor) return n;
      const copy = (target as { clone(): { anchor?: string } }).clone();
      copy.anchor = undefined;
      return copy;
    }
    if (isMap(n) || isSeq(n)) {
      const items = n.items as unknown[];
      for (let i = 0; i < items.length; i++) {
        const it = items[i];
        if (isMap(n)) {
          const pair = it as { key: unknown; value: unknown };
          pair.value = visitNode(pair.value);
        } else items[i] = visitNode(it);
      }
    }
    return n;
  };
  visitNode(doc.contents);
}
