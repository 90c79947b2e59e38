// The rotation every rotary embedding shares (fast.rope's reference, nn.RoPE, lm's Rope):
// pairs of features turned by angles with the given cos and sin. Pure basic ops, no
// primitives, so layers above can use it without loading the fast kernels.
import * as mx from '../core/index.js';
import type { Array, DTypeLike } from '../core/index.js';

/**
 * Rotates the first `dims` features of x (computed in `dtype`, returned in x's dtype); the
 * rest pass through. `traditional` pairs adjacent features, otherwise the two halves.
 */
export function rotate(x: Array, cos: Array, sin: Array, dims: number, traditional: boolean, dtype: DTypeLike): Array {
  const D = x.shape[x.ndim - 1];
  const [rot, rest] = dims < D ? mx.split(x, [dims], -1) : [x, null];
  const xr = mx.astype(rot, dtype);
  let out: Array;
  if (traditional) {
    const [x1, x2] = mx.split(mx.reshape(xr, [...xr.shape.slice(0, -1), dims / 2, 2]), 2, -1).map((a) => mx.squeeze(a, -1));
    const r1 = mx.subtract(mx.multiply(x1, cos), mx.multiply(x2, sin));
    const r2 = mx.add(mx.multiply(x1, sin), mx.multiply(x2, cos));
    out = mx.reshape(mx.stack([r1, r2], -1), xr.shape);
  } else {
    const [x1, x2] = mx.split(xr, 2, -1);
    out = mx.concatenate([mx.subtract(mx.multiply(x1, cos), mx.multiply(x2, sin)), mx.add(mx.multiply(x1, sin), mx.multiply(x2, cos))], -1);
  }
  out = mx.astype(out, x.dtype);
  return rest ? mx.concatenate([out, rest], -1) : out;
}
