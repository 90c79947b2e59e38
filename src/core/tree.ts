// The minimal tree helpers the core needs (eval, transforms). lathe/utils builds on these.
import { Array } from './array.js';

/** Nested plain objects and JS arrays with lathe Arrays (or other values) at the leaves. */
export type Tree = Array | null | undefined | number | boolean | string | Tree[] | { [key: string]: Tree };

function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (x === null || typeof x !== 'object') return false;
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

/** The lathe Arrays in a tree, in a fixed order (JS arrays by index, objects by key order). */
export function treeLeaves(t: unknown): Array[] {
  const out: Array[] = [];
  const walk = (x: unknown) => {
    if (x instanceof Array) out.push(x);
    else if (globalThis.Array.isArray(x)) x.forEach(walk);
    else if (isPlainObject(x)) for (const k of Object.keys(x)) walk(x[k]);
  };
  walk(t);
  return out;
}

/** Rebuilds `t` with each lathe Array replaced by fn(array). */
export function treeMapArrays(t: unknown, fn: (a: Array) => unknown): unknown {
  if (t instanceof Array) return fn(t);
  if (globalThis.Array.isArray(t)) return t.map((x) => treeMapArrays(x, fn));
  if (isPlainObject(t)) {
    const o: Record<string, unknown> = {};
    for (const k of Object.keys(t)) o[k] = treeMapArrays(t[k], fn);
    return o;
  }
  return t;
}

/** Replaces the Arrays of `t`, in treeLeaves order, by `leaves`. */
export function treeReplaceLeaves(t: unknown, leaves: unknown[]): unknown {
  let i = 0;
  const out = treeMapArrays(t, () => leaves[i++]);
  if (i !== leaves.length) throw new Error(`[tree] expected ${i} leaves, got ${leaves.length}`);
  return out;
}

/** A string that is equal for trees of the same structure (leaves not compared). */
export function treeStructure(t: unknown): string {
  if (t instanceof Array) return '*';
  if (globalThis.Array.isArray(t)) return `[${t.map(treeStructure).join(',')}]`;
  if (isPlainObject(t)) return `{${Object.keys(t).map((k) => `${k}:${treeStructure(t[k])}`).join(',')}}`;
  return JSON.stringify(t) ?? 'undefined';
}
