// CUDA kernels for affine quantization (layout in core/ops/quantize.ts), with the CPU's
// float32 arithmetic step for step (no FMA contraction, IEEE division), so results match:
//   quantize: one thread per group finds its range, scale and bias, and streams the group's
//     values into its own whole words (a group's bits start on a word boundary);
//   dequantize: scale * q rounded, then + bias; at 4 and 8 bits a thread per 16-byte pack
//     of output values (coalesced stores), else a thread per value;
//   quantizedMatmul: up to 4 rows of x at 4 or 8 bits go to the GEMV kernels
//     (fast/quantized-gemv.ts), which read the packed weight once; otherwise the weight is
//     dequantized into scratch in x's dtype (bfloat16/float16 as MLX's kernels do, float32
//     for float32) and multiplied by cuBLAS with float32 accumulation.
import type { DType } from '../../../core/dtype.js';
import type { QuantParams, QmmParams } from '../../../core/ops/quantize.js';
import type { KernelSource } from '../compiler.js';
import { registerCudaKernels, CudaKernel, CudaArg, CudaContext, CudaBuffer } from '../backend.js';
import { check } from '../ffi/libcuda.js';
import { PRELUDE, stype, load, store } from './ctypes.js';
import { gemm } from './matmul.js';
import { broadcastStrides, sizeOf } from './layout.js';
import { runQmv } from './fast/quantized-gemv.js';

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

/**
 * Dequantize at 4 or 8 bits: a thread per 16 bytes of output (4 or 8 values), so a warp's
 * stores are contiguous. (Unrolled to 4 loads in flight per thread it measured slower on an
 * H200: 69 µs against 57 for 4096 x 14336 to bfloat16.) Flat value e belongs to group
 * e / groupSize (rows hold whole groups) and word e * bits / 32. Integers become floats
 * through the mantissa of 2^23 (see fast/quantized-gemv.ts), exactly; then scale * q + bias
 * as renderDequantize.
 */
export function renderDequantizeChunks(name: string, bits: 4 | 8, s: DType, out: DType): KernelSource {
  const PW = 16 / out.size, span = PW * bits; // values and packed bits per thread: 16, 32 or 64 bits
  const mask = (1 << bits) - 1;
  const word = span === 64 ? 'const Pack<u32, 2> qw = ((const Pack<u32, 2>*)words)[p];'
    : span === 32 ? 'const u32 qw = words[p];' : 'const u32 qw = words[p >> 1] >> ((u32)(p & 1) * 16u);';
  const field = (e: number) => (span === 64 ? `(qw.v[${Math.floor((e * bits) / 32)}] >> ${(e * bits) % 32}) & ${mask}u` : `(qw >> ${e * bits}) & ${mask}u`);
  const source = `${PRELUDE}
#ifndef LATHE_QMAGIC
#define LATHE_QMAGIC
__device__ __forceinline__ float qf(u32 v) { return __int_as_float(0x4B000000u | v) - 8388608.0f; }
#endif
extern "C" __global__ void __launch_bounds__(256) ${name}(${stype(out)}* __restrict__ dst, const u32* __restrict__ words, const ${stype(s)}* __restrict__ scales,
    const ${stype(s)}* __restrict__ biases, i64 packs, int gShift) {
  for (i64 p = (i64)blockIdx.x * blockDim.x + threadIdx.x; p < packs; p += (i64)gridDim.x * blockDim.x) {
    ${word}
    const i64 g = (p * ${PW}) >> gShift;
    const float scale = ${load('scales[g]', s)}, bias = ${load('biases[g]', s)};
    Pack<${stype(out)}, ${PW}> v;
${Array.from({ length: PW }, (_, e) => `    v.v[${e}] = ${store(`scale * qf(${field(e)}) + bias`, out)};`).join('\n')}
    ((Pack<${stype(out)}, ${PW}>*)dst)[p] = v;
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
  if ((p.bits === 4 || p.bits === 8) && ((wq.buf.ptr | dst) & 15n) === 0n) {
    const bits = p.bits, packs = total / (16 / out.size);
    const fn = ctx.kernels.get(`dequantize16|${bits}|${s.dtype.name}|${out.name}`, () => renderDequantizeChunks(`dequantize${bits}_${out.name}`, bits, s.dtype, out));
    ctx.rt.args.reset().ptr(dst).ptr(wq.buf.ptr).ptr(s.buf.ptr).ptr(b.buf.ptr).i64(packs).i32(Math.log2(p.groupSize));
    ctx.rt.launch(fn, [ctx.rt.gridFor(packs), 1, 1], [256, 1, 1]);
    return;
  }
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

/**
 * Rows of x up to which the GEMV kernels run: beyond, dequantizing once for a GEMM wins (on an
 * H200, 4096 x 14336 at 4 bits: M = 2 took 52 µs by GEMV against ~96 µs, M = 8 132 µs against ~96).
 */
export const GEMV_MAX_M = 4;

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
  if (M <= GEMV_MAX_M && runQmv(ctx, x, wq, s, b, o, p, out.shape)) return [o];
  const rows = wq.shape[wq.shape.length - 2], cols = p.transpose ? K : N;
  // The whole weight dequantized in x's dtype: cuBLAS multiplies with float32 accumulation.
  const wElems = sizeOf(wq.shape.slice(0, -1)) * cols;
  const W = ctx.temp(wElems * d.size);
  runDequantize(ctx, wq, s, b, p, W.ptr, d, wElems, cols);
  const outBatch = out.shape.slice(0, -2);
  let xo = batchOffsets(x.shape.slice(0, -2), outBatch), wo = batchOffsets(wq.shape.slice(0, -2), outBatch);
  let m = M;
  // A weight shared by x's consecutive matrices: one tall product.
  if (wo.every((v) => v === wo[0]) && xo.every((v, i) => v === i)) { m = M * xo.length; xo = xo.slice(0, 1); wo = wo.slice(0, 1); }
  const at = (buf: CudaBuffer, elems: number) => buf.ptr + BigInt(elems * d.size);
  xo.forEach((xOff, i) => {
    gemm(ctx.rt, { a: at(x.buf, xOff * M * K), b: at(W, wo[i] * rows * cols), c: at(o, i * M * N), M: m, N, K, transB: p.transpose,
      strideA: 0, strideB: 0, strideC: 0, batch: 1, dtype: d });
  });
  return [o];
};

registerCudaKernels({ quantize, dequantize, quantizedMatmul });
