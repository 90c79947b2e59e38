// CUDA kernel for view: the same bytes read as another dtype share the input's buffer
// (little-endian on every GPU lathe runs on). Bytes read as bool are normalized to 0/1,
// which other kernels rely on, so that view alone copies.
import { uint8, bool } from '../../../core/dtype.js';
import type { ViewParams } from '../../../core/ops/view.js';
import { registerCudaKernels, CudaKernel } from '../backend.js';
import { store } from './ctypes.js';
import { runElementwise } from './elementwise.js';
import { sizeOf } from './layout.js';

const view: CudaKernel = ([x], [out], _p: ViewParams, ctx) => {
  if (out.dtype !== bool || x.dtype === bool) return [x.buf];
  const o = ctx.alloc(out);
  const bytes = [sizeOf(out.shape)];
  runElementwise(ctx, 'view_bool', store('(x0 != 0)', bool), [{ arg: { buf: x.buf, shape: bytes, dtype: uint8 } }], o, bytes, bool);
  return [o];
};

registerCudaKernels({ view });
