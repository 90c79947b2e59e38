// Forward mode: Jacobian-vector products by pushing tangents through the traced graph from
// the leaves to the outputs, calling each primitive's jvp rule.
import { Array } from '../array.js';
import { astype } from '../ops/astype.js';
import { zerosLike } from '../ops/creation.js';
import { treeLeaves, treeReplaceLeaves, Tree } from '../tree.js';
import { nodesBetween, neededNodes, traceCall, traced, outputList, matchList, fmtShape } from './trace.js';
import { customInputsUsed } from './custom.js';
import type { Outputs } from './vjp.js';

/** The outputs' tangents given the leaves' tangents; zeros where an output does not depend on them. */
export function forward(leaves: readonly Array[], tangents: readonly Array[], outputs: readonly Array[]): Array[] {
  return traced(() => {
    const { order } = nodesBetween(new Set(leaves), outputs);
    const tan = new Map<Array, Array>();
    const set = (x: Array, t: Array) => {
      if (!x.dtype.isFloat) return; // integer and bool values have no tangent
      tan.set(x, t.dtype === x.dtype ? t : astype(t, x.dtype));
    };
    leaves.forEach((l, i) => set(l, tangents[i]));
    for (const node of neededNodes(order, outputs, (n) => customInputsUsed(n, 'jvp'))) {
      const ts = node.inputs.map((x) => tan.get(x) ?? null);
      if (node.prim.nonDifferentiable || ts.every((t) => t === null)) continue;
      const rule = node.prim.jvp;
      if (!rule) throw new Error(`[jvp] primitive '${node.prim.name}' has no jvp rule`);
      const touts = rule(ts, { inputs: node.inputs, outputs: node.outputs, params: node.params });
      if (touts.length !== node.outputs.length)
        throw new Error(`[jvp] the jvp rule of '${node.prim.name}' returned ${touts.length} tangents for ${node.outputs.length} outputs`);
      node.outputs.forEach((y, i) => {
        const t = touts[i];
        if (t.ndim !== y.ndim || t.shape.some((d, k) => d !== y.shape[k]))
          throw new Error(`[jvp] the jvp rule of '${node.prim.name}' returned a tangent of shape ${fmtShape(t.shape)} for output ${i} of shape ${fmtShape(y.shape)}`);
        set(y, t);
      });
    }
    return outputs.map((o) => tan.get(o) ?? zerosLike(o));
  });
}

/**
 * `mx.jvp(fn, primals, tangents)`: calls fn(...primals) and pushes `tangents` (shaped like
 * primals) forward. Returns [outputs, jvps], one jvp per output.
 */
export function jvp<A extends unknown[], O extends Tree>(fn: (...primals: A) => O, primals: A, tangents: A): [Outputs<O>, Outputs<O>] {
  const ts = matchList('jvp', 'tangent', tangents, primals, 'primal');
  const { leaves, out } = traceCall(fn, primals);
  const outs = outputList(out);
  const touts = forward(leaves, ts, treeLeaves(outs));
  return [outs as Outputs<O>, treeReplaceLeaves(outs, touts) as Outputs<O>];
}
