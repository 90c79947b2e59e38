// Float matrix-vector products for a few rows of x: y (M, N) = x (M, K) @ W^T with W (N, K)
// row-major (a Linear's weight; a (K, 1) b is the same memory) and M <= 4: the decode step.
// cuBLAS's batch-1 GEMVs read small weights at a fraction of HBM bandwidth (0.3-2 TB/s below
// 32 MB on an H200); this kernel is built for bandwidth: a team of T threads owns one weight row, each
// thread issues all U of its 16-byte loads of a round before the first FMA (so a warp has
// U x 512 bytes in flight), halves become floats by shifts (bf16) or one cvt (f16), sums are
// float32, and the team meets through shuffles (and shared memory when T > 32). K is split
// only inside a block, never across blocks: deterministic and one launch (graph-friendly).
// The reference is the CPU's matmul (src/backend/cpu/kernels/linalg.ts), matched up to
// float32 summation order; matmul.ts calls runGemv before cuBLAS.
//
// The same kernel, fused (renderGemvFused), runs compile()'s 'fusedLinear' nodes
// (core/transforms/fuse-linear.ts, whose reference is the unfused composition): several
// weights of one x in one launch (each team finds its weight by its row), gate and up
// together with act(gate)·up written, or x @ W^T + r. Each weight's team is the one runGemv
// picks for it and each result is rounded where the unfused kernels store it, so results
// are bit-identical to matmul + the glu/add kernels; where that cannot hold (teams differ,
// unaligned operands, K not in 16-byte chunks) the node runs those kernels instead.
import type { DType } from '../../../core/dtype.js';
import type { Spec } from '../../../core/primitive.js';
import type { FusedLinearParams, GluAct } from '../../../core/transforms/fuse-linear.js';
import { registerLinearFusion } from '../../../core/backend.js';
import type { KernelSource } from '../compiler.js';
import { registerCudaKernels, cudaKernel, type CudaArg, type CudaBuffer, type CudaContext, type CudaKernel } from '../backend.js';
import { PRELUDE, stype, store, load } from './ctypes.js';
import { sizeOf } from './layout.js';

/** Threads per block at most (the kernel's launch bound). */
const MAX_THREADS = 256;

export interface GemvSpec {
  /** x's, W's and y's dtype: float32, float16 or bfloat16. */
  dtype: DType;
  /** Rows of x (1 to 4). */
  mm: number;
  /** Threads per weight row (a power of two, 1 to 256); above 32 the warps meet in shared memory. */
  team: number;
  /** 16-byte weight loads each thread issues per round before computing. */
  unroll: number;
}

/** Weight loads through the non-coherent path without allocating in L1 (kept for x). */
const LOAD = String.raw`
#ifndef LATHE_GEMV_LD
#define LATHE_GEMV_LD
__device__ __forceinline__ Pack<u32, 4> gemv_ldw(const Pack<u32, 4>* p) {
  Pack<u32, 4> r;
  asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];" : "=r"(r.v[0]), "=r"(r.v[1]), "=r"(r.v[2]), "=r"(r.v[3]) : "l"(p));
  return r;
}
#endif
`;

/** acc += w · x over one 16-byte chunk (raw words `w` and `x`) of dtype `d`. */
function dot(d: DType, acc: string, w: string, x: string): string {
  const terms: string[] = [];
  for (let i = 0; i < 4; i++) {
    const wi = `${w}.v[${i}]`, xi = `${x}.v[${i}]`;
    if (d.name === 'float32') terms.push(`${acc} = __fmaf_rn(__uint_as_float(${wi}), __uint_as_float(${xi}), ${acc});`);
    else if (d.name === 'bfloat16') terms.push(
      `${acc} = __fmaf_rn(__uint_as_float(${wi} << 16), __uint_as_float(${xi} << 16), ${acc});`,
      `${acc} = __fmaf_rn(__uint_as_float(${wi} & 0xffff0000u), __uint_as_float(${xi} & 0xffff0000u), ${acc});`);
    else terms.push(
      `${acc} = __fmaf_rn(ld_f16((u16)(${wi} & 0xffffu)), ld_f16((u16)(${xi} & 0xffffu)), ${acc});`,
      `${acc} = __fmaf_rn(ld_f16((u16)(${wi} >> 16)), ld_f16((u16)(${xi} >> 16)), ${acc});`);
  }
  return terms.join(' ');
}

/**
 * y (MM, N) = x (MM, K) @ W^T, W (N, K): C = K / (16 / size) chunks of 16 bytes per row.
 * Thread t of a team takes chunks t, t + T, ... in rounds of U (full rounds unpredicated,
 * one predicated tail round). Block: any multiple of T up to 256 threads, one row per team.
 * It is the fused kernel below with one weight and no epilogue; its parameters are
 * (x, C, y, w, N).
 */
export function renderGemv(name: string, p: GemvSpec): KernelSource {
  return renderGemvFused(name, { ...p, weights: 1, epilogue: 'none' });
}

// ---------------------------------------------------------------- fused

export interface GemvFusedSpec extends GemvSpec {
  /** 'none': `weights` weights, one output each; 'glu': gate and up; 'residual': one weight and r. */
  epilogue: FusedLinearParams['epilogue'];
  weights: number;
  /** 'glu': the activation of the gate. */
  act?: GluAct;
}

/**
 * act(v) exactly as the glu kernel computes it (kernels/fast/glu.ts, `ACT`; NVRTC runs with
 * --fmad=false, so the same expression rounds the same way); test/cuda/gemv-fused.test.ts
 * checks the two bit for bit.
 */
const ACT: Record<GluAct, string> = {
  silu: 'v / (1.0f + expf(-v))',
  gelu: '0.5f * v * (1.0f + erff(v * 0.70710678118654752f))',
  geluTanh: '0.5f * v * (1.0f + tanhf(0.79788456080286536f * (v + 0.044715f * v * v * v)))',
};

/**
 * renderGemv's kernel over several weights (fuse-linear.ts): the global row r picks the
 * weight ('none': the first j with r < e_j, row r - e_{j-1} of it) or, for 'glu', the team
 * reads row r of both weights (2U loads in flight) into two sums. Per sum, chunk order,
 * FMAs and the team's shuffle tree are renderGemv's, so each sum is bit-identical to it for
 * the same T. Epilogues round as the unfused kernels store: 'glu' act(rd(g))·rd(u) as
 * glu.ts; 'residual' rd(rd(acc) + r) as add.
 */
export function renderGemvFused(name: string, p: GemvFusedSpec): KernelSource {
  const { mm: MM, team: T, unroll: U, weights: NW, epilogue } = p;
  const NA = epilogue === 'glu' ? 2 : 1;
  const L = Math.min(T, 32), W = Math.max(1, T / 32);
  const d = p.dtype, s = stype(d);
  const P = 'const Pack<u32, 4>* __restrict__';
  const rd = (v: string) => load(store(v, d), d); // a float rounded to the dtype and back
  let params: string, pick: string;
  if (epilogue === 'none') {
    params = Array.from({ length: NW }, (_, j) => `${s}* __restrict__ y${j}, ${P} w${j}, int e${j}`).join(', ');
    pick = `  ${s}* y = nullptr;
  const Pack<u32, 4>* wr[1] = { nullptr };
  int n = -1, N = 0;
  ${Array.from({ length: NW }, (_, j) => `${j ? 'else ' : ''}if (r < e${j}) { y = y${j}; wr[0] = w${j}; n = r${j ? ` - e${j - 1}` : ''}; N = e${j}${j ? ` - e${j - 1}` : ''}; }`).join('\n  ')}`;
  } else {
    params = `${s}* __restrict__ y, ${P} wa, ${epilogue === 'glu' ? `${P} wb` : `const ${s}* __restrict__ res`}, int N`;
    pick = `  const int n = r < N ? r : -1;
  const Pack<u32, 4>* wr[${NA}] = { wa${NA === 2 ? ', wb' : ''} };`;
  }
  const at = '(i64)m * N + n';
  const write = epilogue === 'none' ? `y[${at}] = ${store('v[0]', d)};`
    : epilogue === 'glu' ? `y[${at}] = ${store(`${name}_act(${rd('v[0]')}) * ${rd('v[1]')}`, d)};`
    : `y[${at}] = ${store(`${rd('v[0]')} + ${load(`res[${at}]`, d)}`, d)};`;
  const round = (pred: boolean) => `
      Pack<u32, 4> q[NA][U];
#pragma unroll
      for (int u = 0; u < U; u++)
#pragma unroll
        for (int a = 0; a < NA; a++) {
          ${pred ? 'if (c0 + u * T < C) q[a][u] = gemv_ldw(wr[a] + c0 + u * T); else q[a][u].v[0] = q[a][u].v[1] = q[a][u].v[2] = q[a][u].v[3] = 0u;' : 'q[a][u] = gemv_ldw(wr[a] + c0 + u * T);'}
        }
#pragma unroll
      for (int u = 0; u < U; u++) {
        ${pred ? 'if (c0 + u * T >= C) break;' : ''}
#pragma unroll
        for (int m = 0; m < MM; m++) {
          const Pack<u32, 4> xv = x[(i64)m * C + c0 + u * T];
#pragma unroll
          for (int a = 0; a < NA; a++) { ${dot(d, 'acc[a][m]', 'q[a][u]', 'xv')} }
        }
      }`;
  const source = `${PRELUDE}${LOAD}${epilogue === 'glu' ? `
__device__ __forceinline__ float ${name}_act(float v) { return ${ACT[p.act ?? 'silu']}; }` : ''}
extern "C" __global__ void __launch_bounds__(${MAX_THREADS}) ${name}(const Pack<u32, 4>* __restrict__ x, int C, ${params}) {
  constexpr int MM = ${MM}, T = ${T}, U = ${U}, NA = ${NA};
  const int t = threadIdx.x % T;
  const int r = blockIdx.x * (blockDim.x / T) + threadIdx.x / T;
${pick}
  float acc[NA][MM];
#pragma unroll
  for (int a = 0; a < NA; a++)
#pragma unroll
    for (int m = 0; m < MM; m++) acc[a][m] = 0.0f;
  if (n >= 0) {
#pragma unroll
    for (int a = 0; a < NA; a++) wr[a] += (i64)n * C;
    int c0 = t;
    for (; c0 + (U - 1) * T < C; c0 += U * T) {${round(false)}
    }
    if (c0 < C) {${round(true)}
    }
  }
  // Every lane shuffles (a warp may hold teams past the last row).
#pragma unroll
  for (int a = 0; a < NA; a++)
#pragma unroll
    for (int m = 0; m < MM; m++)
#pragma unroll
      for (int off = ${L / 2}; off > 0; off >>= 1) acc[a][m] += __shfl_xor_sync(LATHE_ALL, acc[a][m], off);
${W > 1 ? `  __shared__ float part[NA][MM][${MAX_THREADS / 32}];
  const int warp = threadIdx.x >> 5;
  if ((threadIdx.x & 31) == 0) {
#pragma unroll
    for (int a = 0; a < NA; a++)
#pragma unroll
      for (int m = 0; m < MM; m++) part[a][m][warp] = acc[a][m];
  }
  __syncthreads();
  if (t == 0 && n >= 0) {
#pragma unroll
    for (int m = 0; m < MM; m++) {
      float v[NA];
#pragma unroll
      for (int a = 0; a < NA; a++) {
        v[a] = part[a][m][warp];
#pragma unroll
        for (int j = 1; j < ${W}; j++) v[a] += part[a][m][warp + j];
      }
      ${write}
    }
  }` : `  if (t == 0 && n >= 0) {
#pragma unroll
    for (int m = 0; m < MM; m++) {
      float v[NA];
#pragma unroll
      for (int a = 0; a < NA; a++) v[a] = acc[a][m];
      ${write}
    }
  }`}
}
`;
  return { name, source };
}

// ---------------------------------------------------------------- launches

/** GEMV launches, fused GEMV launches, and fusedLinear nodes run as unfused kernels (tests and benchmarks check which path ran). */
export const gemvLaunches = { count: 0, fused: 0, unfused: 0 };

/**
 * Switches and overrides, for benchmarks: `enabled` false sends every product to cuBLAS
 * (LATHE_CUDA_GEMV=0); `team` and `unroll` replace the chosen threads per row and loads per
 * round (0: chosen here); `fusedUnroll` replaces the fused kernel's loads per weight per
 * round alone (it changes no result: the team does).
 */
export const gemvTuning = { enabled: process.env.LATHE_CUDA_GEMV !== '0', team: 0, unroll: 0, fusedUnroll: 0 };

const floorPow2 = (n: number) => 2 ** Math.floor(Math.log2(Math.max(1, n)));

/**
 * Threads per row and per block for N rows of C chunks. Rows start with a warp each (fewer
 * threads for rows of under 32 chunks); rows are split further (up to 256 threads) while
 * the grid holds under ~1024 threads per SM and each thread keeps at least one full round
 * of U loads. Blocks shrink (to 64 threads, or one team) until there are 2 per SM, so
 * small N still spreads its loads over every SM.
 */
export function gemvShape(N: number, C: number, U: number, sms: number): { team: number; threads: number } {
  let team = Math.min(32, floorPow2(C));
  while (team < MAX_THREADS && N * team < sms * 1024 && C >= 2 * team * U) team *= 2;
  return { team, threads: gemvBlock(N, team, sms) };
}

/** Threads per block for N rows in teams of `team`: 256, halved (to 64, or one team) until there are 2 blocks per SM. */
export function gemvBlock(N: number, team: number, sms: number): number {
  let threads = MAX_THREADS;
  while (threads > Math.max(team, 64) && Math.ceil(N / (threads / team)) < 2 * sms) threads /= 2;
  return threads;
}

/**
 * y (rows, N) = x (rows, K) @ W^T (W (N, K) row-major, all dense) through the GEMV kernel
 * when it applies: 1 to 4 rows, float32/float16/bfloat16, K a whole number of 16-byte
 * chunks and both operands 16-byte aligned. Returns false to leave the product to cuBLAS.
 */
export function runGemv(ctx: CudaContext, y: bigint, x: bigint, w: bigint, rows: number, N: number, K: number, dtype: DType): boolean {
  if (!gemvTuning.enabled || rows < 1 || rows > 4) return false;
  if (dtype.name !== 'float32' && dtype.name !== 'float16' && dtype.name !== 'bfloat16') return false;
  const vec = 16 / dtype.size;
  if (K % vec !== 0 || ((x | w) & 15n) !== 0n) return false;
  const C = K / vec;
  const unroll = gemvTuning.unroll || 8;
  const shape = gemvShape(N, C, unroll, ctx.rt.info.sms);
  const team = gemvTuning.team || shape.team;
  const threads = gemvTuning.team ? Math.max(team, Math.min(MAX_THREADS, shape.threads)) : shape.threads;
  const fn = ctx.kernels.get(`gemv|${dtype.name}|${rows}|${team}|${unroll}`,
    () => renderGemv(`gemv_${dtype.name}_${rows}`, { dtype, mm: rows, team, unroll }));
  ctx.rt.args.reset().ptr(x).i32(C).ptr(y).ptr(w).i32(N);
  ctx.rt.launch(fn, [Math.ceil(N / (threads / team)), 1, 1], [threads, 1, 1]);
  gemvLaunches.count++;
  return true;
}

// ---------------------------------------------------------------- fusedLinear

const FLOATS = new Set(['float32', 'float16', 'bfloat16']);

/**
 * A fusedLinear node as one fused GEMV launch, or null when the kernel cannot give the
 * unfused result bit for bit (the caller then runs the unfused kernels).
 */
function runFusedLinear(ctx: CudaContext, ins: CudaArg[], specs: Spec[], p: FusedLinearParams): CudaBuffer[] | null {
  const [x, ...rest] = ins;
  const ws = rest.slice(0, p.weights), r = p.epilogue === 'residual' ? rest[p.weights] : null;
  const dtype = x.dtype, K = x.shape[x.shape.length - 1];
  if (!gemvTuning.enabled || !FLOATS.has(dtype.name) || K < 1 || ws.some((w) => w.dtype !== dtype) || specs.some((o) => o.dtype !== dtype)) return null;
  const rows = sizeOf(x.shape) / K, vec = 16 / dtype.size;
  if (rows < 1 || rows > 4 || K % vec !== 0 || ws.some((w) => w.shape[w.shape.length - 1] !== K)) return null;
  if ([x, ...ws].some((a) => (a.buf.ptr & 15n) !== 0n)) return null;
  const Ns = ws.map((w) => w.shape[w.shape.length - 2]);
  if (ws.some((w, j) => sizeOf(w.shape) !== Ns[j] * K)) return null;
  if (p.epilogue === 'glu' && Ns[1] !== Ns[0]) return null;
  if (r && (r.dtype !== dtype || sizeOf(r.shape) !== rows * Ns[0])) return null;
  const C = K / vec, sms = ctx.rt.info.sms;
  // The team runGemv would give each weight alone: the same sums, bit for bit.
  const u0 = gemvTuning.unroll || 8;
  const teams = Ns.map((N) => gemvTuning.team || gemvShape(N, C, u0, sms).team);
  if (teams.some((t) => t !== teams[0])) return null;
  const team = teams[0], unroll = gemvTuning.fusedUnroll || u0;
  const total = p.epilogue === 'none' ? Ns.reduce((a, b) => a + b, 0) : Ns[0];
  const threads = gemvBlock(total, team, sms);
  const outs = specs.map((o) => ctx.alloc(o));
  const tag = p.epilogue === 'none' ? `${p.weights}` : p.epilogue === 'glu' ? p.act ?? 'silu' : 'res';
  const fn = ctx.kernels.get(`gemvf|${dtype.name}|${rows}|${team}|${unroll}|${p.epilogue}|${tag}`,
    () => renderGemvFused(`gemv_${p.epilogue}_${tag}_${dtype.name}_${rows}`, { dtype, mm: rows, team, unroll, weights: p.weights, epilogue: p.epilogue, act: p.act }));
  const a = ctx.rt.args.reset().ptr(x.buf.ptr).i32(C);
  if (p.epilogue === 'none') {
    let end = 0;
    ws.forEach((w, j) => { end += Ns[j]; a.ptr(outs[j].ptr).ptr(w.buf.ptr).i32(end); });
  } else a.ptr(outs[0].ptr).ptr(ws[0].buf.ptr).ptr(r ? r.buf.ptr : ws[1].buf.ptr).i32(Ns[0]);
  ctx.rt.launch(fn, [Math.ceil(total / (threads / team)), 1, 1], [threads, 1, 1]);
  gemvLaunches.fused++;
  return outs;
}

function kernelOf(name: string): CudaKernel {
  const k = cudaKernel(name);
  if (!k) throw new Error(`[fusedLinear] the CUDA backend has no '${name}' kernel to fall back on`);
  return k;
}

/** The unfused launches: matmul per weight (GEMV or cuBLAS), then the glu or add kernel. */
function unfusedLinear(ctx: CudaContext, ins: CudaArg[], specs: Spec[], p: FusedLinearParams): CudaBuffer[] {
  const [x, ...rest] = ins;
  gemvLaunches.unfused++;
  const ys = rest.slice(0, p.weights).map((w, j) => kernelOf('matmul')([x, w], [specs[p.epilogue === 'none' ? j : 0]], p.matmul as never, ctx)[0]);
  if (p.epilogue === 'none') return ys;
  const arg = (buf: CudaBuffer): CudaArg => ({ buf, shape: specs[0].shape, dtype: specs[0].dtype });
  if (p.epilogue === 'residual') return kernelOf('add')([arg(ys[0]), rest[p.weights]], specs, {} as never, ctx);
  return kernelOf(p.glu ?? 'swiglu')([arg(ys[0]), arg(ys[1])], specs, { act: p.act } as never, ctx);
}

const fusedLinear: CudaKernel = (ins, specs, p: FusedLinearParams, ctx) => runFusedLinear(ctx, ins, specs, p) ?? unfusedLinear(ctx, ins, specs, p);

// Loaded with matmul.ts, which imports this module.
registerCudaKernels({ fusedLinear: fusedLinear as CudaKernel });
registerLinearFusion('gpu');
