// The host fallback: the one place where a primitive runs on the CPU on behalf of the GPU.
// Inputs are copied to the host (waiting for the queued work that makes them), the CPU
// backend's kernel computes the outputs, and they are copied back into device buffers, so
// a program whose default device is the GPU still works. It is for work that belongs on the
// host: the factorizations (LU, QR, SVD, eigh), which MLX also runs on the CPU only, at
// sizes where their sequential pivoting would leave a GPU idle anyway.
import { storageCtor } from '../../../core/dtype.js';
import { cpuKernel } from '../../cpu/backend.js';
import type { CpuArg } from '../../cpu/backend.js';
import { registerCudaKernels, CudaKernel } from '../backend.js';
import { sizeOf } from './layout.js';

/** A CUDA kernel that runs the CPU backend's kernel for primitive `name` on host copies. */
export function hostKernel(name: string): CudaKernel {
  return (ins, outs, params, ctx) => {
    const k = cpuKernel(name);
    if (!k) throw new Error(`[${name}] the CPU backend has no kernel to fall back on`);
    const host: CpuArg[] = ins.map((x) => {
      const n = sizeOf(x.shape);
      return { data: new storageCtor[x.dtype.name](ctx.download(x.buf.ptr, n * x.dtype.size), 0, n), shape: x.shape, dtype: x.dtype };
    });
    const results = k(host, outs, params, undefined as never);
    return results.map((r, i) => {
      const o = ctx.alloc(outs[i]);
      ctx.upload(o.ptr, r);
      return o;
    });
  };
}

/** Primitives that run through the host fallback on the GPU. */
export const HOST_PRIMITIVES = ['inv', 'solve', 'solveTriangular', 'cholesky', 'qr', 'svd', 'eigh'] as const;

registerCudaKernels(Object.fromEntries(HOST_PRIMITIVES.map((p) => [p, hostKernel(p)])));
