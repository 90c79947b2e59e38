// The evaluator: runs the unevaluated part of the graph below some arrays, in topological
// order, and frees each intermediate as soon as its last consumer in this run has run.
import { Array, Node } from './array.js';
import { backendFor } from './backend.js';
import type { TypedArray } from './dtype.js';
import { treeLeaves, Tree } from './tree.js';

let graphKeepers = 0;

/** While a transform traces, evaluated arrays keep their graph so it can be differentiated. */
export function keepingGraph<T>(fn: () => T): T {
  graphKeepers++;
  try { return fn(); } finally { graphKeepers--; }
}
export function isKeepingGraph(): boolean { return graphKeepers > 0; }

/** Called around each node an evaluation runs; compile's graph capture donates memory with it. */
export interface NodeHook { before(node: Node): void; after(node: Node): void }
let nodeHook: NodeHook | null = null;

/** Runs fn with `hook` called around every node evaluated inside it. */
export function withNodeHook<T>(hook: NodeHook, fn: () => T): T {
  const prev = nodeHook;
  nodeHook = hook;
  try { return fn(); } finally { nodeHook = prev; }
}

function needsRun(a: Array): boolean {
  if (a._buf) return false;
  if (!a._node) {
    if (a._disposed) a._checkAlive('eval');
    throw new Error(`[eval] array ${a.id} of shape (${a.shape.join(',')}) has neither data nor a graph`);
  }
  return true;
}

/** Nodes to run for `targets`, inputs first, and how many of them consume each array. */
function schedule(targets: Array[]): { order: Node[]; uses: Map<Array, number> } {
  const order: Node[] = [];
  const uses = new Map<Array, number>();
  const seen = new Set<Node>();
  const stack: { node: Node; next: number }[] = [];
  const visit = (a: Array) => {
    if (!needsRun(a)) return;
    const n = a._node!;
    if (seen.has(n)) return;
    seen.add(n);
    stack.push({ node: n, next: 0 });
  };
  for (const t of targets) {
    visit(t);
    while (stack.length) {
      const top = stack[stack.length - 1];
      if (top.next < top.node.inputs.length) {
        const inp = top.node.inputs[top.next++];
        inp._checkAlive(top.node.prim.name);
        if (!inp._buf) uses.set(inp, (uses.get(inp) ?? 0) + 1);
        visit(inp);
      } else {
        order.push(top.node);
        stack.pop();
      }
    }
  }
  return { order, uses };
}

export function evalArrays(targets: Array[]): void {
  const pending = targets.filter((t) => { t._checkAlive('eval'); return !t._buf; });
  if (!pending.length) return;
  const { order, uses } = schedule(pending);
  const wanted = new Set(pending);
  const release = (a: Array) => { if (!wanted.has(a) && (uses.get(a) ?? 0) === 0) a._releaseBuffer(); };
  const computed: Array[] = [];
  try {
    for (const node of order) {
      const held = node.outputs.filter((o) => o._buf); // siblings evaluated by an earlier run stay
      if (nodeHook) nodeHook.before(node);
      runNode(node);
      if (nodeHook) nodeHook.after(node);
      for (const o of node.outputs) if (!held.includes(o)) computed.push(o);
      for (const inp of node.inputs) {
        const u = uses.get(inp);
        if (u === undefined) continue; // evaluated before this run: not ours to free
        uses.set(inp, u - 1);
        release(inp);
      }
      for (const o of node.outputs) if (!held.includes(o)) release(o); // siblings nobody asked for
    }
  } catch (e) {
    // A failed run (out of memory, a kernel error) frees what it computed: nothing leaks.
    for (const a of computed) a._releaseBuffer();
    throw e;
  }
  if (!isKeepingGraph()) for (const t of pending) t._node = null;
}

function runNode(node: Node): void {
  const device = node.outputs[0].device;
  const moved = node.inputs.map((x) => (x.device.equals(device) ? x : moveTo(x, node)));
  const backend = backendFor(device);
  if (moved.some((m, i) => m !== node.inputs[i])) {
    backend.evalNode(new Node(node.prim, moved, node.params, node.outputs));
    moved.forEach((m, i) => { if (m !== node.inputs[i]) m._releaseBuffer(); });
  } else {
    backend.evalNode(node);
  }
}

/** A temporary copy of an evaluated array on the node's device. */
function moveTo(x: Array, node: Node): Array {
  const target = node.outputs[0].stream;
  const host = readHostSync(x);
  const y = new Array(x.shape, x.dtype, target);
  y._setBuffer(backendFor(target.device).fromHost(host, x.dtype));
  return y;
}

export function readHostSync(a: Array): TypedArray {
  const b = backendFor(a.device);
  const out = b.readSync(a._buf!, a.dtype, a.size);
  if (!out) throw new Error(`[dataSync] the ${b.name} backend cannot read synchronously; use await x.data()`);
  return out;
}

/**
 * Starts the host copies of evaluated arrays now (on backends that queue work): a later read
 * of them waits only for the work queued before this call. Generation loops use it to read a
 * token while the next step, queued after it, runs.
 */
export function prefetchHost(arrays: readonly Array[]): void {
  for (const a of arrays) if (a._buf) backendFor(a.device).prefetch?.(a._buf, a.dtype, a.size);
}

export function readHost(a: Array): Promise<TypedArray> {
  return backendFor(a.device).read(a._buf!, a.dtype, a.size);
}

/** `mx.eval(...)`: evaluates every array in the given trees. */
export function evaluate(...trees: Tree[]): void {
  evalArrays(trees.flatMap((t) => treeLeaves(t)));
}

/** `mx.asyncEval(...)`: evaluates and resolves when results are ready on every backend. */
export async function asyncEval(...trees: Tree[]): Promise<void> {
  evaluate(...trees);
}
