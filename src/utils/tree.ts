// Tree utilities as in mlx.utils: trees are nested JS arrays and plain objects; anything
// else (a lathe Array, a number, a Module, null) is a leaf. Keys are dotted paths
// (`layers.0.weight`), the names checkpoints use.

/** Nested JS arrays and plain objects with leaves of type L. */
export type TreeOf<L> = L | TreeOf<L>[] | { [key: string]: TreeOf<L> };

/** A tree with each leaf of type L replaced by R (the shape of treeMap's result). */
export type MappedTree<T, L, R> =
  T extends L ? R
    : T extends readonly unknown[] ? { -readonly [K in keyof T]: MappedTree<T[K], L, R> }
      : T extends Record<string, unknown> ? { -readonly [K in keyof T]: MappedTree<T[K], L, R> }
        : T;

/** Decides that a node is a leaf even if it is a JS array or a plain object. */
export type IsLeaf = (node: unknown) => boolean;

/** The same container test as the core's (src/core/tree.ts): only plain objects nest, not class instances. */
export function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (x === null || typeof x !== 'object') return false;
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

const isContainer = (x: unknown): x is unknown[] | Record<string, unknown> => Array.isArray(x) || isPlainObject(x);
const join = (path: string, key: string | number) => (path ? `${path}.${key}` : `${key}`);

/**
 * The leaves of `tree` as [dottedKey, leaf] pairs, in order (JS arrays by index, objects by
 * key order). `prefix` is prepended to every key (a leading '.' is dropped, so MLX's
 * `".hello"` and `"hello"` both give `hello.0`). Empty containers contribute nothing.
 */
export function treeFlatten<L = unknown>(tree: unknown, prefix = '', isLeaf?: IsLeaf): [string, L][] {
  const out: [string, L][] = [];
  const walk = (node: unknown, path: string) => {
    if (!isLeaf?.(node)) {
      if (Array.isArray(node)) { node.forEach((c, i) => walk(c, join(path, i))); return; }
      if (isPlainObject(node)) { for (const k of Object.keys(node)) walk(node[k], join(path, k)); return; }
    }
    out.push([path, node as L]);
  };
  walk(tree, prefix.startsWith('.') ? prefix.slice(1) : prefix);
  return out;
}

/**
 * Rebuilds a tree from [dottedKey, value] pairs (the inverse of treeFlatten). A level whose
 * first key is an integer becomes a JS array, sorted by index, with `{}` filling gaps (as
 * MLX); other levels become objects in first-seen key order.
 */
export function treeUnflatten<L = unknown>(pairs: Iterable<readonly [string, L]>): TreeOf<L> {
  const list = [...pairs];
  if (list.length === 0) return {};
  if (list.length === 1 && list[0][0] === '') return list[0][1];
  const children = new Map<string, [string, L][]>();
  for (const [key, value] of list) {
    const dot = key.indexOf('.');
    const head = dot < 0 ? key : key.slice(0, dot);
    const rest = dot < 0 ? '' : key.slice(dot + 1);
    let group = children.get(head);
    if (!group) children.set(head, (group = []));
    group.push([rest, value]);
  }
  const firstHead = children.keys().next().value as string;
  if (/^\d+$/.test(firstHead)) {
    const entries = [...children].map(([k, v]) => {
      if (!/^\d+$/.test(k)) throw new Error(`[treeUnflatten] keys at one level mix list indices and names: '${firstHead}' and '${k}'`);
      return [Number(k), v] as const;
    }).sort((a, b) => a[0] - b[0]);
    const out: TreeOf<L>[] = [];
    for (const [i, group] of entries) {
      while (out.length < i) out.push({});
      out.push(treeUnflatten(group));
    }
    return out;
  }
  const out: { [key: string]: TreeOf<L> } = {};
  for (const [k, group] of children) out[k] = treeUnflatten(group);
  return out;
}

function mapImpl(fn: (path: string, leaf: unknown, ...rest: unknown[]) => unknown, tree: unknown, rest: readonly unknown[], isLeaf: IsLeaf | undefined, path: string, where: string): unknown {
  if (isLeaf?.(tree)) return fn(path, tree, ...rest);
  if (Array.isArray(tree)) {
    return tree.map((child, i) => mapImpl(fn, child, rest.map((r) => childOf(r, i, path, where)), isLeaf, join(path, i), where));
  }
  if (isPlainObject(tree)) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(tree)) out[k] = mapImpl(fn, tree[k], rest.map((r) => childOf(r, k, path, where)), isLeaf, join(path, k), where);
    return out;
  }
  return fn(path, tree, ...rest);
}

/** The child of an extra tree at the position the main tree is at; they must share structure. */
function childOf(r: unknown, key: string | number, path: string, where: string): unknown {
  if (r !== null && typeof r === 'object' && key in r) return (r as Record<string | number, unknown>)[key];
  const at = join(path, key);
  throw new Error(`[${where}] the extra trees must contain the first tree's structure: no entry at '${at}'`);
}

/**
 * Applies fn to every leaf of `tree` and returns a tree of the results. The trees in `rest`
 * must contain `tree`'s structure; their leaves at the same places are passed as extra
 * arguments (MLX's `tree_map(fn, tree, *rest)` is `treeMap(fn, tree, rest)`).
 */
export function treeMap<T, L = unknown, R = unknown>(
  fn: (leaf: L, ...rest: L[]) => R, tree: T, rest: readonly unknown[] = [], options: { isLeaf?: IsLeaf } = {},
): MappedTree<T, L, R> {
  return mapImpl((_p, leaf, ...r) => fn(leaf as L, ...(r as L[])), tree, rest, options.isLeaf, '', 'treeMap') as MappedTree<T, L, R>;
}

/** treeMap, with each leaf's dotted path as fn's first argument (`path` prefixes it). */
export function treeMapWithPath<T, L = unknown, R = unknown>(
  fn: (path: string, leaf: L, ...rest: L[]) => R, tree: T, rest: readonly unknown[] = [],
  options: { isLeaf?: IsLeaf; path?: string } = {},
): MappedTree<T, L, R> {
  return mapImpl((p, leaf, ...r) => fn(p, leaf as L, ...(r as L[])), tree, rest, options.isLeaf, options.path ?? '', 'treeMapWithPath') as MappedTree<T, L, R>;
}

/**
 * Folds the leaves of `tree` in treeFlatten order: acc = fn(acc, leaf). Without an
 * initializer the first leaf starts the accumulation (undefined for a tree with no leaves).
 */
export function treeReduce<A, L = unknown>(fn: (acc: A, leaf: L) => A, tree: unknown, initializer?: A, isLeaf?: IsLeaf): A {
  let acc = initializer;
  let started = initializer !== undefined;
  const walk = (node: unknown) => {
    if (!isLeaf?.(node)) {
      if (Array.isArray(node)) { node.forEach(walk); return; }
      if (isPlainObject(node)) { for (const k of Object.keys(node)) walk(node[k]); return; }
    }
    if (started) acc = fn(acc as A, node as L);
    else { acc = node as unknown as A; started = true; }
  };
  walk(tree);
  return acc as A;
}

/**
 * Merges two trees into one holding the values of both (a deep object assign). Empty
 * containers and null/undefined count as absent; where both trees have a leaf, mergeFn
 * decides (without one, that is an error naming the path).
 */
export function treeMerge(treeA: unknown, treeB: unknown, mergeFn?: (a: unknown, b: unknown) => unknown): unknown {
  const merge = (a: unknown, b: unknown, path: string): unknown => {
    if (isEmpty(a)) a = undefined;
    if (isEmpty(b)) b = undefined;
    if (a === undefined) return b;
    if (b === undefined) return a;
    if (Array.isArray(a) && Array.isArray(b)) {
      return Array.from({ length: Math.max(a.length, b.length) }, (_, i) => merge(a[i], b[i], join(path, i)));
    }
    if (isPlainObject(a) && isPlainObject(b)) {
      const out: Record<string, unknown> = {};
      for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) out[k] = merge(a[k], b[k], join(path, k));
      return out;
    }
    if (!mergeFn) throw new Error(`[treeMerge] both trees have a value at '${path}' and no mergeFn was given to combine them`);
    return mergeFn(a, b);
  };
  return merge(treeA, treeB, '');
}

const isEmpty = (x: unknown) => x === null || x === undefined || (isContainer(x) && (Array.isArray(x) ? x.length === 0 : Object.keys(x).length === 0));
