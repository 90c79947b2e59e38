// mx.vmap: maps fn over an axis of its inputs. fn is traced once on unbatched stand-ins;
// the graph is then replayed node by node, calling a primitive's vmap rule where an input
// is batched and reusing the node where none is.
import { Array } from '../array.js';
import { moveaxis, expandDims, broadcastTo } from '../ops/shape.js';
import { treeLeaves, treeReplaceLeaves } from '../tree.js';
import { nodesBetween, neededNodes, traced, callFn, broadcastPrefix, leafPaths, fmtShape } from './trace.js';
import { customInputsUsed } from './custom.js';

/** An axis, null (not mapped), or a tree of them matching the arguments (or outputs). */
export type AxisSpec = number | null | readonly AxisSpec[] | { readonly [key: string]: AxisSpec };
type Fn = (...args: never[]) => unknown;
interface Batched { x: Array; ax: number }

const isAxis = (p: unknown): p is number | null => p === null || typeof p === 'number';

function checkAxis(where: string, name: string, ax: number, ndim: number, what: string): number {
  if (!Number.isInteger(ax) || ax < -ndim || ax >= ndim) throw new Error(`[${where}] ${name} ${ax} is out of range for ${what}`);
  return ax < 0 ? ax + ndim : ax;
}

/**
 * `mx.vmap(fn, inAxes = 0, outAxes = 0)`: fn mapped over axis inAxes of its inputs, with the
 * mapped axis of its outputs at outAxes. Either may be a number, null (not mapped / not
 * batched) or a tree of them matching the arguments / outputs.
 */
export function vmap<F extends Fn>(fn: F, inAxes: AxisSpec = 0, outAxes: AxisSpec = 0): F {
  return ((...args: unknown[]) => {
    const inputs = treeLeaves(args);
    const paths = leafPaths(args, 'args');
    const axes = broadcastPrefix('vmap', 'inAxes', inAxes, args, isAxis)
      .map((ax, i) => (ax === null ? null : checkAxis('vmap', 'inAxes', ax, inputs[i].ndim, `${paths[i]} of shape ${fmtShape(inputs[i].shape)}`)));
    const size = batchSizeOf(inputs, axes, paths);
    const standIns = inputs.map((x, i) => {
      const ax = axes[i];
      return ax === null ? x : new Array(x.shape.filter((_, d) => d !== ax), x.dtype, x.stream);
    });
    const out = traceOnStandIns(fn, treeReplaceLeaves(args, standIns) as unknown[], standIns.filter((_, i) => axes[i] !== null));
    const outs = treeLeaves(out);
    const batched = replay(standIns, inputs, axes, outs, size);
    const outSpec = out instanceof Array && globalThis.Array.isArray(outAxes) && outAxes.length === 1 ? outAxes[0] : outAxes;
    const outPaths = leafPaths(out, 'output');
    const results = broadcastPrefix('vmap', 'outAxes', outSpec, out, isAxis).map((ax, i) => {
      const o = outs[i], b = batched.get(o);
      if (ax === null) {
        if (b) throw new Error(`[vmap] ${outPaths[i]} depends on a mapped input, but its outAxes is null`);
        return o;
      }
      const dst = checkAxis('vmap', 'outAxes', ax, o.ndim + 1, `${outPaths[i]}, which has ${o.ndim + 1} dimensions once batched`);
      if (b) return moveaxis(b.x, b.ax, dst);
      const shape = [...o.shape];
      shape.splice(dst, 0, size);
      return broadcastTo(expandDims(o, dst), shape);
    });
    return treeReplaceLeaves(out, results);
  }) as unknown as F;
}

function batchSizeOf(inputs: Array[], axes: (number | null)[], paths: string[]): number {
  let first = -1;
  inputs.forEach((x, i) => {
    const ax = axes[i];
    if (ax === null) return;
    if (first < 0) { first = i; return; }
    const f = inputs[first], fa = axes[first]!;
    if (x.shape[ax] !== f.shape[fa])
      throw new Error(`[vmap] mapped axes have different sizes: ${paths[first]} has size ${f.shape[fa]} at axis ${fa}, ${paths[i]} has size ${x.shape[ax]} at axis ${ax}`);
  });
  if (first < 0) throw new Error('[vmap] no input is mapped: at least one of inAxes must be a number for an array argument');
  return inputs[first].shape[axes[first]!];
}

/** Calls fn on the stand-ins; they have no values, so fn must not read them. */
function traceOnStandIns(fn: Fn, args: unknown[], standIns: Array[]): unknown {
  try {
    return traced(() => callFn(fn, args));
  } catch (e) {
    if (e instanceof Error && standIns.some((s) => e.message.startsWith(`[eval] array ${s.id} `)))
      throw new Error('[vmap] fn read the values of a mapped input (eval, item, dataSync...) while vmap traced it; mapped inputs have no values during tracing');
    throw e;
  }
}

/** Batched versions of the arrays between the stand-ins and `outputs`. */
function replay(standIns: Array[], inputs: Array[], axes: (number | null)[], outputs: Array[], size: number): Map<Array, Batched> {
  const batched = new Map<Array, Batched>();
  standIns.forEach((s, i) => { if (axes[i] !== null) batched.set(s, { x: inputs[i], ax: axes[i]! }); });
  const { order } = nodesBetween(new Set(batched.keys()), outputs);
  for (const node of neededNodes(order, outputs, (n) => customInputsUsed(n, 'vmap'))) {
    const ins = node.inputs.map((x) => batched.get(x));
    if (ins.every((b) => !b)) continue;
    const rule = node.prim.vmap;
    if (!rule) throw new Error(`[vmap] primitive '${node.prim.name}' has no vmap rule`);
    const [outs, oaxes] = rule(node.inputs.map((x, i) => ins[i]?.x ?? x), ins.map((b) => (b ? b.ax : null)), node.params);
    if (outs.length !== node.outputs.length || oaxes.length !== outs.length)
      throw new Error(`[vmap] the vmap rule of '${node.prim.name}' returned ${outs.length} outputs and ${oaxes.length} axes for ${node.outputs.length} outputs`);
    node.outputs.forEach((y, i) => {
      const want = [...y.shape];
      want.splice(oaxes[i], 0, size);
      const got = outs[i].shape;
      if (!(oaxes[i] >= 0 && oaxes[i] <= y.ndim) || got.length !== want.length || got.some((d, k) => d !== want[k]))
        throw new Error(`[vmap] the vmap rule of '${node.prim.name}' returned shape ${fmtShape(got)} with batch axis ${oaxes[i]} for output ${i} of shape ${fmtShape(y.shape)} (batch size ${size})`);
      batched.set(y, { x: outs[i], ax: oaxes[i] });
    });
  }
  return batched;
}
