// Pieces shared by the CUDA attention kernels (attention-mma.ts, attention-simt.ts): what a
// kernel is specialized on, the PTX helpers (cp.async, ldmatrix, mma.sync, exp2), and the
// one C block that turns a raw q·k into a final log2-domain score with every mask kind, so
// all kernels mask exactly as src/backend/cpu/kernels/fast/attention.ts does.
import type { DType } from '../../../../core/dtype.js';
import { load, stype } from '../ctypes.js';

/** The masking a kernel is compiled for (runtime values: scale, cap, window, strides, lengths). */
export interface MaskSpec {
  causal: boolean;
  window: boolean;
  softcap: boolean;
  mask: 'none' | 'bool' | 'additive';
  /** The mask array's dtype (bool, or a float for additive masks); null without one. */
  maskDtype: DType | null;
  /** keyLengths' dtype; null without them. */
  lens: DType | null;
}

export const maskKey = (m: MaskSpec): string =>
  `${+m.causal}${+m.window}${+m.softcap}|${m.mask}:${m.maskDtype?.name ?? '-'}|${m.lens?.name ?? '-'}`;

/** Parameters every attention kernel takes after its arrays (mask and lengths pointers first). */
export const maskParams = (m: MaskSpec): string =>
  `const ${m.maskDtype ? stype(m.maskDtype) : 'u8'}* __restrict__ mask, const ${m.lens ? stype(m.lens) : 'i32'}* __restrict__ lens,
    int L, int S, int Hk, int rep, i64 ms0, i64 ms1, i64 ms2, i64 ms3, float scale, float sl2, float cap, int window`;

/** `hiB`: the keys batch row b may see at all, [0, hiB), from its key length. */
export const keyLimit = (m: MaskSpec): string => m.lens
  ? `int hiB = S; { const i64 n_ = (i64)(${load('lens[b]', m.lens)}); hiB = n_ < 0 ? 0 : (n_ < (i64)S ? (int)n_ : S); }`
  : 'const int hiB = S;';

/**
 * Query positions pmin..pmax of grouped rows [r0, r0 + BM) (rows of rep heads × L queries
 * share a key/value head); a block straddling two heads takes the whole range.
 */
export const positionRange = (BM: string): string => `const int rlast_ = min(r0 + ${BM}, rows) - 1;
    int pmin = shift, pmax = L - 1 + shift;
    if (r0 / L == rlast_ / L) { pmin = r0 % L + shift; pmax = rlast_ % L + shift; }`;

/**
 * The keys [lo, hi) a forward block visits: up to the key limit, cut by causality (its last
 * query's position) and the window (its first query's), and to its chunk when keys are split.
 */
export const keyRange = (s: MaskSpec & { split: boolean }): string => `int lo = 0, hi = hiB;${s.causal ? `
  hi = min(hi, pmax + 1);` : ''}${s.window ? `
  lo = max(lo, pmin - window + 1);` : ''}${s.split ? `
  lo = max(lo, (int)blockIdx.z * chunk); hi = min(hi, ((int)blockIdx.z + 1) * chunk);` : ''}`;

/**
 * Sets `out` to the log2-domain final score of raw dot product `acc` for a query at `qpos`
 * (mask row offset `moff`) and key `key`, or −inf where the key is not allowed: soft cap,
 * then causal/window/length/boolean masks, then the additive mask, as the CPU kernel.
 * With `th`, keeps tanh(s / cap) there for the backward pass.
 */
export function scoreCode(m: MaskSpec, o: { acc: string; key: string; qpos: string; moff: string; valid: string; lo: string; hi: string; out: string; th?: string }): string {
  const at = `mask[${o.moff} + (i64)(${o.key}) * ms3]`;
  const conds = [o.valid, `${o.key} >= ${o.lo}`, `${o.key} < ${o.hi}`];
  if (m.causal) conds.push(`${o.key} <= ${o.qpos}`);
  if (m.window) conds.push(`${o.qpos} - ${o.key} < window`);
  return `{
      bool ok_ = ${conds.join(' && ')};
      float s_ = ${o.acc} * scale;${m.softcap ? `
      { const float t_ = tanhf(s_ / cap);${o.th ? ` ${o.th} = t_;` : ''} s_ = cap * t_; }` : ''}${m.mask === 'bool' ? `
      if (ok_) ok_ = ${at} != 0;` : m.mask === 'additive' ? `
      if (ok_) s_ += ${load(at, m.maskDtype!)};` : ''}
      ${o.out} = ok_ ? s_ * ATTN_LOG2E : -LATHE_INF;
    }`;
}

/** PTX helpers; guarded so sources can be concatenated (the nvcc test). */
export const ATTN_HELPERS = String.raw`#ifndef LATHE_ATTN
#define LATHE_ATTN
#define ATTN_LOG2E 1.4426950408889634f
#define ATTN_LN2 0.6931471805599453f
__device__ __forceinline__ float attn_ex2(float x) { float y; asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x)); return y; }
__device__ __forceinline__ u32 attn_smem(const void* p) {
  u32 a; asm("{ .reg .u64 t; cvta.to.shared.u64 t, %1; cvt.u32.u64 %0, t; }" : "=r"(a) : "l"(p)); return a;
}
// 16 bytes global -> shared, asynchronously; bytes = 0 fills zeros and reads nothing.
__device__ __forceinline__ void attn_cp16(u32 dst, const void* src, int bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" :: "r"(dst), "l"(src), "r"(bytes) : "memory");
}
__device__ __forceinline__ void attn_commit() { asm volatile("cp.async.commit_group;" ::: "memory"); }
template <int N> __device__ __forceinline__ void attn_wait() { asm volatile("cp.async.wait_group %0;" :: "n"(N) : "memory"); }
__device__ __forceinline__ void attn_ldm4(u32 (&r)[4], u32 addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];" : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(addr) : "memory");
}
__device__ __forceinline__ void attn_ldm4t(u32 (&r)[4], u32 addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];" : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(addr) : "memory");
}
// D (16x8 f32) += A (16x16, row) B (16x8, col); the fragment layouts of the PTX ISA.
__device__ __forceinline__ void attn_mma_bf16(float (&c)[4], const u32 (&a)[4], u32 b0, u32 b1) {
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
    : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3]) : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
__device__ __forceinline__ void attn_mma_f16(float (&c)[4], const u32 (&a)[4], u32 b0, u32 b1) {
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};"
    : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3]) : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
// Two floats as one register of halves; the lower column in the low 16 bits.
__device__ __forceinline__ u32 attn_pack_bf16(float lo, float hi) { u32 r; asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo)); return r; }
__device__ __forceinline__ u32 attn_pack_f16(float lo, float hi) { u32 r; asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo)); return r; }
#endif
`;
