// CUDA kernel for arange (the other creation ops compose from broadcasts and casts).
// Floats compute start + i * step in double and round once; integers follow NumPy and
// MLX: the step is trunc(start + step) - trunc(start).
import type { ArangeParams } from '../../../core/ops/creation.js';
import type { DType } from '../../../core/dtype.js';
import type { KernelSource } from '../compiler.js';
import { registerCudaKernels, CudaKernel } from '../backend.js';
import { PRELUDE, stype, store } from './ctypes.js';
import { sizeOf } from './layout.js';

export function renderArange(name: string, d: DType): KernelSource {
  const value = d.isFloat ? store('(float)(start + (double)i * step)', d) : store('wadd((i64)first, wmul((i64)i, (i64)delta))', d);
  const source = `${PRELUDE}
extern "C" __global__ void __launch_bounds__(256) ${name}(${stype(d)}* __restrict__ out, double start, double step, i64 first, i64 delta, i64 n) {
  for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (i64)gridDim.x * blockDim.x) out[i] = ${value};
}
`;
  return { name, source };
}

const arange: CudaKernel = (_, [out], { start, step }: ArangeParams, ctx) => {
  const o = ctx.alloc(out);
  const n = sizeOf(out.shape);
  if (n === 0) return [o];
  const first = Math.trunc(start), delta = Math.trunc(start + step) - first;
  const fn = ctx.kernels.get(`arange|${out.dtype.name}`, () => renderArange(`arange_${out.dtype.name}`, out.dtype));
  ctx.rt.args.reset().ptr(o.ptr).f64(start).f64(step).i64(d0(first)).i64(d0(delta)).i64(n);
  ctx.rt.launch(fn, [ctx.rt.gridFor(n), 1, 1], [256, 1, 1]);
  return [o];
};

/** Non-finite integer starts (which never reach here for valid aranges) become 0. */
const d0 = (v: number) => (Number.isFinite(v) ? v : 0);

registerCudaKernels({ arange });
