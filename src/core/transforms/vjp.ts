// Reverse mode: vector-Jacobian products by walking the traced graph from the outputs back
// to the leaves, calling each primitive's vjp rule.
import { Array, Node } from '../array.js';
import { add } from '../ops/binary.js';
import { astype } from '../ops/astype.js';
import { zerosLike } from '../ops/creation.js';
import { treeLeaves, treeReplaceLeaves, Tree } from '../tree.js';
import { nodesBetween, traceCall, traced, outputList, matchList, fmtShape } from './trace.js';

/** Leaves' cotangents given the outputs' cotangents; zeros for leaves the outputs do not depend on. */
export function backward(leaves: readonly Array[], outputs: readonly Array[], cotangents: readonly Array[]): Array[] {
  return traced(() => {
    const { order, active } = nodesBetween(new Set(leaves), outputs);
    const ct = new Map<Array, Array>();
    const accumulate = (x: Array, g: Array) => {
      if (!x.dtype.isFloat) return; // integer and bool values have no gradient
      if (g.dtype !== x.dtype) g = astype(g, x.dtype);
      const prev = ct.get(x);
      ct.set(x, prev ? add(prev, g) : g);
    };
    outputs.forEach((o, i) => { if (active.has(o)) accumulate(o, cotangents[i]); });
    for (let k = order.length - 1; k >= 0; k--) {
      const node = order[k];
      if (!node.outputs.some((o) => ct.has(o))) continue;
      const gs = node.outputs.map((o) => ct.get(o) ?? zerosLike(o));
      for (const o of node.outputs) ct.delete(o);
      if (node.prim.nonDifferentiable) continue;
      const gin = vjpRule(node)(gs, { inputs: node.inputs, outputs: node.outputs, params: node.params });
      if (gin.length !== node.inputs.length)
        throw new Error(`[vjp] the vjp rule of '${node.prim.name}' returned ${gin.length} cotangents for ${node.inputs.length} inputs`);
      node.inputs.forEach((x, i) => {
        const g = gin[i];
        if (!g || !active.has(x)) return;
        checkShape(node, g, x, i);
        accumulate(x, g);
      });
    }
    return leaves.map((l) => ct.get(l) ?? zerosLike(l));
  });
}

function vjpRule(node: Node): NonNullable<Node['prim']['vjp']> {
  const rule = node.prim.vjp;
  if (!rule) throw new Error(`[vjp] primitive '${node.prim.name}' has no vjp rule`);
  return rule;
}

function checkShape(node: Node, g: Array, x: Array, i: number): void {
  if (g.ndim !== x.ndim || g.shape.some((d, k) => d !== x.shape[k]))
    throw new Error(`[vjp] the vjp rule of '${node.prim.name}' returned a cotangent of shape ${fmtShape(g.shape)} for input ${i} of shape ${fmtShape(x.shape)}`);
}

/** fn's outputs as MLX lists them: one array becomes a one-element list. */
export type Outputs<O> = O extends Array ? [Array] : O;

/**
 * `mx.vjp(fn, primals, cotangents)`: calls fn(...primals) and pulls `cotangents` (one per
 * output; trees allowed) back to the primals. Returns [outputs, vjps], vjps shaped like primals.
 */
export function vjp<A extends unknown[], O extends Tree>(fn: (...primals: A) => O, primals: A, cotangents: Tree): [Outputs<O>, A] {
  const { leaves, out } = traceCall(fn, primals);
  const outs = outputList(out);
  const cts = matchList('vjp', 'cotangent', cotangents, outs, 'output');
  const grads = backward(leaves, treeLeaves(outs), cts);
  return [outs as Outputs<O>, treeReplaceLeaves(primals, grads) as A];
}

