// Attention without tensor cores: any dtype (float32 above all) and any head dims, the same
// FlashAttention-2 blocking as attention-mma.ts in float32 CUDA cores, tiles staged through
// shared memory as floats. Also the small kernels both paths share: the merge of split-key
// partial results, the backward preprocessing (rowsum(dO ∘ O), a zeroed dQ accumulator)
// and the final dQ conversion. Reference: src/fast/attention.ts (sdpaRef).
//
// Forward: 128 threads own BM grouped query rows, TPR = 128 / BM threads per row; each
// thread scores keys lr, lr + TPR, ... of a BN-key tile and keeps Dv / TPR output columns.
// Backward: 128 threads own BN keys and walk query tiles of BM rows: scores and dP in the
// row layout, dK/dV accumulate in a key layout (128 / BN threads per key), dQ goes to the
// float32 accumulator with atomics.
import type { DType } from '../../../../core/dtype.js';
import type { KernelSource } from '../../compiler.js';
import { PRELUDE, load, stype, store } from '../ctypes.js';
import { ATTN_HELPERS, MaskSpec, maskParams, keyLimit, keyRange, positionRange, scoreCode, maskKey } from './attention-source.js';

const T = 128;
/** Static shared memory a SIMT kernel may use, in floats. */
const SMEM_FLOATS = 12 * 1024;

export interface SimtFwdSpec extends MaskSpec { dtype: DType; D: number; Dv: number; BM: number; BN: number; split: boolean }
export interface SimtBwdSpec extends MaskSpec { dtype: DType; D: number; Dv: number; BM: number; BN: number }

export const simtFwdKey = (s: SimtFwdSpec): string => `attn|fsimt|${s.dtype.name}|${s.D}|${s.Dv}|${s.BM}x${s.BN}|${+s.split}|${maskKey(s)}`;
export const simtBwdKey = (s: SimtBwdSpec): string => `attn|bsimt|${s.dtype.name}|${s.D}|${s.Dv}|${s.BM}x${s.BN}|${maskKey(s)}`;

const fwdFloats = (D: number, Dv: number, BM: number, BN: number) => BM * (D + 1) + BN * (D + 1) + BN * Dv + BM * (BN + 1);
const bwdFloats = (D: number, Dv: number, BM: number, BN: number) =>
  BN * (D + 1) + BN * (Dv + 1) + BM * (D + 1) + BM * (Dv + 1) + 2 * BM * (BN + 1) + 5 * BM;

/** Rows and keys per block for the forward kernel, or null when D and Dv are too large for shared memory. */
export function simtFwdTiles(D: number, Dv: number, rows: number): { BM: number; BN: number } | null {
  const bms = rows <= 4 ? [4] : rows <= 8 ? [8, 4] : [16, 8, 4];
  for (const BM of bms) for (const BN of [64, 32, 16, 8, 4, 2, 1]) {
    if (BN > 32 && BN * (D + Dv) > 8192) continue; // 64-key tiles only for small heads
    if (fwdFloats(D, Dv, BM, BN) <= SMEM_FLOATS) return { BM, BN };
  }
  return null;
}

export function simtBwdTiles(D: number, Dv: number): { BM: number; BN: number } | null {
  for (const [BN, BM] of [[32, 16], [16, 16], [16, 8], [8, 8], [8, 4], [4, 4], [2, 4], [1, 4]])
    if (bwdFloats(D, Dv, BM, BN) <= SMEM_FLOATS) return { BM, BN };
  return null;
}

/** Copies `n` rows of `width` values (row stride `gstride`) into floats (row stride `sstride`), zeros past `nvalid`. */
const stage = (dst: string, src: string, n: number, width: number, sstride: number, nvalid: string, d: DType) => `
    for (int i_ = threadIdx.x; i_ < ${n * width}; i_ += ${T}) {
      const int r_ = i_ / ${width}, c_ = i_ - r_ * ${width};
      ${dst}[r_ * ${sstride} + c_] = r_ < ${nvalid} ? ${load(`${src}[(i64)r_ * ${width} + c_]`, d)} : 0.0f;
    }`;

export function renderSimtFwd(name: string, s: SimtFwdSpec): KernelSource {
  const { D, Dv, BM, BN, dtype } = s;
  const TPR = T / BM, KPT = Math.ceil(BN / TPR), DPT = Math.ceil(Dv / TPR);
  const QST = D + 1, KST = D + 1, PST = BN + 1;
  const S_ = stype(dtype);
  const source = `${PRELUDE}${ATTN_HELPERS}
extern "C" __global__ void __launch_bounds__(${T}) ${name}(${S_}* __restrict__ out, float* __restrict__ lse, float* __restrict__ opart, float* __restrict__ lsepart,
    const ${S_}* __restrict__ q, const ${S_}* __restrict__ k, const ${S_}* __restrict__ v, ${maskParams(s)}, int chunk) {
  __shared__ float Qs[${BM * QST}], Ks[${BN * KST}], Vs[${BN * Dv}], Ps[${BM * PST}];
  const int tid = threadIdx.x, r = tid / ${TPR}, lr = tid % ${TPR};
  const int rows = rep * L, shift = S - L;
  const int r0 = (int)(gridDim.x - 1 - blockIdx.x) * ${BM};
  const int grp = blockIdx.y, b = grp / Hk, hk = grp - b * Hk;
  ${keyLimit(s)}
  ${positionRange(String(BM))}
  ${keyRange(s)}
  const i64 rowBase = (i64)grp * rows;
  const int rr = r0 + r, hh = rr / L, ii = rr - hh * L, qpos = ii + shift;
  const bool valid = rr < rows;
  const i64 moff = (i64)b * ms0 + (i64)(hk * rep + hh) * ms1 + (i64)ii * ms2;
  const ${S_}* qg = q + (rowBase + r0) * ${D};
  const ${S_}* kg = k + (i64)grp * S * ${D};
  const ${S_}* vg = v + (i64)grp * S * ${Dv};
  ${stage('Qs', 'qg', BM, D, QST, 'rows - r0', dtype)}
  float m = -LATHE_INF, l = 0.0f, o[${DPT}];
  #pragma unroll
  for (int c = 0; c < ${DPT}; c++) o[c] = 0.0f;
  for (int k0 = lo / ${BN} * ${BN}; k0 < hi; k0 += ${BN}) {
    __syncthreads();
    const ${S_}* kt = kg + (i64)k0 * ${D};
    const ${S_}* vt = vg + (i64)k0 * ${Dv};
    ${stage('Ks', 'kt', BN, D, KST, 'hi - k0', dtype)}
    ${stage('Vs', 'vt', BN, Dv, Dv, 'hi - k0', dtype)}
    __syncthreads();
    float x[${KPT}], mx = m;
    #pragma unroll
    for (int c = 0; c < ${KPT}; c++) {
      const int j = lr + c * ${TPR};
      float acc = 0.0f;
      if (j < ${BN}) {
        #pragma unroll 8
        for (int d = 0; d < ${D}; d++) acc = fmaf(Qs[r * ${QST} + d], Ks[j * ${KST} + d], acc);
      }
      const int key = k0 + j;
      ${scoreCode(s, { acc: 'acc', key: 'key', qpos: 'qpos', moff: 'moff', valid: `valid && j < ${BN}`, lo: 'lo', hi: 'hi', out: 'x[c]' })}
      mx = fmaxf(mx, x[c]);
    }
    #pragma unroll
    for (int off = ${TPR >> 1}; off > 0; off >>= 1) mx = fmaxf(mx, __shfl_xor_sync(LATHE_ALL, mx, off));
    const float ms = mx == -LATHE_INF ? 0.0f : mx;
    const float alpha = attn_ex2(m - ms);
    m = mx;
    float sum = 0.0f;
    #pragma unroll
    for (int c = 0; c < ${KPT}; c++) {
      const int j = lr + c * ${TPR};
      const float p = attn_ex2(x[c] - ms);
      sum += p;
      if (j < ${BN}) Ps[r * ${PST} + j] = p;
    }
    l = l * alpha + sum;
    #pragma unroll
    for (int c = 0; c < ${DPT}; c++) o[c] *= alpha;
    __syncwarp();
    for (int j = 0; j < ${BN}; j++) {
      const float p = Ps[r * ${PST} + j];
      #pragma unroll
      for (int c = 0; c < ${DPT}; c++) {
        const int d = lr + c * ${TPR};
        if (${Dv % TPR === 0 ? 'true' : `d < ${Dv}`}) o[c] = fmaf(p, Vs[j * ${Dv} + d], o[c]);
      }
    }
  }
  #pragma unroll
  for (int off = ${TPR >> 1}; off > 0; off >>= 1) l += __shfl_xor_sync(LATHE_ALL, l, off);
  if (!valid) return;
  const float inv = l > 0.0f ? 1.0f / l : 0.0f;
  const float ls = l > 0.0f ? m * ATTN_LN2 + logf(l) : -LATHE_INF;
${s.split ? `  const i64 row = (i64)blockIdx.z * ((i64)gridDim.y * rows) + rowBase + rr;
  #pragma unroll
  for (int c = 0; c < ${DPT}; c++) { const int d = lr + c * ${TPR}; if (d < ${Dv}) opart[row * ${Dv} + d] = o[c] * inv; }
  if (lr == 0) lsepart[row] = ls;` : `  const i64 row = rowBase + rr;
  #pragma unroll
  for (int c = 0; c < ${DPT}; c++) { const int d = lr + c * ${TPR}; if (d < ${Dv}) out[row * ${Dv} + d] = ${store('o[c] * inv', dtype)}; }
  if (lr == 0) lse[row] = ls;`}
}
`;
  return { name, source };
}

export function renderSimtBwd(name: string, s: SimtBwdSpec): KernelSource {
  const { D, Dv, BM, BN, dtype } = s;
  const TPR = T / BM, KPT = Math.ceil(BN / TPR), TPK = T / BN;
  const KD = Math.ceil(D / TPK), KDv = Math.ceil(Dv / TPK), QD = Math.ceil(D / TPR);
  const KST = D + 1, VST = Dv + 1, QST = D + 1, OST = Dv + 1, PST = BN + 1;
  const S_ = stype(dtype);
  const guard = (n: number, per: number, d: string) => (n % per === 0 ? 'true' : `${d} < ${n}`);
  const source = `${PRELUDE}${ATTN_HELPERS}
extern "C" __global__ void __launch_bounds__(${T}) ${name}(float* __restrict__ dqacc, ${S_}* __restrict__ dk, ${S_}* __restrict__ dv,
    const ${S_}* __restrict__ q, const ${S_}* __restrict__ k, const ${S_}* __restrict__ v, const ${S_}* __restrict__ dout,
    const float* __restrict__ lse, const float* __restrict__ dvec, ${maskParams(s)}) {
  __shared__ float Ks[${BN * KST}], Vs[${BN * VST}], Qs[${BM * QST}], Os[${BM * OST}], Ps[${BM * PST}], dSs[${BM * PST}], lse2S[${BM}], dvS[${BM}];
  __shared__ int qpS[${BM}];
  __shared__ i64 moS[${BM}];
  const int tid = threadIdx.x, r = tid / ${TPR}, lr = tid % ${TPR}, kj = tid / ${TPK}, lk = tid % ${TPK};
  const int rows = rep * L, shift = S - L;
  const int k0 = blockIdx.x * ${BN};
  const int grp = blockIdx.y, b = grp / Hk, hk = grp - b * Hk;
  ${keyLimit(s)}
  const i64 rowBase = (i64)grp * rows;
  float dka[${KD}], dva[${KDv}];
  #pragma unroll
  for (int c = 0; c < ${KD}; c++) dka[c] = 0.0f;
  #pragma unroll
  for (int c = 0; c < ${KDv}; c++) dva[c] = 0.0f;
  if (k0 < hiB) {
    const int kmax = min(hiB, k0 + ${BN}) - 1;
    const ${S_}* kt = k + ((i64)grp * S + k0) * ${D};
    const ${S_}* vt = v + ((i64)grp * S + k0) * ${Dv};
    ${stage('Ks', 'kt', BN, D, KST, 'hiB - k0', dtype)}
    ${stage('Vs', 'vt', BN, Dv, VST, 'hiB - k0', dtype)}
    for (int r0 = 0; r0 < rows; r0 += ${BM}) {
      ${positionRange(String(BM))}${s.causal ? `
      if (pmax < k0) continue;` : ''}${s.window ? `
      if (pmin - kmax >= window) continue;` : ''}
      __syncthreads();
      const ${S_}* qt = q + (rowBase + r0) * ${D};
      const ${S_}* ot = dout + (rowBase + r0) * ${Dv};
      ${stage('Qs', 'qt', BM, D, QST, 'rows - r0', dtype)}
      ${stage('Os', 'ot', BM, Dv, OST, 'rows - r0', dtype)}
      if (tid < ${BM}) {
        const int rr = r0 + tid, hh = rr / L, ii = rr - hh * L;
        const float ls = rr < rows ? lse[rowBase + rr] : -LATHE_INF;
        lse2S[tid] = ls == -LATHE_INF ? LATHE_INF : ls * ATTN_LOG2E;
        dvS[tid] = rr < rows ? dvec[rowBase + rr] : 0.0f;
        qpS[tid] = ii + shift;
        moS[tid] = (i64)b * ms0 + (i64)(hk * rep + hh) * ms1 + (i64)ii * ms2;
      }
      __syncthreads();
      #pragma unroll
      for (int c = 0; c < ${KPT}; c++) {
        const int j = lr + c * ${TPR};
        if (j >= ${BN}) break;
        float acc = 0.0f, dpv = 0.0f;
        #pragma unroll 8
        for (int d = 0; d < ${D}; d++) acc = fmaf(Qs[r * ${QST} + d], Ks[j * ${KST} + d], acc);
        #pragma unroll 8
        for (int d = 0; d < ${Dv}; d++) dpv = fmaf(Os[r * ${OST} + d], Vs[j * ${VST} + d], dpv);
        const int key = k0 + j, qpos = qpS[r];
        float x, th = 0.0f;
        ${scoreCode(s, { acc: 'acc', key: 'key', qpos: 'qpos', moff: 'moS[r]', valid: 'r0 + r < rows', lo: '0', hi: 'hiB', out: 'x', th: 'th' })}
        const float p = attn_ex2(x - lse2S[r]);
        float ds = p * (dpv - dvS[r]);${s.softcap ? `
        ds *= 1.0f - th * th;` : ''}
        Ps[r * ${PST} + j] = p;
        dSs[r * ${PST} + j] = ds;
      }
      __syncthreads();
      // dV[j] += Σ_r P[r][j] dO[r], dK[j] += Σ_r dS[r][j] Q[r] (key layout)
      for (int i = 0; i < ${BM}; i++) {
        const float p = Ps[i * ${PST} + kj], ds = dSs[i * ${PST} + kj];
        #pragma unroll
        for (int c = 0; c < ${KDv}; c++) { const int d = lk + c * ${TPK}; if (${guard(Dv, TPK, 'd')}) dva[c] = fmaf(p, Os[i * ${OST} + d], dva[c]); }
        #pragma unroll
        for (int c = 0; c < ${KD}; c++) { const int d = lk + c * ${TPK}; if (${guard(D, TPK, 'd')}) dka[c] = fmaf(ds, Qs[i * ${QST} + d], dka[c]); }
      }
      // dQ[r] += scale · Σ_j dS[r][j] K[j] (row layout), into the float32 accumulator.
      if (r0 + r < rows) {
        float dqa[${QD}];
        #pragma unroll
        for (int c = 0; c < ${QD}; c++) dqa[c] = 0.0f;
        for (int j = 0; j < ${BN}; j++) {
          const float ds = dSs[r * ${PST} + j];
          #pragma unroll
          for (int c = 0; c < ${QD}; c++) { const int d = lr + c * ${TPR}; if (${guard(D, TPR, 'd')}) dqa[c] = fmaf(ds, Ks[j * ${KST} + d], dqa[c]); }
        }
        float* dqr = dqacc + (rowBase + r0 + r) * ${D};
        #pragma unroll
        for (int c = 0; c < ${QD}; c++) { const int d = lr + c * ${TPR}; if (d < ${D}) atomicAdd(dqr + d, dqa[c] * scale); }
      }
    }
  }
  const int key = k0 + kj;
  if (key < S) {
    #pragma unroll
    for (int c = 0; c < ${KD}; c++) { const int d = lk + c * ${TPK}; if (d < ${D}) dk[((i64)grp * S + key) * ${D} + d] = ${store('dka[c] * scale', dtype)}; }
    #pragma unroll
    for (int c = 0; c < ${KDv}; c++) { const int d = lk + c * ${TPK}; if (d < ${Dv}) dv[((i64)grp * S + key) * ${Dv} + d] = ${store('dva[c]', dtype)}; }
  }
}
`;
  return { name, source };
}

/**
 * Merges split-key partials (normalized outputs and their lse) into out and lse: a block per
 * row, the split weights exp(lse_z − max) computed once into shared memory (splits ≤ 256).
 */
export function renderCombine(name: string, dtype: DType): KernelSource {
  const S_ = stype(dtype);
  const source = `${PRELUDE}
extern "C" __global__ void __launch_bounds__(128) ${name}(${S_}* __restrict__ out, float* __restrict__ lse, const float* __restrict__ opart,
    const float* __restrict__ lsepart, i64 rows, int splits, int Dv) {
  __shared__ float w[256], red[4];
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  for (i64 row = blockIdx.x; row < rows; row += gridDim.x) {
    float M = -LATHE_INF;
    for (int z = tid; z < splits; z += 128) M = fmaxf(M, lsepart[(i64)z * rows + row]);
    for (int off = 16; off > 0; off >>= 1) M = fmaxf(M, __shfl_xor_sync(LATHE_ALL, M, off));
    if (lane == 0) red[warp] = M;
    __syncthreads();
    M = fmaxf(fmaxf(red[0], red[1]), fmaxf(red[2], red[3]));
    __syncthreads();
    float W = 0.0f;
    for (int z = tid; z < splits; z += 128) {
      const float e = M == -LATHE_INF ? 0.0f : expf(lsepart[(i64)z * rows + row] - M);
      w[z] = e; W += e;
    }
    for (int off = 16; off > 0; off >>= 1) W += __shfl_xor_sync(LATHE_ALL, W, off);
    if (lane == 0) red[warp] = W;
    __syncthreads();
    W = red[0] + red[1] + red[2] + red[3];
    const float inv = W > 0.0f ? 1.0f / W : 0.0f;
    for (int d = tid; d < Dv; d += 128) {
      float acc = 0.0f;
      #pragma unroll 4
      for (int z = 0; z < splits; z++) { const float e = w[z]; if (e > 0.0f) acc = fmaf(e, opart[((i64)z * rows + row) * Dv + d], acc); }
      out[row * Dv + d] = ${store('acc * inv', dtype)};
    }
    if (tid == 0) lse[row] = W > 0.0f ? M + logf(W) : -LATHE_INF;
    __syncthreads();
  }
}
`;
  return { name, source };
}

/** dvec[row] = Σ dO ∘ O over the row (float32), and the row's dQ accumulator zeroed: one warp per row. */
export function renderBwdPre(name: string, dtype: DType): KernelSource {
  const S_ = stype(dtype);
  const source = `${PRELUDE}
extern "C" __global__ void __launch_bounds__(256) ${name}(float* __restrict__ dvec, float* __restrict__ dqacc, const ${S_}* __restrict__ o,
    const ${S_}* __restrict__ dout, i64 rows, int Dv, int D) {
  const int lane = threadIdx.x & 31;
  for (i64 row = ((i64)blockIdx.x * blockDim.x + threadIdx.x) >> 5; row < rows; row += ((i64)gridDim.x * blockDim.x) >> 5) {
    float s = 0.0f;
    for (int d = lane; d < Dv; d += 32) s = fmaf(${load('o[row * Dv + d]', dtype)}, ${load('dout[row * Dv + d]', dtype)}, s);
    for (int off = 16; off > 0; off >>= 1) s += __shfl_xor_sync(LATHE_ALL, s, off);
    if (lane == 0) dvec[row] = s;
    for (int d = lane; d < D; d += 32) dqacc[row * D + d] = 0.0f;
  }
}
`;
  return { name, source };
}

/** dq = the float32 accumulator rounded to the queries' dtype. */
export function renderDqConvert(name: string, dtype: DType): KernelSource {
  const source = `${PRELUDE}
extern "C" __global__ void __launch_bounds__(256) ${name}(${stype(dtype)}* __restrict__ dq, const float* __restrict__ acc, i64 n) {
  for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (i64)gridDim.x * blockDim.x) dq[i] = ${store('acc[i]', dtype)};
}
`;
  return { name, source };
}
