// Quantized matrix-vector products (4 and 8 bits, affine groups) for a few rows of x: the
// decode step of a quantized model. Each packed weight word is read once (16-byte loads
// where the weight is (N, K)), dequantized in registers and used by every row of x in the
// block (up to 8; more rows take more blocks, which share the weight through L2).
// Accumulation is float32; the reference is the CPU's quantizedMatmul
// (src/backend/cpu/kernels/quantize.ts), which these match up to float32 summation order.
//
// Integer fields become floats without int-to-float instructions (a quarter-rate pipe on
// sm_90): OR-ing a masked field into the mantissa of 2^23 and subtracting 2^23 gives the
// field exactly, scaled by its bit position's power of 16 (or 256); the partial sums per
// position are unscaled once per chunk (16 or 32 values). Per group,
// sum_k x·(s·q + b) = s·(x·q) + b·sum(x). Measured speed and what is left: docs/quantization.md.
import type { DType } from '../../../../core/dtype.js';
import type { QmmParams } from '../../../../core/ops/quantize.js';
import type { KernelSource } from '../../compiler.js';
import type { CudaArg, CudaBuffer, CudaContext } from '../../backend.js';
import { PRELUDE, stype, load, store } from '../ctypes.js';
import { broadcastStrides, sizeOf } from '../layout.js';

/** 2^23 + v as a float, minus 2^23: v exactly, for v < 2^23. */
const MAGIC = String.raw`
#ifndef LATHE_QMAGIC
#define LATHE_QMAGIC
__device__ __forceinline__ float qf(u32 v) { return __int_as_float(0x4B000000u | v) - 8388608.0f; }
#endif
`;

/** The raw 16-byte packs that hold `n` values of x (dtype `d`): their type and count. */
function xPack(n: number, d: DType): { type: string; count: number } {
  return d.name === 'float32' ? { type: 'Pack<float, 4>', count: n / 4 } : { type: 'Pack<u32, 4>', count: n / 8 };
}

/** Converts the packs `src` (see xPack) into the float array `dst`. */
function unpackX(src: string, dst: string, n: number, d: DType): string {
  if (d.name === 'float32') return `#pragma unroll
      for (int i = 0; i < ${n / 4}; i++) { ${[0, 1, 2, 3].map((e) => `${dst}[4 * i + ${e}] = ${src}[i].v[${e}];`).join(' ')} }`;
  const unpack = d.name === 'bfloat16'
    ? (w: string, e: number) => `${dst}[8 * i + ${2 * e}] = __uint_as_float(${w} << 16); ${dst}[8 * i + ${2 * e + 1}] = __uint_as_float(${w} & 0xffff0000u);`
    : (w: string, e: number) => `${dst}[8 * i + ${2 * e}] = ld_f16((u16)(${w} & 0xffffu)); ${dst}[8 * i + ${2 * e + 1}] = ld_f16((u16)(${w} >> 16));`;
  return `#pragma unroll
      for (int i = 0; i < ${n / 8}; i++) { ${[0, 1, 2, 3].map((e) => unpack(`${src}[i].v[${e}]`, e)).join(' ')} }`;
}

/** x · q over one 16-byte chunk of packed values (`q`: a Pack<u32, 4>; `xf`: its 128/bits floats). */
function chunkDot(bits: number): string {
  if (bits === 4) return String.raw`
#ifndef LATHE_QDOT4
#define LATHE_QDOT4
__device__ __forceinline__ float qdot4(const Pack<u32, 4>& q, const float* xf) {
  float p0 = 0.0f, p1 = 0.0f, p2 = 0.0f, p3 = 0.0f;
#pragma unroll
  for (int i = 0; i < 4; i++) {
    const u32 lo = q.v[i], hi = lo >> 16;
    const float* x = xf + 8 * i;
    p0 = __fmaf_rn(x[0], qf(lo & 0xFu), p0); p1 = __fmaf_rn(x[1], qf(lo & 0xF0u), p1);
    p2 = __fmaf_rn(x[2], qf(lo & 0xF00u), p2); p3 = __fmaf_rn(x[3], qf(lo & 0xF000u), p3);
    p0 = __fmaf_rn(x[4], qf(hi & 0xFu), p0); p1 = __fmaf_rn(x[5], qf(hi & 0xF0u), p1);
    p2 = __fmaf_rn(x[6], qf(hi & 0xF00u), p2); p3 = __fmaf_rn(x[7], qf(hi & 0xF000u), p3);
  }
  return __fmaf_rn(p3, 1.0f / 4096.0f, __fmaf_rn(p2, 1.0f / 256.0f, __fmaf_rn(p1, 1.0f / 16.0f, p0)));
}
#endif
`;
  return String.raw`
#ifndef LATHE_QDOT8
#define LATHE_QDOT8
__device__ __forceinline__ float qdot8(const Pack<u32, 4>& q, const float* xf) {
  float p0 = 0.0f, p1 = 0.0f;
#pragma unroll
  for (int i = 0; i < 4; i++) {
    const u32 lo = q.v[i], hi = lo >> 16;
    const float* x = xf + 4 * i;
    p0 = __fmaf_rn(x[0], qf(lo & 0xFFu), p0); p1 = __fmaf_rn(x[1], qf(lo & 0xFF00u), p1);
    p0 = __fmaf_rn(x[2], qf(hi & 0xFFu), p0); p1 = __fmaf_rn(x[3], qf(hi & 0xFF00u), p1);
  }
  return __fmaf_rn(p1, 1.0f / 256.0f, p0);
}
#endif
`;
}

/** Batch offsets: the out batch index z split over up to 4 dims, each operand's matrix stride per dim. */
const BATCH = String.raw`
    i64 xo = 0, wo = 0;
    for (int d = 3, r = z; d >= 0; d--) { const int c = r % bshape.v[d]; r /= bshape.v[d]; xo += c * xbs.v[d]; wo += c * wbs.v[d]; }`;

/** Threads per block of the (N, K) kernel: 4 warps. */
export const QMV_THREADS = 128;
/** Blocks per SM the (N, K) kernel is compiled for: 2 with 3 stages (up to 255 registers), else 3 (up to 170). */
export const qmvMinBlocks = (stages: number): number => (stages === 3 ? 2 : 3);

export interface QmvSpec {
  bits: 4 | 8;
  /** x's and out's dtype, and the scales' and biases'. */
  x: DType; s: DType;
  /** Lanes that share one weight row (a power of two up to 32), rows per lane group, x rows per block. */
  lanes: number; rows: number; mm: number;
  /** Chunks in registers per lane: 2 (one loading while one is used) or 3 (two loading). */
  stages: 2 | 3;
}

/**
 * out (batch, M, N) = x (batch, M, K) @ W^T with W (N, K) packed. A group of `lanes` lanes
 * owns `rows` weight rows and walks them in 16-byte chunks (lane l takes chunks l, l +
 * lanes, ...) through `stages` register stages: the next one or two chunks' weights,
 * scales, biases (and x, for one row of x) are loading while the current one is computed,
 * so each warp keeps a stream of loads in flight. The group's partial sums meet through
 * shuffles. Grid: (row tiles, batch, ceil(M / mm)), sized by the launcher so that every
 * warp is resident at once.
 */
export function renderQmvT(name: string, p: QmvSpec): KernelSource {
  const VPC = 128 / p.bits, xs = stype(p.x), ss = stype(p.s), xp = xPack(VPC, p.x);
  const prefetchX = p.mm === 1;
  const source = `${PRELUDE}${MAGIC}${chunkDot(p.bits)}
extern "C" __global__ void __launch_bounds__(${QMV_THREADS}, ${qmvMinBlocks(p.stages)}) ${name}(${xs}* __restrict__ out, const ${xs}* __restrict__ x, const u32* __restrict__ w,
    const ${ss}* __restrict__ scales, const ${ss}* __restrict__ biases, int M, int N, int K, int gShift, int batch,
    Vec<4, int> bshape, Vec<4, i64> xbs, Vec<4, i64> wbs) {
  constexpr int VPC = ${VPC}, LPR = ${p.lanes}, R = ${p.rows}, MM = ${p.mm}, XP = ${xp.count};
  const int lane = threadIdx.x & 31, l = lane % LPR;
  const int row0 = ((blockIdx.x * ${QMV_THREADS / 32} + (threadIdx.x >> 5)) * (32 / LPR) + lane / LPR) * R;
  const int C = K / VPC, G = K >> gShift, m0 = blockIdx.z * MM, mLeft = M - m0;
  struct Stage { Pack<u32, 4> q[R]; float s[R], b[R];${prefetchX ? ` ${xp.type} x[MM][XP];` : ''} };
  for (int z = blockIdx.y; z < batch; z += gridDim.y) {${BATCH}
    const ${xs}* xb = x + (xo * M + m0) * K;
    const Pack<u32, 4>* wb = (const Pack<u32, 4>*)w + wo * N * C;
    const ${ss}* sb = scales + wo * N * G;
    const ${ss}* bb = biases + wo * N * G;
    auto fetch = [&](Stage& st, int c) {
#pragma unroll
      for (int r = 0; r < R; r++) {
        const int row = row0 + r;
        if (c < C && row < N) {
          st.q[r] = wb[(i64)row * C + c];
          const i64 g = (i64)row * G + ((c * VPC) >> gShift);
          st.s[r] = ${load('sb[g]', p.s)}; st.b[r] = ${load('bb[g]', p.s)};
        } else {
          st.q[r].v[0] = st.q[r].v[1] = st.q[r].v[2] = st.q[r].v[3] = 0u;
          st.s[r] = 0.0f; st.b[r] = 0.0f;
        }
      }${prefetchX ? `
#pragma unroll
      for (int m = 0; m < MM; m++)
        if (c < C && m < mLeft) {
#pragma unroll
          for (int i = 0; i < XP; i++) st.x[m][i] = ((const ${xp.type}*)(xb + (i64)m * K + (i64)c * VPC))[i];
        }` : ''}
    };
    float acc[R][MM];
#pragma unroll
    for (int r = 0; r < R; r++)
#pragma unroll
      for (int m = 0; m < MM; m++) acc[r][m] = 0.0f;
    auto consume = [&](const Stage& st, int c) {
#pragma unroll
      for (int m = 0; m < MM; m++) {
        if (m >= mLeft) break;
        float xf[VPC];
${prefetchX ? `      ${unpackX('st.x[m]', 'xf', VPC, p.x)}` : `        ${xp.type} xr[XP];
#pragma unroll
        for (int i = 0; i < XP; i++) xr[i] = ((const ${xp.type}*)(xb + (i64)m * K + (i64)c * VPC))[i];
      ${unpackX('xr', 'xf', VPC, p.x)}`}
        float xsum = 0.0f;
#pragma unroll
        for (int i = 0; i < VPC; i++) xsum += xf[i];
#pragma unroll
        for (int r = 0; r < R; r++) acc[r][m] = __fmaf_rn(st.s[r], qdot${p.bits}(st.q[r], xf), __fmaf_rn(st.b[r], xsum, acc[r][m]));
      }
    };
${p.stages === 2 ? `    // Two stages in turn (no copies between them): fetch the next, then consume the current.
    Stage a, b;
    int c = l;
    fetch(a, c);
    while (c < C) {
      fetch(b, c + LPR); consume(a, c); c += LPR; if (c >= C) break;
      fetch(a, c + LPR); consume(b, c); c += LPR;
    }` : `    // Three stages in turn: at each step the chunk two ahead starts loading.
    Stage a, b, d;
    int c = l;
    fetch(a, c);
    fetch(b, c + LPR);
    while (c < C) {
      fetch(d, c + 2 * LPR); consume(a, c); c += LPR; if (c >= C) break;
      fetch(a, c + 2 * LPR); consume(b, c); c += LPR; if (c >= C) break;
      fetch(b, c + 2 * LPR); consume(d, c); c += LPR;
    }`}
#pragma unroll
    for (int r = 0; r < R; r++)
#pragma unroll
      for (int m = 0; m < MM; m++)
#pragma unroll
        for (int off = LPR / 2; off > 0; off >>= 1) acc[r][m] += __shfl_xor_sync(LATHE_ALL, acc[r][m], off);
    if (l == 0) {
      ${xs}* ob = out + ((i64)z * M + m0) * N;
#pragma unroll
      for (int r = 0; r < R; r++) {
        if (row0 + r >= N) break;
#pragma unroll
        for (int m = 0; m < MM; m++) if (m < mLeft) ob[(i64)m * N + row0 + r] = ${store('acc[r][m]', p.x)};
      }
    }
  }
}
`;
  return { name, source };
}

/** Threads per block of the (K, N) kernel. */
export const QMVN_THREADS = 256;
/** k rows each thread loads ahead in the (K, N) kernel (8 measured slower than 4 on an H200). */
export const qmvnUnroll = (_mm: number): number => 4;

/**
 * out (batch, M, N) = x (batch, M, K) @ W with W (K, N) packed (groups along N): a thread
 * owns one packed word of columns (8 at 4 bits, 4 at 8 bits) and walks k rows; the block's
 * rows of threads (blockDim.y) split k and are summed in shared memory. With split-K
 * (gridDim.z = mChunks * splits), float32 partials go to `part` [split][batch][M][N] and
 * renderQmvSum adds them in order. Grid: (column tiles, batch, mChunks * splits).
 */
export function renderQmvN(name: string, p: { bits: 4 | 8; x: DType; s: DType; mm: number; split: boolean }): KernelSource {
  const U = qmvnUnroll(p.mm);
  const VPW = 32 / p.bits, xs = stype(p.x), ss = stype(p.s);
  const field = (j: number) => (p.bits === 4 ? `${j < 4 ? 'lo' : 'hi'} & 0x${(0xF << (4 * (j % 4))).toString(16)}u` : `${j < 2 ? 'lo' : 'hi'} & 0x${(0xFF << (8 * (j % 2))).toString(16)}u`);
  const unit = (j: number) => (p.bits === 4 ? [1, 16, 256, 4096][j % 4] : [1, 256][j % 2]);
  const source = `${PRELUDE}${MAGIC}
extern "C" __global__ void __launch_bounds__(${QMVN_THREADS}) ${name}(float* __restrict__ part, ${xs}* __restrict__ out, const ${xs}* __restrict__ x,
    const u32* __restrict__ w, const ${ss}* __restrict__ scales, const ${ss}* __restrict__ biases, int M, int N, int K, int groupSize, int batch,
    Vec<4, int> bshape, Vec<4, i64> xbs, Vec<4, i64> wbs, int splits, int kPerSplit) {
  constexpr int VPW = ${VPW}, MM = ${p.mm}, U = ${U};
  __shared__ float red[${QMVN_THREADS} * VPW];
  const int Wn = N / VPW, Gn = N / groupSize, TX = blockDim.x, TY = blockDim.y;
  const int j = blockIdx.x * TX + threadIdx.x;
  const bool live = j < Wn;
  const int g = live ? (j * VPW) / groupSize : 0;
  const int split = blockIdx.z % splits, m0 = (blockIdx.z / splits) * MM, mLeft = M - m0;
  const int kb = split * kPerSplit, ke = min(K, kb + kPerSplit);
  for (int z = blockIdx.y; z < batch; z += gridDim.y) {${BATCH}
    const ${xs}* xb = x + (xo * M + m0) * K;
    const u32* wb = w + wo * K * Wn;
    const ${ss}* sb = scales + wo * K * Gn;
    const ${ss}* bb = biases + wo * K * Gn;
    // Column sums in units of each field's position (scaled back at the end), and x·bias.
    float acc[MM][VPW], accb[MM];
#pragma unroll
    for (int m = 0; m < MM; m++) {
      accb[m] = 0.0f;
#pragma unroll
      for (int e = 0; e < VPW; e++) acc[m][e] = 0.0f;
    }
    for (int k0 = kb + threadIdx.y; k0 < ke; k0 += TY * U) {
      u32 q[U];
      float sc[U], bi[U];
#pragma unroll
      for (int u = 0; u < U; u++) {
        const int k = k0 + u * TY;
        if (live && k < ke) {
          q[u] = wb[(i64)k * Wn + j];
          sc[u] = ${load('sb[(i64)k * Gn + g]', p.s)}; bi[u] = ${load('bb[(i64)k * Gn + g]', p.s)};
        } else { q[u] = 0u; sc[u] = 0.0f; bi[u] = 0.0f; }
      }
#pragma unroll
      for (int u = 0; u < U; u++) {
        const int k = k0 + u * TY;
        if (k >= ke) break;
        const u32 lo = q[u], hi = lo >> 16;
        const float f[VPW] = { ${Array.from({ length: VPW }, (_, e) => `qf(${field(e)})`).join(', ')} };
#pragma unroll
        for (int m = 0; m < MM; m++) {
          if (m >= mLeft) break;
          const float xv = ${load('xb[(i64)m * K + k]', p.x)}, xs = xv * sc[u];
          accb[m] = __fmaf_rn(xv, bi[u], accb[m]);
#pragma unroll
          for (int e = 0; e < VPW; e++) acc[m][e] = __fmaf_rn(xs, f[e], acc[m][e]);
        }
      }
    }
    const float unit[VPW] = { ${Array.from({ length: VPW }, (_, e) => `${(1 / unit(e)).toExponential()}f`).join(', ')} };
    const int t = threadIdx.y * TX + threadIdx.x;
#pragma unroll
    for (int m = 0; m < MM; m++) {
      if (m >= mLeft) break;
#pragma unroll
      for (int e = 0; e < VPW; e++) red[e * TX * TY + t] = __fmaf_rn(acc[m][e], unit[e], accb[m]);
      __syncthreads();
      if (threadIdx.y == 0 && live) {
        for (int e = 0; e < VPW; e++) {
          float v = 0.0f;
          for (int y = 0; y < TY; y++) v += red[e * TX * TY + y * TX + threadIdx.x];
          const i64 o = ((i64)z * M + m0 + m) * N + (i64)j * VPW + e;
          ${p.split ? 'part[(i64)split * batch * M * N + o] = v;' : `out[o] = ${store('v', p.x)};`}
        }
      }
      __syncthreads();
    }
  }
}
`;
  return { name, source };
}

/** out[i] = sum over s of part[s][i], in split order, rounded once to out's dtype. */
export function renderQmvSum(name: string, d: DType): KernelSource {
  const source = `${PRELUDE}
extern "C" __global__ void __launch_bounds__(256) ${name}(${stype(d)}* __restrict__ out, const float* __restrict__ part, i64 n, int splits) {
  for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (i64)gridDim.x * blockDim.x) {
    float v = 0.0f;
    for (int s = 0; s < splits; s++) v += part[(i64)s * n + i];
    out[i] = ${store('v', d)};
  }
}
`;
  return { name, source };
}

// ---------------------------------------------------------------- launches

const nextPow2 = (n: number) => 2 ** Math.ceil(Math.log2(Math.max(1, n)));
/** x rows per block: the smallest of 1, 2, 4, 8 that holds M (more rows take more blocks). */
const rowsOfX = (M: number) => (M <= 1 ? 1 : M <= 2 ? 2 : M <= 4 ? 4 : 8);

/** GEMV launches by layout (tests and benchmarks check which path ran). */
export const qmvLaunches = { t: 0, n: 0, splitK: 0 };
/** Overrides of the (N, K) GEMV's register stages and lanes per row, for benchmarks (0: chosen here). */
export const qmvTuning = { stages: 0, lanes: 0 };

interface Batch { count: number; shape: number[]; xs: number[]; ws: number[] }

/** The output batch as 4 dims (padded in front), with x's and the weight's matrix strides per dim. */
function batchOf(x: CudaArg, wq: CudaArg, outShape: readonly number[]): Batch | null {
  const ob = outShape.slice(0, -2);
  if (ob.length > 4) return null;
  const pad = (a: number[], v: number) => [...new Array<number>(4 - a.length).fill(v), ...a];
  return {
    count: sizeOf(ob), shape: pad(ob, 1),
    xs: pad(broadcastStrides(x.shape.slice(0, -2), ob), 0), ws: pad(broadcastStrides(wq.shape.slice(0, -2), ob), 0),
  };
}

/**
 * Lanes per weight row for the (N, K) kernel: the most (up to 32, and no more than the row's
 * chunks) that still fit every warp on the GPU at once (`resident` warps per SM), since a
 * warp streams its rows from start to end; never under 8 (128 contiguous bytes of a row per
 * load) unless rows are shorter.
 */
export function lanesPerRow(N: number, chunks: number, rows: number, blocks: number, sms: number, resident: number): number {
  const most = Math.min(32, 2 ** Math.floor(Math.log2(Math.max(1, chunks))));
  const least = Math.min(8, most);
  for (let lanes = most; lanes > least; lanes /= 2)
    if (Math.ceil(N / ((rows * 32) / lanes)) * blocks <= resident * sms) return lanes;
  return least;
}

/**
 * Runs x @ W (or W^T) through a GEMV kernel where one applies (4 or 8 bits, batch rank up
 * to 4, 16-byte aligned operands for the (N, K) layout); returns false otherwise.
 */
export function runQmv(ctx: CudaContext, x: CudaArg, wq: CudaArg, s: CudaArg, b: CudaArg, o: CudaBuffer, p: QmmParams, outShape: readonly number[]): boolean {
  if (p.bits !== 4 && p.bits !== 8) return false;
  const batch = batchOf(x, wq, outShape);
  if (!batch) return false;
  const bits = p.bits, nd = outShape.length;
  const M = outShape[nd - 2], N = outShape[nd - 1], K = x.shape[x.shape.length - 1];
  const mm = rowsOfX(M), mChunks = Math.ceil(M / mm), gy = Math.min(batch.count, 65535);
  const a = ctx.rt.args;
  if (p.transpose) {
    if (((x.buf.ptr | wq.buf.ptr) & 15n) !== 0n) return false;
    // One row of x (decode): 3 stages; more rows: 2 stages and 2 weight rows, as registers allow.
    const C = (K * bits) / 128, rows = mm === 1 ? 4 : 2, stages = qmvTuning.stages === 2 || qmvTuning.stages === 3 ? qmvTuning.stages : mm === 1 ? 3 : 2;
    const resident = (qmvMinBlocks(stages) * QMV_THREADS) / 32;
    const lanes = qmvTuning.lanes || lanesPerRow(N, C, rows, gy * mChunks, ctx.rt.info.sms, resident);
    const rowsPerBlock = (QMV_THREADS / 32) * (32 / lanes) * rows;
    const spec: QmvSpec = { bits, x: x.dtype, s: s.dtype, lanes, rows, mm, stages };
    const fn = ctx.kernels.get(`qmvT|${bits}|${x.dtype.name}|${s.dtype.name}|${lanes}|${rows}|${mm}|${stages}`,
      () => renderQmvT(`qmv_t${bits}_${x.dtype.name}`, spec));
    a.reset().ptr(o.ptr).ptr(x.buf.ptr).ptr(wq.buf.ptr).ptr(s.buf.ptr).ptr(b.buf.ptr).i32(M).i32(N).i32(K).i32(Math.log2(p.groupSize)).i32(batch.count)
      .vec(batch.shape, false).vec(batch.xs, true).vec(batch.ws, true);
    ctx.rt.launch(fn, [Math.ceil(N / rowsPerBlock), gy, mChunks], [QMV_THREADS, 1, 1]);
    qmvLaunches.t++;
    return true;
  }
  const words = (N * bits) / 32;
  const tx = Math.min(32, nextPow2(words)), ty = QMVN_THREADS / tx;
  // Too few blocks to keep enough loads in flight (a thread loads 4 bytes per k row; a short
  // N, as attention's values, gives few blocks): split k over blocks, up to 8 per SM.
  const blocks = Math.ceil(words / tx) * batch.count * mChunks, target = 8 * ctx.rt.info.sms;
  let splits = blocks >= target ? 1 : Math.min(Math.ceil(target / blocks), Math.max(1, Math.floor(K / (ty * qmvnUnroll(mm) * 2))));
  const kPerSplit = Math.ceil(K / splits);
  splits = Math.ceil(K / kPerSplit);
  const total = batch.count * M * N;
  const part = splits > 1 ? ctx.temp(splits * total * 4) : null;
  const fn = ctx.kernels.get(`qmvN|${bits}|${x.dtype.name}|${s.dtype.name}|${mm}|${part !== null}`,
    () => renderQmvN(`qmv_n${bits}_${x.dtype.name}`, { bits, x: x.dtype, s: s.dtype, mm, split: part !== null }));
  a.reset().ptr(part?.ptr ?? 0n).ptr(o.ptr).ptr(x.buf.ptr).ptr(wq.buf.ptr).ptr(s.buf.ptr).ptr(b.buf.ptr).i32(M).i32(N).i32(K).i32(p.groupSize)
    .i32(batch.count).vec(batch.shape, false).vec(batch.xs, true).vec(batch.ws, true).i32(splits).i32(kPerSplit);
  ctx.rt.launch(fn, [Math.ceil(words / tx), gy, mChunks * splits], [tx, ty, 1]);
  qmvLaunches.n++;
  if (part) {
    qmvLaunches.splitK++;
    const sum = ctx.kernels.get(`qmvSum|${x.dtype.name}`, () => renderQmvSum(`qmv_sum_${x.dtype.name}`, x.dtype));
    a.reset().ptr(o.ptr).ptr(part.ptr).i64(total).i32(splits);
    ctx.rt.launch(sum, [ctx.rt.gridFor(total), 1, 1], [256, 1, 1]);
  }
  return true;
}
