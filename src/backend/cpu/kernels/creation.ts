// CPU kernels for creation primitives (arange; the other creation ops compose).
import type { ArangeParams } from '../../../core/ops/creation.js';
import { toF16, toBF16 } from '../../../core/half.js';
import { CpuKernel, registerCpuKernels, allocOut } from '../backend.js';

// Floats: start + i * step in float64, rounded once. Integers follow NumPy and MLX: the
// step is the difference of the first two values after the cast, trunc(start + step) -
// trunc(start), so arange(0, 5, 0.5, int32) is all zeros.
const arange: CpuKernel = (_, [out], { start, step }: ArangeParams) => {
  const o = allocOut(out);
  const n = o.length;
  const dt = out.dtype;
  if (dt.isFloat) {
    const conv = dt.name === 'float16' ? toF16 : dt.name === 'bfloat16' ? toBF16 : null;
    const f = o as Float64Array;
    if (conv) for (let i = 0; i < n; i++) f[i] = conv(start + i * step);
    else for (let i = 0; i < n; i++) f[i] = start + i * step;
    return [o];
  }
  const first = Math.trunc(start), delta = Math.trunc(start + step) - first;
  if (dt.isBig) {
    const b = o as BigInt64Array, b0 = BigInt(first), bd = BigInt(delta);
    for (let i = 0; i < n; i++) b[i] = b0 + BigInt(i) * bd;
  } else {
    const f = o as Int32Array;
    for (let i = 0; i < n; i++) f[i] = first + i * delta;
  }
  return [o];
};

registerCpuKernels({ arange });
