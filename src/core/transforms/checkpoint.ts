// mx.checkpoint: trades compute for memory. The backward pass recomputes fn's forward pass
// from its inputs instead of keeping fn's intermediate values alive until it runs.
import { treeLeaves, treeReplaceLeaves, Tree } from '../tree.js';
import { customFunction, depends, GradsOf } from './custom.js';
import { callFn } from './trace.js';
import { vjp } from './vjp.js';

type Fn = (...args: never[]) => unknown;

/** `mx.checkpoint(fn)`: fn with the same values and gradients, recomputed during the backward pass. */
export function checkpoint<F extends Fn>(fn: F): F {
  const cf = customFunction(fn).vjp((primals, cotangents) => {
    // The recomputation reads inputs that depend on the cotangents, so it runs only once the
    // backward pass reaches this block, and its values die with this block's gradients.
    const xs = treeLeaves(primals);
    const args = treeReplaceLeaves(primals, depends(xs, treeLeaves(cotangents))) as unknown[];
    return vjp((...a: unknown[]) => callFn(fn, a) as Tree, args, cotangents as Tree)[1] as GradsOf<Parameters<F>>;
  });
  return cf as unknown as F;
}
