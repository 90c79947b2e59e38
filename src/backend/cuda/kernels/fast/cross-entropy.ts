// Cross entropy over large vocabularies (src/fast/cross-entropy.ts; the CPU kernel's
// formulas), in float32:
//   forward: a block per row, or per slice of a row when rows are too few to fill the GPU
//     (then a second kernel merges the slices). Threads stream 16-byte packs, each keeping an
//     online (max, rescaled sum of exp) and the sum of logits (for label smoothing); the
//     block merges them and writes loss and lse. One exp per logit.
//   backward: blocks over (row, slice) write g·(softmax − (1 − s)·onehot − s/V) straight into
//     the logits' dtype: nothing of size N × V is held in float32.
// Rows need not start on 16 bytes (V odd): each block handles the elements before its first
// aligned pack and after its last one separately. A target outside [0, V) that is not
// ignoreIndex gives a NaN loss (the CPU throws; the GPU cannot without waiting for the result).
import type { DType } from '../../../../core/dtype.js';
import type { KernelSource } from '../../compiler.js';
import { registerCudaKernels, type CudaKernel } from '../../backend.js';
import { withDefines, dtypeDefs } from './rows.js';

interface CeParams { ignoreIndex: number; labelSmoothing: number }

/** smooth: label smoothing is on (the forward sums the logits too). */
export interface CeSpec { z: DType; vec: number; smooth: boolean }

const THREADS = 256;

/** The aligned part of [lo, hi) of row `zr`: packs from `a` to `e`; shared by both passes. */
const ALIGN = String.raw`
    const i64 mis = (i64)(((16 - ((u64)(zr + lo) & 15)) & 15) / sizeof(Z_T));
    const i64 a = lo + mis < hi ? lo + mis : hi, np = (hi - a) / VEC, e = a + np * VEC;`;

/**
 * part == null: a block per row writes loss[row] and lse[row]. Else block b takes slice
 * b % splits of row b / splits (`chunk` logits) and writes (max, sum, total) to part[3b..].
 */
export function renderCeForward(name: string, s: CeSpec): KernelSource {
  const body = String.raw`
__device__ __forceinline__ void ${name}_absorb(float v, float& m, float& s, float& tot) {
  if (SMOOTH) tot += v;
  if (v > m) { s = s * __expf(m - v) + 1.0f; m = v; }
  else if (v != v) m = v;
  else if (m > -LATHE_INF) s += __expf(v - m);
}
// A pack: its max first (fmaxf skips NaN, which then makes the sum NaN, so a NaN logit
// gives a NaN loss unless every other logit of its row is -inf), one rescale, then one exp
// (ex2.approx: a relative error of a few 1e-6 at the exponents of real rows) per logit.
__device__ __forceinline__ void ${name}_pack(const Pack<Z_T, VEC>& q, float& m, float& s, float& tot) {
  float v[VEC], pm = -LATHE_INF;
#pragma unroll
  for (int j = 0; j < VEC; j++) { v[j] = LD_Z(q.v[j]); if (SMOOTH) tot += v[j]; pm = fmaxf(pm, v[j]); }
  if (pm > m) { s = s * __expf(m - pm); m = pm; }
  else if (pm != pm) m = pm;
  if (m > -LATHE_INF) {
#pragma unroll
    for (int j = 0; j < VEC; j++) s += __expf(v[j] - m);
  }
}
// The loss of a row from its (max, sum, total): lse − (1 − s)·z[t] − s·total/V, 0 where ignored.
__device__ __forceinline__ void ${name}_finish(float* loss, float* lse, const Z_T* zr, i64 row, int t, i64 V, float m, float s, float tot,
    int ignore, float smooth) {
  const float l = m - m == 0.0f ? m + logf(s) : m;
  lse[row] = l;
  float out;
  if (t == ignore) out = 0.0f;
  else if (t < 0 || (i64)t >= V) out = __int_as_float(0x7fffffff);
  else {
    const float zt = LD_Z(zr[t]);
    out = smooth > 0.0f ? l - (1.0f - smooth) * zt - (smooth * tot) / (float)V : l - zt;
  }
  loss[row] = out;
}
extern "C" __global__ void __launch_bounds__(${THREADS}) ${name}(float* __restrict__ loss, float* __restrict__ lse, float* __restrict__ part,
    const Z_T* __restrict__ z, const i32* __restrict__ tg, i64 V, i64 chunk, int splits, int ignore, float smooth) {
  __shared__ float shm[32], shs[32], sht[32];
  const i64 row = blockIdx.x / splits;
  const int sp = blockIdx.x % splits;
  const Z_T* zr = z + row * V;
  const i64 lo = sp * chunk, hi = lo + chunk < V ? lo + chunk : V;
  float m = -LATHE_INF, s = 0.0f, tot = 0.0f;
  ${ALIGN}
  for (i64 j = lo + threadIdx.x; j < a; j += ${THREADS}) ${name}_absorb(LD_Z(zr[j]), m, s, tot);
  for (i64 j = e + threadIdx.x; j < hi; j += ${THREADS}) ${name}_absorb(LD_Z(zr[j]), m, s, tot);
  const Pack<Z_T, VEC>* pz = reinterpret_cast<const Pack<Z_T, VEC>*>(zr + a);
  i64 p = threadIdx.x;
  // Two packs in flight per thread before the (dependent) updates.
  for (; p + ${THREADS} < np; p += 2 * ${THREADS}) {
    const Pack<Z_T, VEC> q0 = pz[p], q1 = pz[p + ${THREADS}];
    ${name}_pack(q0, m, s, tot);
    ${name}_pack(q1, m, s, tot);
  }
  if (p < np) ${name}_pack(pz[p], m, s, tot);
  // The block's (max, sum) and total: warps by shuffles, then the warps' parts in order.
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const float mo = __shfl_xor_sync(LATHE_ALL, m, o), so = __shfl_xor_sync(LATHE_ALL, s, o);
    mergeOnline(m, s, mo, so);
    tot += __shfl_xor_sync(LATHE_ALL, tot, o);
  }
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) { shm[warp] = m; shs[warp] = s; sht[warp] = tot; }
  __syncthreads();
  if (threadIdx.x != 0) return;
  m = shm[0]; s = shs[0]; tot = sht[0];
  for (int w = 1; w < ${THREADS / 32}; w++) { mergeOnline(m, s, shm[w], shs[w]); tot += sht[w]; }
  if (part) { part[3 * (i64)blockIdx.x] = m; part[3 * (i64)blockIdx.x + 1] = s; part[3 * (i64)blockIdx.x + 2] = tot; return; }
  ${name}_finish(loss, lse, zr, row, tg[row], V, m, s, tot, ignore, smooth);
}
// Merges the slices of each row (a thread per row) and writes loss and lse.
extern "C" __global__ void __launch_bounds__(256) ${name}_merge(float* __restrict__ loss, float* __restrict__ lse, const float* __restrict__ part,
    const Z_T* __restrict__ z, const i32* __restrict__ tg, i64 N, i64 V, int splits, int ignore, float smooth) {
  for (i64 row = (i64)blockIdx.x * blockDim.x + threadIdx.x; row < N; row += (i64)gridDim.x * blockDim.x) {
    const float* pr = part + 3 * row * splits;
    float m = pr[0], s = pr[1], tot = pr[2];
    for (int k = 1; k < splits; k++) { mergeOnline(m, s, pr[3 * k], pr[3 * k + 1]); tot += pr[3 * k + 2]; }
    ${name}_finish(loss, lse, z + row * V, row, tg[row], V, m, s, tot, ignore, smooth);
  }
}`;
  return { name, source: withDefines([['VEC', s.vec], ['SMOOTH', s.smooth ? 1 : 0], ...dtypeDefs('Z', s.z)], body) };
}

/** Block b writes slice b % cpr (`chunk` logits) of row b / cpr of the gradient. */
export function renderCeBackward(name: string, s: CeSpec): KernelSource {
  const body = String.raw`extern "C" __global__ void __launch_bounds__(${THREADS}) ${name}(Z_T* __restrict__ dz, const Z_T* __restrict__ z,
    const i32* __restrict__ tg, const float* __restrict__ lse, const float* __restrict__ g, i64 V, i64 chunk, int cpr, int ignore, float smooth) {
  const i64 row = blockIdx.x / cpr;
  const int sp = blockIdx.x % cpr;
  const Z_T* zr = z + row * V;
  Z_T* dr = dz + row * V;
  const i64 lo = sp * chunk, hi = lo + chunk < V ? lo + chunk : V;
  const int t = tg[row];
  const bool ignored = t == ignore;
  const float gr = ignored ? 0.0f : g[row], l = lse[row], sm = (smooth / (float)V) * gr, hit = (1.0f - smooth) * gr;
  ${ALIGN}
#define GRAD(v, j) (ignored ? 0.0f : gr * __expf((v) - l) - sm - ((j) == t ? hit : 0.0f))
  for (i64 j = lo + threadIdx.x; j < a; j += ${THREADS}) dr[j] = ST_Z(GRAD(LD_Z(zr[j]), j));
  for (i64 j = e + threadIdx.x; j < hi; j += ${THREADS}) dr[j] = ST_Z(GRAD(LD_Z(zr[j]), j));
  const Pack<Z_T, VEC>* pz = reinterpret_cast<const Pack<Z_T, VEC>*>(zr + a);
  Pack<Z_T, VEC>* pd = reinterpret_cast<Pack<Z_T, VEC>*>(dr + a);
  for (i64 p = threadIdx.x; p < np; p += ${THREADS}) {
    const Pack<Z_T, VEC> q = pz[p];
    Pack<Z_T, VEC> o;
    const i64 j0 = a + p * VEC;
#pragma unroll
    for (int j = 0; j < VEC; j++) o.v[j] = ST_Z(GRAD(LD_Z(q.v[j]), j0 + j));
    pd[p] = o;
  }
#undef GRAD
}`;
  return { name, source: withDefines([['VEC', s.vec], ['SMOOTH', s.smooth ? 1 : 0], ...dtypeDefs('Z', s.z)], body) };
}

// ---------------------------------------------------------------- launching

/** Elements per pack: 16 bytes of logits. */
const vecOf = (z: DType) => 16 / z.size;

const crossEntropy: CudaKernel = ([z, t], specs, { ignoreIndex, labelSmoothing }: CeParams, ctx) => {
  const [loss, lse] = specs.map((s) => ctx.alloc(s));
  const N = t.shape[0] ?? 1, V = z.shape[z.shape.length - 1];
  if (N === 0) return [loss, lse];
  const s: CeSpec = { z: z.dtype, vec: vecOf(z.dtype), smooth: labelSmoothing > 0 };
  const fn = ctx.kernels.get(`ceFwd|${z.dtype.name}|${s.smooth}`, () => renderCeForward('cross_entropy', s));
  // Few rows: slices of at least 4096 logits, about four blocks per SM in all.
  const sms = ctx.rt.info.sms;
  const splits = N < sms * 2 && V >= 16384 ? Math.min(Math.ceil((sms * 4) / N), Math.ceil(V / 4096)) : 1;
  const chunk = Math.ceil(V / splits);
  const part = splits > 1 ? ctx.temp(N * splits * 3 * 4) : null;
  ctx.rt.args.reset().ptr(loss.ptr).ptr(lse.ptr).ptr(part?.ptr ?? 0n).ptr(z.buf.ptr).ptr(t.buf.ptr)
    .i64(V).i64(chunk).i32(splits).i32(ignoreIndex).f32(labelSmoothing);
  ctx.rt.launch(fn, [N * splits, 1, 1], [THREADS, 1, 1]);
  if (part) {
    const merge = ctx.kernels.get(`ceMerge|${z.dtype.name}|${s.smooth}`, () => {
      const src = renderCeForward('cross_entropy', s);
      return { name: 'cross_entropy_merge', source: src.source };
    });
    ctx.rt.args.reset().ptr(loss.ptr).ptr(lse.ptr).ptr(part.ptr).ptr(z.buf.ptr).ptr(t.buf.ptr)
      .i64(N).i64(V).i32(splits).i32(ignoreIndex).f32(labelSmoothing);
    ctx.rt.launch(merge, [ctx.rt.gridFor(N), 1, 1], [256, 1, 1]);
  }
  return [loss, lse];
};

const crossEntropyVjp: CudaKernel = ([z, t, lse, g], [spec], { ignoreIndex, labelSmoothing }: CeParams, ctx) => {
  const dz = ctx.alloc(spec);
  const N = t.shape[0] ?? 1, V = z.shape[z.shape.length - 1];
  if (N === 0 || V === 0) return [dz];
  // Packs need the logits and the gradient aligned alike (allocations always are).
  const s: CeSpec = { z: z.dtype, vec: (z.buf.ptr & 15n) === (dz.ptr & 15n) ? vecOf(z.dtype) : 1, smooth: false };
  const fn = ctx.kernels.get(`ceBwd|${z.dtype.name}|${s.vec}`, () => renderCeBackward('cross_entropy_vjp', s));
  // Slices of four packs per thread.
  const chunk = Math.min(V, THREADS * vecOf(z.dtype) * 4), cpr = Math.ceil(V / chunk);
  ctx.rt.args.reset().ptr(dz.ptr).ptr(z.buf.ptr).ptr(t.buf.ptr).ptr(lse.buf.ptr).ptr(g.buf.ptr)
    .i64(V).i64(chunk).i32(cpr).i32(ignoreIndex).f32(labelSmoothing);
  ctx.rt.launch(fn, [N * cpr, 1, 1], [THREADS, 1, 1]);
  return [dz];
};

registerCudaKernels({ crossEntropy, crossEntropyVjp });
