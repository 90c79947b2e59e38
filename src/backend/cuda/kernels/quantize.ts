// CUDA kernels for affine quantization (layout in core/ops/quantize.ts), with the CPU's
// float32 arithmetic step for step (no FMA contraction, IEEE division), so results match:
//   quantize: one thread per group finds its range, scale and bias, and streams the group's
//     values into its own whole words (a group's bits start on a word boundary);
//   dequantize: one thread per value, scale * q rounded, then + bias;
//   quantizedMatmul: the weight dequantized into float32 scratch, then cuBLAS float32 GEMMs
//     (halves convert x to float32 and round the result once), as the CPU computes.
import type { DType } from '../../../core/dtype.js';
import { float32 } from '../../../core/dtype.js';
import type { QuantParams, QmmParams } from '../../../core/ops/quantize.js';
import type { KernelSource } from '../compiler.js';
import { registerCudaKernels, CudaKernel, CudaArg, CudaContext, CudaBuffer } from '../backend.js';
import { check } from '../ffi/libcuda.js';
import { PRELUDE, stype, load, store } from './ctypes.js';
import { castCuda, runElementwise } from './elementwise.js';
import { gemm } from './matmul.js';
import { broadcastStrides, sizeOf } from './layout.js';

export function renderQuantize(name: string, d: DType): KernelSource {
  const source = `${PRELUDE}
extern "C" __global__ void __launch_bounds__(256) ${name}(u32* __restrict__ words, ${stype(d)}* __restrict__ scales, ${stype(d)}* __restrict__ biases,
    const ${stype(d)}* __restrict__ w, i64 groupsTotal, int groupSize, int bits) {
  const float nBins = (float)((1 << bits) - 1), eps = 1e-7f;
  for (i64 t = (i64)blockIdx.x * blockDim.x + threadIdx.x; t < groupsTotal; t += (i64)gridDim.x * blockDim.x) {
    const ${stype(d)}* v = w + t * groupSize;
    float lo = LATHE_INF, hi = -LATHE_INF;
    for (int j = 0; j < groupSize; j++) { const float x = ${load('v[j]', d)}; if (x < lo) lo = x; if (x > hi) hi = x; }
    // Keep the endpoint of larger magnitude exact: it becomes q = 0 or q = nBins.
    const bool lowEdge = fabsf(lo) > fabsf(hi);
    float scale = (hi - lo) / nBins;
    scale = (scale != scale || scale > eps) ? scale : eps;
    if (!lowEdge) scale = -scale;
    const float edge = lowEdge ? lo : hi;
    const float q0 = rintf(edge / scale);
    float bias = 0.0f;
    if (q0 != 0.0f) { scale = edge / q0; bias = edge; }
    scales[t] = ${store('scale', d)};
    biases[t] = ${store('bias', d)};
    u32* out = words + t * (groupSize * bits / 32);
    u32 cur = 0;
    int filled = 0;
    for (int j = 0; j < groupSize; j++) {
      const float qf = rintf((${load('v[j]', d)} - bias) / scale);
      const u32 q = qf > 0.0f ? (qf < nBins ? (u32)qf : (u32)nBins) : 0u; // NaN gives 0, as on the CPU
      cur |= q << filled;
      filled += bits;
      if (filled >= 32) { *out++ = cur; filled -= 32; cur = filled > 0 ? q >> (bits - filled) : 0u; }
    }
  }
}
`;
  return { name, source };
}

/** scale * q + bias per value, in rows of K values, stored as `out` (float32 for GEMMs). */
export function renderDequantize(name: string, s: DType, out: DType): KernelSource {
  const value = 'scale * (float)q + bias';
  const source = `${PRELUDE}
extern "C" __global__ void __launch_bounds__(256) ${name}(${stype(out)}* __restrict__ dst, const u32* __restrict__ words, const ${stype(s)}* __restrict__ scales,
    const ${stype(s)}* __restrict__ biases, i64 total, i64 K, int groupSize, int bits) {
  const i64 wordsPerRow = K * bits / 32, groups = K / groupSize;
  const u32 mask = (1u << bits) - 1u;
  for (i64 e = (i64)blockIdx.x * blockDim.x + threadIdx.x; e < total; e += (i64)gridDim.x * blockDim.x) {
    const i64 r = e / K, k = e % K, bit = k * bits;
    const u32* row = words + r * wordsPerRow;
    const int off = (int)(bit & 31);
    u32 q = row[bit >> 5] >> off;
    if (off + bits > 32) q |= row[(bit >> 5) + 1] << (32 - off);
    q &= mask;
    const i64 g = r * groups + k / groupSize;
    const float scale = ${load('scales[g]', s)}, bias = ${load('biases[g]', s)};
    dst[e] = ${store(value, out)};
  }
}
`;
  return { name, source };
}

const lastDim = (s: readonly number[]) => s[s.length - 1];

const quantize: CudaKernel = ([w], outs, p: QuantParams, ctx) => {
  const [wq, sc, bi] = outs.map((o) => ctx.alloc(o));
  const groupsTotal = sizeOf(w.shape) / p.groupSize;
  if (groupsTotal === 0) return [wq, sc, bi];
  const fn = ctx.kernels.get(`quantize|${w.dtype.name}`, () => renderQuantize(`quantize_${w.dtype.name}`, w.dtype));
  ctx.rt.args.reset().ptr(wq.ptr).ptr(sc.ptr).ptr(bi.ptr).ptr(w.buf.ptr).i64(groupsTotal).i32(p.groupSize).i32(p.bits);
  ctx.rt.launch(fn, [ctx.rt.gridFor(groupsTotal), 1, 1], [256, 1, 1]);
  return [wq, sc, bi];
};

function runDequantize(ctx: CudaContext, wq: CudaArg, s: CudaArg, b: CudaArg, p: QuantParams, dst: bigint, out: DType, total: number, K: number): void {
  if (total === 0) return;
  const fn = ctx.kernels.get(`dequantize|${s.dtype.name}|${out.name}`, () => renderDequantize(`dequantize_${out.name}`, s.dtype, out));
  ctx.rt.args.reset().ptr(dst).ptr(wq.buf.ptr).ptr(s.buf.ptr).ptr(b.buf.ptr).i64(total).i64(K).i32(p.groupSize).i32(p.bits);
  ctx.rt.launch(fn, [ctx.rt.gridFor(total), 1, 1], [256, 1, 1]);
}

const dequantize: CudaKernel = ([wq, s, b], [out], p: QuantParams, ctx) => {
  const o = ctx.alloc(out);
  runDequantize(ctx, wq, s, b, p, o.ptr, out.dtype, sizeOf(out.shape), lastDim(out.shape));
  return [o];
};

/** Offsets (in matrices) of each operand's matrix for each output batch index. */
function batchOffsets(inBatch: readonly number[], outBatch: readonly number[]): number[] {
  const strides = broadcastStrides(inBatch, outBatch);
  const offs: number[] = [];
  const count = sizeOf(outBatch);
  for (let i = 0; i < count; i++) {
    let off = 0;
    for (let k = outBatch.length - 1, r = i; k >= 0; k--) { off += (r % outBatch[k]) * strides[k]; r = Math.floor(r / outBatch[k]); }
    offs.push(off);
  }
  return offs;
}

const quantizedMatmul: CudaKernel = ([x, wq, s, b], [out], p: QmmParams, ctx) => {
  const o = ctx.alloc(out);
  const d = out.dtype;
  const nd = out.shape.length;
  const M = out.shape[nd - 2], N = out.shape[nd - 1], K = lastDim(x.shape);
  if (o.nbytes === 0) return [o];
  if (K === 0) {
    check(ctx.rt.driver, ctx.rt.driver.cuMemsetD8Async(o.ptr, 0, o.nbytes, ctx.rt.stream), 'cuMemsetD8Async');
    return [o];
  }
  const rows = wq.shape[wq.shape.length - 2], cols = p.transpose ? K : N;
  // The whole weight in float32, and x in float32.
  const W = ctx.temp(sizeOf(wq.shape.slice(0, -1)) * cols * 4);
  runDequantize(ctx, wq, s, b, p, W.ptr, float32, sizeOf(wq.shape.slice(0, -1)) * cols, cols);
  const X = d === float32 ? x.buf : ctx.temp(sizeOf(x.shape) * 4);
  if (d !== float32) runElementwise(ctx, 'astype', store(castCuda('x0', d, float32), float32), [{ arg: x }], X, x.shape, float32);
  const C: CudaBuffer = d === float32 ? o : ctx.temp(sizeOf(out.shape) * 4);
  const outBatch = out.shape.slice(0, -2);
  let xo = batchOffsets(x.shape.slice(0, -2), outBatch), wo = batchOffsets(wq.shape.slice(0, -2), outBatch);
  let m = M;
  // A weight shared by x's consecutive matrices: one tall product.
  if (wo.every((v) => v === wo[0]) && xo.every((v, i) => v === i)) { m = M * xo.length; xo = xo.slice(0, 1); wo = wo.slice(0, 1); }
  const at = (buf: CudaBuffer, elems: number) => buf.ptr + BigInt(elems * 4);
  xo.forEach((xOff, i) => {
    gemm(ctx.rt, { a: at(X, xOff * M * K), b: at(W, wo[i] * rows * cols), c: at(C, i * M * N), M: m, N, K, transB: p.transpose,
      strideA: 0, strideB: 0, strideC: 0, batch: 1, dtype: float32 });
  });
  if (C !== o) runElementwise(ctx, 'astype', store(castCuda('x0', float32, d), d), [{ arg: { buf: C, shape: out.shape, dtype: float32 } }], o, out.shape, d);
  return [o];
};

registerCudaKernels({ quantize, dequantize, quantizedMatmul });
