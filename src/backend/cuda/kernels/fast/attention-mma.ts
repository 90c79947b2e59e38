// FlashAttention-2 on tensor cores for float16/bfloat16 (head dims that are multiples of 16,
// D = Dv), with mma.sync.m16n8k16 and ldmatrix in inline PTX. The reference they must match
// is src/fast/attention.ts (sdpaRef); the CPU kernel src/backend/cpu/kernels/fast/attention.ts
// has the same blocking in plain loops.
//
// Forward: a block owns BM grouped query rows (rep heads × L queries share a key/value head,
// so grouped-query attention reads k and v once per group) and streams key tiles of BN
// through shared memory with cp.async: V_j loads while S = Q K_jᵀ runs, K_{j+1} while the
// online softmax and O += P V_j run. Each warp owns 16·MT rows; S stays in registers and is
// repacked as the A operand of P V (no L × S matrix anywhere). Tiles past the causal diagonal,
// the window or the key length are skipped; tiles inside them skip the masking.
// With `split`, a block takes one chunk of the keys and writes a normalized partial output
// and its log-sum-exp, which attn_combine merges (flash-decoding).
//
// Backward: a block owns BN keys of one key/value head and walks the query tiles that can
// see them, for all its query heads: Sᵀ = K Qᵀ and dPᵀ = V dOᵀ, P from the forward lse,
// dS = P ∘ (dP − rowsum(dO ∘ O)), dV += Pᵀ dO and dK += dSᵀ Q in registers, and dQ += dS K
// through dS in shared memory, added to a float32 accumulator with vector atomics.
import type { KernelSource } from '../../compiler.js';
import { PRELUDE } from '../ctypes.js';
import { ATTN_HELPERS, MaskSpec, maskParams, keyLimit, keyRange, positionRange, scoreCode, maskKey } from './attention-source.js';

export interface MmaFwdSpec extends MaskSpec {
  half: 'bf16' | 'f16';
  D: number;
  /** Warps per block, 16-row tiles per warp (BM = 16·NW·MT), keys per tile. */
  NW: number;
  MT: number;
  BN: number;
  /** Keep Q's fragments in registers (Q's shared memory then holds K and V). */
  qreg: boolean;
  /**
   * 1: one K and one V buffer (V_j loads during Q K_jᵀ, K_{j+1} during softmax and P V_j);
   * 2: two of each, tile j + 1 loading during all of tile j's work.
   */
  stages: 1 | 2;
  split: boolean;
}

export const mmaFwdKey = (s: MmaFwdSpec): string =>
  `attn|fmma|${s.half}|${s.D}|${s.NW}x${s.MT}x${s.BN}${s.qreg ? 'r' : 's'}${s.stages}|${+s.split}|${maskKey(s)}`;

/** Dynamic shared memory of the forward kernel, bytes. */
export function mmaFwdSmem(s: MmaFwdSpec): number {
  const SD = s.D + 8, BM = 16 * s.NW * s.MT;
  const kv = 2 * s.stages * s.BN * SD;
  return 2 * (s.qreg ? Math.max(BM * SD, kv) : BM * SD + kv);
}

/** Loads `rows` rows of D halves (row stride D) into shared memory (row stride SD), zeros past `nvalid`. */
const tileLoader = (name: string, D: number, SD: number, T: number) => `
template <int ROWS> __device__ __forceinline__ void ${name}_tile(u32 sb, const u16* gb, int nvalid, const u16* safe, int tid) {
  constexpr int CH = ${D / 8};
  #pragma unroll
  for (int c = tid; c < ROWS * CH; c += ${T}) {
    const int r = c / CH, cc = c - r * CH;
    const bool ok = r < nvalid;
    attn_cp16(sb + (u32)(r * ${SD} + cc * 8) * 2u, ok ? (const void*)(gb + (i64)r * ${D} + cc * 8) : (const void*)safe, ok ? 16 : 0);
  }
}`;

export function renderMmaFwd(name: string, s: MmaFwdSpec): KernelSource {
  const { D, NW, MT, BN } = s;
  const SD = D + 8, BM = 16 * NW * MT, T = 32 * NW, NT = D / 8, KS = D / 16, NB = BN / 8;
  const mma = `attn_mma_${s.half}`, pack = `attn_pack_${s.half}`;
  const stageBytes = 2 * BN * SD * 2; // one K and one V tile
  const qOff = s.qreg ? 0 : s.stages * stageBytes; // Q after the K/V buffers, or aliased over them
  const qa = s.qreg ? 'qa[mt][ks]' : 'qa[mt]';
  const loadKV = (kv: 'K' | 'V', at: string, stage: string) =>
    `${name}_tile<${BN}>(s${kv}${stage}, ${kv === 'K' ? 'kg' : 'vg'} + (i64)(${at}) * ${D}, hi - (${at}), ${kv === 'K' ? 'k' : 'v'}, tid);`;
  // S = Q Kᵀ for the warp's rows, K from shared memory at byte address `kb`.
  const qk = (kAddr: string) => `
    float sc[${MT}][${NB}][4];
    #pragma unroll
    for (int mt = 0; mt < ${MT}; mt++)
      #pragma unroll
      for (int n = 0; n < ${NB}; n++) sc[mt][n][0] = sc[mt][n][1] = sc[mt][n][2] = sc[mt][n][3] = 0.0f;
    #pragma unroll
    for (int ks = 0; ks < ${KS}; ks++) {${s.qreg ? '' : `
      u32 qa[${MT}][4];
      #pragma unroll
      for (int mt = 0; mt < ${MT}; mt++) attn_ldm4(qa[mt], sQ + (u32)(aLane + (warp * ${16 * MT} + mt * 16) * ${SD} + ks * 16) * 2u);`}
      #pragma unroll
      for (int np = 0; np < ${NB / 2}; np++) {
        u32 kb[4];
        attn_ldm4(kb, ${kAddr} + (u32)(bLane + np * ${16 * SD} + ks * 16) * 2u);
        #pragma unroll
        for (int mt = 0; mt < ${MT}; mt++) { ${mma}(sc[mt][2 * np], ${qa}, kb[0], kb[1]); ${mma}(sc[mt][2 * np + 1], ${qa}, kb[2], kb[3]); }
      }
    }`;
  // Masks, online softmax (log2 domain; a row's 4 quad lanes share its max, l stays per lane), P packed as A operands.
  const softmax = `
    const bool full = ${s.mask === 'none' && !s.softcap ? `k0 >= lo && k0 + ${BN} <= hi${s.causal ? ` && k0 + ${BN - 1} <= pmin` : ''}${s.window ? ' && pmax - k0 < window' : ''}` : 'false'};
    if (full) {
      #pragma unroll
      for (int mt = 0; mt < ${MT}; mt++)
        #pragma unroll
        for (int n = 0; n < ${NB}; n++)
          #pragma unroll
          for (int e = 0; e < 4; e++) sc[mt][n][e] *= sl2;
    } else {
      #pragma unroll
      for (int mt = 0; mt < ${MT}; mt++)
        #pragma unroll
        for (int n = 0; n < ${NB}; n++)
          #pragma unroll
          for (int e = 0; e < 4; e++) {
            const int key = k0 + n * 8 + 2 * t4 + (e & 1), hf = e >> 1;
            ${scoreCode(s, { acc: 'sc[mt][n][e]', key: 'key', qpos: 'qp[mt][hf]', moff: 'mo[mt][hf]', valid: 'rv[mt][hf]', lo: 'lo', hi: 'hi', out: 'sc[mt][n][e]' })}
          }
    }
    u32 pa[${MT}][${BN / 16}][4];
    #pragma unroll
    for (int mt = 0; mt < ${MT}; mt++)
      #pragma unroll
      for (int hf = 0; hf < 2; hf++) {
        float mx = m[mt][hf];
        #pragma unroll
        for (int n = 0; n < ${NB}; n++) mx = fmaxf(mx, fmaxf(sc[mt][n][2 * hf], sc[mt][n][2 * hf + 1]));
        mx = fmaxf(mx, __shfl_xor_sync(LATHE_ALL, mx, 1));
        mx = fmaxf(mx, __shfl_xor_sync(LATHE_ALL, mx, 2));
        const float ms = mx == -LATHE_INF ? 0.0f : mx;
        float sum = 0.0f;
        #pragma unroll
        for (int n = 0; n < ${NB}; n++) {
          const float p0 = attn_ex2(sc[mt][n][2 * hf] - ms), p1 = attn_ex2(sc[mt][n][2 * hf + 1] - ms);
          sc[mt][n][2 * hf] = p0; sc[mt][n][2 * hf + 1] = p1;
          sum += p0 + p1;
        }
        if (mx != m[mt][hf]) { // the running max moved: rescale (a warp-uniform skip most of the time late in a row)
          const float alpha = attn_ex2(m[mt][hf] - ms);
          l[mt][hf] *= alpha;
          #pragma unroll
          for (int n = 0; n < ${NT}; n++) { o[mt][n][2 * hf] *= alpha; o[mt][n][2 * hf + 1] *= alpha; }
          m[mt][hf] = mx;
        }
        l[mt][hf] += sum;
      }
    #pragma unroll
    for (int mt = 0; mt < ${MT}; mt++)
      #pragma unroll
      for (int kk = 0; kk < ${BN / 16}; kk++) {
        pa[mt][kk][0] = ${pack}(sc[mt][2 * kk][0], sc[mt][2 * kk][1]);
        pa[mt][kk][1] = ${pack}(sc[mt][2 * kk][2], sc[mt][2 * kk][3]);
        pa[mt][kk][2] = ${pack}(sc[mt][2 * kk + 1][0], sc[mt][2 * kk + 1][1]);
        pa[mt][kk][3] = ${pack}(sc[mt][2 * kk + 1][2], sc[mt][2 * kk + 1][3]);
      }`;
  const pv = (vAddr: string) => `
    #pragma unroll
    for (int kk = 0; kk < ${BN / 16}; kk++)
      #pragma unroll
      for (int np = 0; np < ${NT / 2}; np++) {
        u32 vb[4];
        attn_ldm4t(vb, ${vAddr} + (u32)(aLane + kk * ${16 * SD} + np * 16) * 2u);
        #pragma unroll
        for (int mt = 0; mt < ${MT}; mt++) { ${mma}(o[mt][2 * np], pa[mt][kk], vb[0], vb[1]); ${mma}(o[mt][2 * np + 1], pa[mt][kk], vb[2], vb[3]); }
      }`;
  const loop = s.stages === 1 ? `
  if (kt0 < hi) ${loadKV('K', 'kt0', '')}
  attn_commit();
  for (int k0 = kt0; k0 < hi; k0 += ${BN}) {
    attn_wait<0>(); __syncthreads();
    ${loadKV('V', 'k0', '')}
    attn_commit();${qk('sK')}
    __syncthreads(); // every warp is done with K_j
    if (k0 + ${BN} < hi) ${loadKV('K', `k0 + ${BN}`, '')}
    attn_commit();${softmax}
    attn_wait<1>(); __syncthreads(); // V_j has landed (K_{j+1} may still be on its way)${pv('sV')}
  }` : `
  if (kt0 < hi) { ${loadKV('K', 'kt0', '')} ${loadKV('V', 'kt0', '')} }
  attn_commit();
  for (int k0 = kt0, st = 0; k0 < hi; k0 += ${BN}, st ^= 1) {
    const u32 stK = sK + (u32)st * ${stageBytes}u, stV = sV + (u32)st * ${stageBytes}u;
    if (k0 + ${BN} < hi) { const u32 sK1 = sK + (u32)(st ^ 1) * ${stageBytes}u, sV1 = sV + (u32)(st ^ 1) * ${stageBytes}u; ${loadKV('K', `k0 + ${BN}`, '1')} ${loadKV('V', `k0 + ${BN}`, '1')} }
    attn_commit();
    attn_wait<1>(); __syncthreads(); // tile j has landed; tile j + 1 is on its way${qk('stK')}${softmax}${pv('stV')}
    __syncthreads(); // every warp is done with this stage before it is refilled
  }`;
  const source = `${PRELUDE}${ATTN_HELPERS}${tileLoader(name, D, SD, T)}
extern "C" __global__ void __launch_bounds__(${T}) ${name}(u16* __restrict__ out, float* __restrict__ lse, float* __restrict__ opart, float* __restrict__ lsepart,
    const u16* __restrict__ q, const u16* __restrict__ k, const u16* __restrict__ v, ${maskParams(s)}, int chunk) {
  extern __shared__ __align__(16) u16 smem[];
  const u32 sK = attn_smem(smem), sV = sK + ${BN * SD * 2}u, sQ = sK + ${qOff}u;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, g = lane >> 2, t4 = lane & 3;
  const int rows = rep * L, shift = S - L;
  const int r0 = (int)(gridDim.x - 1 - blockIdx.x) * ${BM}; // heavy (late, causal) tiles first
  const int grp = blockIdx.y, b = grp / Hk, hk = grp - b * Hk;
  ${keyLimit(s)}
  ${positionRange(String(BM))}
  ${keyRange(s)}
  const i64 rowBase = (i64)grp * rows;
  const u16* kg = k + (i64)grp * S * ${D};
  const u16* vg = v + (i64)grp * S * ${D};
  // This thread's rows: g and g + 8 of each of its warp's 16-row tiles.
  int qp[${MT}][2]; bool rv[${MT}][2]; i64 mo[${MT}][2];
  #pragma unroll
  for (int mt = 0; mt < ${MT}; mt++)
    #pragma unroll
    for (int hf = 0; hf < 2; hf++) {
      const int rr = r0 + warp * ${16 * MT} + mt * 16 + g + hf * 8, hh = rr / L, ii = rr - hh * L;
      rv[mt][hf] = rr < rows; qp[mt][hf] = ii + shift;
      mo[mt][hf] = (i64)b * ms0 + (i64)(hk * rep + hh) * ms1 + (i64)ii * ms2;
    }
  // Lane offsets (in halves) of ldmatrix rows: A and trans-B operands, and non-trans B.
  const int aLane = (lane & 15) * ${SD} + (lane >> 4) * 8;
  const int bLane = ((lane & 7) + ((lane >> 4) << 3)) * ${SD} + ((lane >> 3) & 1) * 8;
  ${name}_tile<${BM}>(sQ, q + (rowBase + r0) * ${D}, rows - r0, q, tid);
  attn_commit();
${s.qreg ? `  u32 qa[${MT}][${KS}][4];
  attn_wait<0>(); __syncthreads();
  #pragma unroll
  for (int mt = 0; mt < ${MT}; mt++)
    #pragma unroll
    for (int ks = 0; ks < ${KS}; ks++) attn_ldm4(qa[mt][ks], sQ + (u32)(aLane + (warp * ${16 * MT} + mt * 16) * ${SD} + ks * 16) * 2u);
  __syncthreads();
` : ''}
  float o[${MT}][${NT}][4], m[${MT}][2], l[${MT}][2];
  #pragma unroll
  for (int mt = 0; mt < ${MT}; mt++) {
    #pragma unroll
    for (int n = 0; n < ${NT}; n++) o[mt][n][0] = o[mt][n][1] = o[mt][n][2] = o[mt][n][3] = 0.0f;
    m[mt][0] = m[mt][1] = -LATHE_INF; l[mt][0] = l[mt][1] = 0.0f;
  }
  const int kt0 = lo / ${BN} * ${BN};${loop}
  attn_wait<0>();
  #pragma unroll
  for (int mt = 0; mt < ${MT}; mt++)
    #pragma unroll
    for (int hf = 0; hf < 2; hf++) {
      float lr = l[mt][hf];
      lr += __shfl_xor_sync(LATHE_ALL, lr, 1);
      lr += __shfl_xor_sync(LATHE_ALL, lr, 2);
      if (!rv[mt][hf]) continue;
      const int rr = r0 + warp * ${16 * MT} + mt * 16 + g + hf * 8;
      const float inv = lr > 0.0f ? 1.0f / lr : 0.0f;
      const float ls = lr > 0.0f ? m[mt][hf] * ATTN_LN2 + logf(lr) : -LATHE_INF;
${s.split ? `      const i64 row = (i64)blockIdx.z * ((i64)gridDim.y * rows) + rowBase + rr;
      float* prow = opart + row * ${D} + 2 * t4;
      #pragma unroll
      for (int n = 0; n < ${NT}; n++) { Pack<float, 2> w_; w_.v[0] = o[mt][n][2 * hf] * inv; w_.v[1] = o[mt][n][2 * hf + 1] * inv; *(Pack<float, 2>*)(prow + n * 8) = w_; }
      if (t4 == 0) lsepart[row] = ls;` : `      const i64 row = rowBase + rr;
      u16* orow = out + row * ${D} + 2 * t4;
      #pragma unroll
      for (int n = 0; n < ${NT}; n++) *(u32*)(orow + n * 8) = ${pack}(o[mt][n][2 * hf] * inv, o[mt][n][2 * hf + 1] * inv);
      if (t4 == 0) lse[row] = ls;`}
    }
}
`;
  return { name, source };
}

export interface MmaBwdSpec extends MaskSpec {
  half: 'bf16' | 'f16';
  D: number;
  /** Warps per block: BN = 16·NW keys; BM query rows per step. */
  NW: number;
  BM: number;
  /** red.global.add.v2.f32 (sm_90) for the dQ accumulator, else scalar atomics. */
  vecRed: boolean;
  /** Two buffers for Q and dO: the next query tile loads during all of this one's work. */
  dbuf: boolean;
}

export const mmaBwdKey = (s: MmaBwdSpec): string =>
  `attn|bmma|${s.half}|${s.D}|${s.NW}x${s.BM}|${+s.vecRed}${+s.dbuf}|${maskKey(s)}`;

export function mmaBwdSmem(s: MmaBwdSpec): number {
  const SD = s.D + 8, BN = 16 * s.NW, stages = s.dbuf ? 2 : 1;
  return 2 * (2 * BN * SD + 2 * stages * s.BM * SD + BN * (s.BM + 8)) + stages * s.BM * (4 + 4 + 4 + 8);
}

export function renderMmaBwd(name: string, s: MmaBwdSpec): KernelSource {
  const { D, NW, BM } = s;
  const SD = D + 8, BN = 16 * NW, T = 32 * NW, NT = D / 8, KS = D / 16, NQ = BM / 8, SDS = BM + 8;
  const QS = BM / 16, PARTS = NW / QS; // dQ: warps over (16-query slabs) × (parts of D)
  const mma = `attn_mma_${s.half}`, pack = `attn_pack_${s.half}`;
  const stages = s.dbuf ? 2 : 1, QSTAGE = 2 * BM * SD * 2; // bytes of one Q and one dO tile
  const offV = BN * SD, offQ = 2 * BN * SD, offO = offQ + BM * SD, offS = offQ + stages * 2 * BM * SD, offF = offS + BN * SDS; // in halves
  const red = (p: string, a: string, b: string) => (s.vecRed
    ? `asm volatile("red.global.add.v2.f32 [%0], {%1, %2};" :: "l"(${p}), "f"(${a}), "f"(${b}) : "memory");`
    : `atomicAdd(${p}, ${a}); atomicAdd(${p} + 1, ${b});`);
  const source = `${PRELUDE}${ATTN_HELPERS}${tileLoader(name, D, SD, T)}
extern "C" __global__ void __launch_bounds__(${T}) ${name}(float* __restrict__ dqacc, u16* __restrict__ dk, u16* __restrict__ dv,
    const u16* __restrict__ q, const u16* __restrict__ k, const u16* __restrict__ v, const u16* __restrict__ dout,
    const float* __restrict__ lse, const float* __restrict__ dvec, ${maskParams(s)}) {
  extern __shared__ __align__(16) u16 smem[];
  const u32 sK = attn_smem(smem), sV = sK + ${offV * 2}u, sQ = sK + ${offQ * 2}u, sO = sK + ${offO * 2}u, sS = sK + ${offS * 2}u;
  u16* dSs = smem + ${offS};
  float* lse2S = (float*)(smem + ${offF});
  float* dvS = lse2S + ${stages * BM};
  int* qpS = (int*)(dvS + ${stages * BM});
  i64* moS = (i64*)(qpS + ${stages * BM});
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, g = lane >> 2, t4 = lane & 3;
  const int rows = rep * L, shift = S - L;
  const int k0 = blockIdx.x * ${BN};
  const int grp = blockIdx.y, b = grp / Hk, hk = grp - b * Hk;
  ${keyLimit(s)}
  const i64 rowBase = (i64)grp * rows;
  const int aLane = (lane & 15) * ${SD} + (lane >> 4) * 8;
  const int bLane = ((lane & 7) + ((lane >> 4) << 3)) * ${SD} + ((lane >> 3) & 1) * 8;
  float dka[${NT}][4], dva[${NT}][4];
  #pragma unroll
  for (int n = 0; n < ${NT}; n++) { dka[n][0] = dka[n][1] = dka[n][2] = dka[n][3] = 0.0f; dva[n][0] = dva[n][1] = dva[n][2] = dva[n][3] = 0.0f; }
  if (k0 < hiB) {
    const int kmax = min(hiB, k0 + ${BN}) - 1;
    ${name}_tile<${BN}>(sK, k + ((i64)grp * S + k0) * ${D}, hiB - k0, k, tid);
    ${name}_tile<${BN}>(sV, v + ((i64)grp * S + k0) * ${D}, hiB - k0, v, tid);
    const int nT = (rows + ${BM - 1}) / ${BM};
    // The next query tile at or after t with a row that may see one of keys [k0, kmax].
    auto next = [&](int t) {
      for (; t < nT; t++) {
        const int r0 = t * ${BM};
        ${positionRange(String(BM))}
        bool skip = false;${s.causal ? `
        skip = skip || pmax < k0;` : ''}${s.window ? `
        skip = skip || pmin - kmax >= window;` : ''}
        if (!skip) break;
      }
      return t;
    };
    auto loadTile = [&](int t, int sg) {
      const int r0 = t * ${BM};
      ${name}_tile<${BM}>(sQ + (u32)sg * ${QSTAGE}u, q + (rowBase + r0) * ${D}, rows - r0, q, tid);
      ${name}_tile<${BM}>(sO + (u32)sg * ${QSTAGE}u, dout + (rowBase + r0) * ${D}, rows - r0, dout, tid);
      if (tid < ${BM}) {
        const int rr = r0 + tid, hh = rr / L, ii = rr - hh * L, at = sg * ${BM} + tid;
        const float ls = rr < rows ? lse[rowBase + rr] : -LATHE_INF;
        lse2S[at] = ls == -LATHE_INF ? LATHE_INF : ls * ATTN_LOG2E; // empty and padding rows: P = 0
        dvS[at] = rr < rows ? dvec[rowBase + rr] : 0.0f;
        qpS[at] = ii + shift;
        moS[at] = (i64)b * ms0 + (i64)(hk * rep + hh) * ms1 + (i64)ii * ms2;
      }
    };
    int t = next(0), sg = 0;
    if (t < nT) loadTile(t, 0);
    attn_commit();${s.dbuf ? `
    int tn = t < nT ? next(t + 1) : nT;
    if (tn < nT) loadTile(tn, 1);
    attn_commit();` : ''}
    while (t < nT) {
      attn_wait<${s.dbuf ? 1 : 0}>(); __syncthreads();
      const int r0 = t * ${BM};
      const u32 cQ = sQ + (u32)sg * ${QSTAGE}u, cO = sO + (u32)sg * ${QSTAGE}u;
      const float* cl = lse2S + sg * ${BM}; const float* cd = dvS + sg * ${BM}; const int* cqp = qpS + sg * ${BM}; const i64* cmo = moS + sg * ${BM};
      ${positionRange(String(BM))}
      float st[${NQ}][4], dp[${NQ}][4];
      #pragma unroll
      for (int n = 0; n < ${NQ}; n++) { st[n][0] = st[n][1] = st[n][2] = st[n][3] = 0.0f; dp[n][0] = dp[n][1] = dp[n][2] = dp[n][3] = 0.0f; }
      #pragma unroll
      for (int ks = 0; ks < ${KS}; ks++) {
        u32 ka[4], va[4];
        attn_ldm4(ka, sK + (u32)(aLane + warp * ${16 * SD} + ks * 16) * 2u);
        attn_ldm4(va, sV + (u32)(aLane + warp * ${16 * SD} + ks * 16) * 2u);
        #pragma unroll
        for (int np = 0; np < ${NQ / 2}; np++) {
          u32 qb[4], ob[4];
          attn_ldm4(qb, cQ + (u32)(bLane + np * ${16 * SD} + ks * 16) * 2u);
          ${mma}(st[2 * np], ka, qb[0], qb[1]); ${mma}(st[2 * np + 1], ka, qb[2], qb[3]);
          attn_ldm4(ob, cO + (u32)(bLane + np * ${16 * SD} + ks * 16) * 2u);
          ${mma}(dp[2 * np], va, ob[0], ob[1]); ${mma}(dp[2 * np + 1], va, ob[2], ob[3]);
        }
      }
      // P (from lse) and dS = P ∘ (dP − rowsum(dO ∘ O)), transposed: rows are keys, columns queries.
      const bool full = ${s.mask === 'none' && !s.softcap ? `k0 + ${BN} <= hiB${s.causal ? ` && k0 + ${BN - 1} <= pmin` : ''}${s.window ? ' && pmax - k0 < window' : ''}` : 'false'};
      #pragma unroll
      for (int n = 0; n < ${NQ}; n++)
        #pragma unroll
        for (int e = 0; e < 4; e++) {
          const int key = k0 + warp * 16 + g + ((e >> 1) << 3), qc = n * 8 + 2 * t4 + (e & 1);
          float x, th = 0.0f;
          if (full) x = st[n][e] * sl2;
          else {
            const int qpos = cqp[qc];
            ${scoreCode(s, { acc: 'st[n][e]', key: 'key', qpos: 'qpos', moff: 'cmo[qc]', valid: `r0 + qc < rows`, lo: '0', hi: 'hiB', out: 'x', th: 'th' })}
          }
          const float p = attn_ex2(x - cl[qc]);
          float ds = p * (dp[n][e] - cd[qc]);${s.softcap ? `
          ds *= 1.0f - th * th;` : ''}
          st[n][e] = p; dp[n][e] = ds;
        }
      // dV += Pᵀ dO and dK += dSᵀ Q (scale applied at the end).
      #pragma unroll
      for (int kq = 0; kq < ${NQ / 2}; kq++) {
        const u32 pa[4] = { ${pack}(st[2 * kq][0], st[2 * kq][1]), ${pack}(st[2 * kq][2], st[2 * kq][3]), ${pack}(st[2 * kq + 1][0], st[2 * kq + 1][1]), ${pack}(st[2 * kq + 1][2], st[2 * kq + 1][3]) };
        const u32 sa[4] = { ${pack}(dp[2 * kq][0], dp[2 * kq][1]), ${pack}(dp[2 * kq][2], dp[2 * kq][3]), ${pack}(dp[2 * kq + 1][0], dp[2 * kq + 1][1]), ${pack}(dp[2 * kq + 1][2], dp[2 * kq + 1][3]) };
        #pragma unroll
        for (int np = 0; np < ${NT / 2}; np++) {
          u32 ob[4], qb[4];
          attn_ldm4t(ob, cO + (u32)(aLane + kq * ${16 * SD} + np * 16) * 2u);
          ${mma}(dva[2 * np], pa, ob[0], ob[1]); ${mma}(dva[2 * np + 1], pa, ob[2], ob[3]);
          attn_ldm4t(qb, cQ + (u32)(aLane + kq * ${16 * SD} + np * 16) * 2u);
          ${mma}(dka[2 * np], sa, qb[0], qb[1]); ${mma}(dka[2 * np + 1], sa, qb[2], qb[3]);
        }
      }
      #pragma unroll
      for (int n = 0; n < ${NQ}; n++) {
        *(u32*)(dSs + (warp * 16 + g) * ${SDS} + n * 8 + 2 * t4) = ${pack}(dp[n][0], dp[n][1]);
        *(u32*)(dSs + (warp * 16 + g + 8) * ${SDS} + n * 8 + 2 * t4) = ${pack}(dp[n][2], dp[n][3]);
      }
      __syncthreads(); // dSᵀ is complete; Q, dO and the row data are free
${s.dbuf ? `      const int tnn = tn < nT ? next(tn + 1) : nT;
      if (tnn < nT) loadTile(tnn, sg); // this stage's Q and dO are no longer read
      attn_commit();` : `      const int tn = next(t + 1);
      if (tn < nT) loadTile(tn, 0);
      attn_commit();`}
      // dQ += scale · dS K for 16 queries per warp (and a part of D).
      {
        const int qs = warp % ${QS}, part = warp / ${QS};
        const int qr = r0 + qs * 16 + g;
        if (r0 + qs * 16 < rows) {
          u32 da[${BN / 16}][4];
          #pragma unroll
          for (int kk = 0; kk < ${BN / 16}; kk++)
            attn_ldm4t(da[kk], sS + (u32)((kk * 16 + (lane & 7) + ((lane >> 4) << 3)) * ${SDS} + qs * 16 + ((lane >> 3) & 1) * 8) * 2u);
          for (int c0 = part * 2; c0 < ${D / 16}; c0 += ${PARTS * 2}) {
            float acc[4][4];
            #pragma unroll
            for (int n = 0; n < 4; n++) acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.0f;
            const bool two = c0 + 1 < ${D / 16};
            #pragma unroll
            for (int kk = 0; kk < ${BN / 16}; kk++) {
              u32 kb[4];
              attn_ldm4t(kb, sK + (u32)(aLane + kk * ${16 * SD} + c0 * 16) * 2u);
              ${mma}(acc[0], da[kk], kb[0], kb[1]); ${mma}(acc[1], da[kk], kb[2], kb[3]);
              if (two) {
                attn_ldm4t(kb, sK + (u32)(aLane + kk * ${16 * SD} + c0 * 16 + 16) * 2u);
                ${mma}(acc[2], da[kk], kb[0], kb[1]); ${mma}(acc[3], da[kk], kb[2], kb[3]);
              }
            }
            #pragma unroll
            for (int n = 0; n < 4; n++) {
              if (n >= 2 && !two) break;
              const int col = (c0 * 2 + n) * 8 + 2 * t4;
              if (qr < rows) { float* p_ = dqacc + (rowBase + qr) * ${D} + col; ${red('p_', 'acc[n][0] * scale', 'acc[n][1] * scale')} }
              if (qr + 8 < rows) { float* p_ = dqacc + (rowBase + qr + 8) * ${D} + col; ${red('p_', 'acc[n][2] * scale', 'acc[n][3] * scale')} }
            }
          }
        }
      }
      t = tn;${s.dbuf ? ' tn = tnn; sg ^= 1;' : ''}
    }
    attn_wait<0>();
  }
  #pragma unroll
  for (int hf = 0; hf < 2; hf++) {
    const int key = k0 + warp * 16 + g + hf * 8;
    if (key >= S) continue;
    u16* kr = dk + ((i64)grp * S + key) * ${D} + 2 * t4;
    u16* vr = dv + ((i64)grp * S + key) * ${D} + 2 * t4;
    #pragma unroll
    for (int n = 0; n < ${NT}; n++) {
      *(u32*)(kr + n * 8) = ${pack}(dka[n][2 * hf] * scale, dka[n][2 * hf + 1] * scale);
      *(u32*)(vr + n * 8) = ${pack}(dva[n][2 * hf], dva[n][2 * hf + 1]);
    }
  }
}
`;
  return { name, source };
}
