// Clipping the global norm of a gradient tree.
import * as mx from '../core/index.js';
import { treeMap } from '../utils/index.js';
import { arraysIn, ParamTree } from './optimizer.js';

/**
 * Scales the gradients down so that their global L2 norm is at most maxNorm (as
 * mlx.optimizers.clip_grad_norm and torch.nn.utils.clip_grad_norm_): each g becomes
 * g · maxNorm / (norm + 1e-6) when norm ≥ maxNorm. Returns [clipped, norm]. The norm is
 * accumulated in float32 (float64 if any gradient is float64), and each clipped gradient
 * keeps its dtype.
 */
export function clipGradNorm<T extends ParamTree>(grads: T, maxNorm: number): [T, mx.Array] {
  const leaves = arraysIn(grads);
  const cd = leaves.some((g) => g.dtype === mx.float64) ? mx.float64 : mx.float32;
  let sq: mx.Array = mx.zeros([], cd);
  for (const g of leaves) sq = mx.add(sq, mx.sum(mx.square(mx.astype(g, cd))));
  const total = mx.sqrt(sq);
  const scale = mx.divide(maxNorm, mx.add(total, 1e-6));
  const small = mx.less(total, maxNorm);
  const clipped = treeMap((g: unknown) => (g instanceof mx.Array ? mx.where(small, g, mx.multiply(g, mx.astype(scale, g.dtype))) : g), grads);
  return [clipped as T, total];
}
