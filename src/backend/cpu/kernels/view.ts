// CPU kernel for view: the input's bytes copied into the new dtype's storage (little-endian,
// as NumPy and MLX on every machine lathe runs on; halves are raw bits already).
import { CpuKernel, registerCpuKernels, allocOut } from '../backend.js';

const view: CpuKernel = ([x], [out]) => {
  const o = allocOut(out);
  const bytes = new Uint8Array(o.buffer, o.byteOffset, o.byteLength);
  bytes.set(new Uint8Array(x.data.buffer, x.data.byteOffset, x.data.byteLength));
  // bool storage holds only 0 and 1, which other kernels rely on.
  if (out.dtype.name === 'bool') for (let i = 0; i < bytes.length; i++) bytes[i] = bytes[i] !== 0 ? 1 : 0;
  return [o];
};

registerCpuKernels({ view });
