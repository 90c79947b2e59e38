// CPU kernels for shape primitives: reshape shares storage; the rest are strided copies.
import { CpuKernel, registerCpuKernels, allocOut } from '../backend.js';
import { copyStrided, broadcastStrides } from '../codegen.js';

/** Row-major strides of a shape. */
export function rowStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) { s[d] = acc; acc *= shape[d]; }
  return s;
}

const reshape: CpuKernel = ([x]) => [x.data];

const broadcast: CpuKernel = ([x], [out]) => {
  const o = allocOut(out);
  copyStrided(x.data, x.dtype, o, out.shape, broadcastStrides(x.shape, out.shape));
  return [o];
};

const transpose: CpuKernel = ([x], [out], { axes }: { axes: number[] }) => {
  const o = allocOut(out);
  const s = rowStrides(x.shape);
  copyStrided(x.data, x.dtype, o, out.shape, axes.map((a) => s[a]));
  return [o];
};

registerCpuKernels({ reshape, broadcast, transpose });
