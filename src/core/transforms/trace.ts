// Tracing: in a lazy framework the graph is the tape. A transform calls fn on fresh leaf
// arrays that stand for its inputs, with the graph kept alive while fn runs, then walks
// the nodes between those leaves and fn's outputs.
import { Array, Node } from '../array.js';
import { bind1 } from '../primitive.js';
import { keepingGraph } from '../eval.js';
import { Reshape } from '../ops/shape.js';
import { treeLeaves, treeReplaceLeaves } from '../tree.js';
import { fmtShape } from '../ops/util.js';

export { fmtShape };

/**
 * A leaf standing for `x` in one trace: an identity node over x. Enclosing traces
 * differentiate through it (so transforms nest), while this trace stops at it. Its
 * kernel hands back x's storage, so it shares x's buffer and copies nothing.
 */
export function traceLeaf(x: Array): Array {
  return bind1(Reshape, [x], { shape: [...x.shape] }, { shape: x.shape, dtype: x.dtype }, x.stream);
}

/** Calls fn (whatever its parameter types) with `args`. */
export function callFn(fn: (...args: never[]) => unknown, args: readonly unknown[]): unknown {
  return (fn as unknown as (...a: unknown[]) => unknown)(...args);
}

/** Calls fn with the graph kept alive, so that evaluation inside fn does not cut it. */
export function traced<T>(fn: () => T): T {
  return keepingGraph(fn);
}

/**
 * Calls fn(...args) with the array leaves of the arguments at `argnums` (all when null)
 * replaced by trace leaves. Returns the leaves (in tree order) and fn's result.
 */
export function traceCall(fn: (...args: never[]) => unknown, args: readonly unknown[], argnums: readonly number[] | null = null): { leaves: Array[]; out: unknown } {
  const chosen = argnums ?? args.map((_, i) => i);
  const traceArgs = args.map((a, i) => (chosen.includes(i) ? treeReplaceLeaves(a, treeLeaves(a).map(traceLeaf)) : a));
  const leaves = chosen.flatMap((i) => treeLeaves(traceArgs[i]));
  const out = traced(() => callFn(fn, traceArgs));
  return { leaves, out };
}

/**
 * The nodes between `leaves` and `outputs` that depend on a leaf, inputs first (an
 * iterative depth-first walk: graphs can be deep), and the arrays that depend on a leaf.
 * Arrays made before the oldest leaf cannot depend on it (ids grow and a node's inputs
 * exist before its outputs), so the walk does not descend into older graphs.
 */
export function nodesBetween(leaves: ReadonlySet<Array>, outputs: readonly Array[]): { order: Node[]; active: Set<Array> } {
  const active = new Set<Array>(leaves);
  const order: Node[] = [];
  if (!leaves.size) return { order, active };
  let minId = Infinity;
  for (const l of leaves) minId = Math.min(minId, l.id);
  const seen = new Set<Node>();
  const stack: { node: Node; next: number }[] = [];
  const visit = (a: Array) => {
    if (leaves.has(a) || a.id < minId || !a._node || seen.has(a._node)) return;
    seen.add(a._node);
    stack.push({ node: a._node, next: 0 });
  };
  for (const o of outputs) {
    visit(o);
    while (stack.length) {
      const top = stack[stack.length - 1];
      if (top.next < top.node.inputs.length) {
        visit(top.node.inputs[top.next++]);
        continue;
      }
      stack.pop();
      if (top.node.inputs.some((x) => active.has(x))) {
        order.push(top.node);
        for (const y of top.node.outputs) active.add(y);
      }
    }
  }
  return { order, active };
}

/**
 * The nodes of `order` whose outputs lead to `outputs`, keeping order. `inputsUsed` says
 * which inputs of a node a transform reads (a custom rule may ignore some); default all.
 */
export function neededNodes(order: readonly Node[], outputs: readonly Array[], inputsUsed: (node: Node) => readonly Array[] = (n) => n.inputs): Node[] {
  const needed = new Set<Array>(outputs);
  const kept: Node[] = [];
  for (let k = order.length - 1; k >= 0; k--) {
    const node = order[k];
    if (!node.outputs.some((o) => needed.has(o))) continue;
    kept.push(node);
    for (const x of inputsUsed(node)) needed.add(x);
  }
  return kept.reverse();
}

/** MLX's convention for function outputs: a single array becomes a one-element list. */
export function outputList(out: unknown): unknown[] {
  if (out instanceof Array) return [out];
  if (globalThis.Array.isArray(out)) return out;
  return [out];
}

/** Cotangents or tangents given for `like` (a list), where one array may stand for a one-element list. */
export function matchList(where: string, what: string, given: unknown, like: unknown[], likeName: string): Array[] {
  const list = given instanceof Array && like.length === 1 ? [given] : given;
  const want = treeLeaves(like);
  const got = treeLeaves(list);
  if (got.length !== want.length)
    throw new Error(`[${where}] got ${got.length} ${what} for ${want.length} ${likeName} arrays`);
  return got.map((g, i) => {
    const w = want[i];
    if (g.shape.length !== w.shape.length || g.shape.some((d, k) => d !== w.shape[k]))
      throw new Error(`[${where}] ${what} ${i} has shape ${fmtShape(g.shape)} but ${likeName} ${i} has shape ${fmtShape(w.shape)}`);
    return g;
  });
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  if (x === null || typeof x !== 'object') return false;
  const proto = Object.getPrototypeOf(x);
  return proto === Object.prototype || proto === null;
}

/**
 * One entry of `prefix` per array leaf of `tree`: `prefix` is a tree prefix of `tree`
 * whose leaves (numbers or null, say) apply to every array below them, as JAX's in_axes.
 */
export function broadcastPrefix<T>(where: string, name: string, prefix: unknown, tree: unknown, isLeaf: (p: unknown) => p is T): T[] {
  const out: T[] = [];
  const walk = (p: unknown, t: unknown, path: string) => {
    if (isLeaf(p)) { for (let n = treeLeaves(t).length; n > 0; n--) out.push(p); return; }
    if (globalThis.Array.isArray(p) && globalThis.Array.isArray(t) && p.length === t.length) { p.forEach((q, i) => walk(q, t[i], `${path}[${i}]`)); return; }
    if (isPlainObject(p) && isPlainObject(t)) {
      const keys = Object.keys(t);
      if (keys.length === Object.keys(p).length && keys.every((k) => k in p)) { for (const k of keys) walk(p[k], t[k], `${path}.${k}`); return; }
    }
    throw new Error(`[${where}] ${name}${path} does not match the structure of the values it applies to`);
  };
  walk(prefix, tree, '');
  return out;
}

/** Paths like `args[1].w` of the array leaves of a tree, in treeLeaves order, for messages. */
export function leafPaths(tree: unknown, root: string): string[] {
  const out: string[] = [];
  const walk = (t: unknown, path: string) => {
    if (t instanceof Array) out.push(path);
    else if (globalThis.Array.isArray(t)) t.forEach((x, i) => walk(x, `${path}[${i}]`));
    else if (isPlainObject(t)) for (const k of Object.keys(t)) walk(t[k], `${path}.${k}`);
  };
  walk(tree, root);
  return out;
}
