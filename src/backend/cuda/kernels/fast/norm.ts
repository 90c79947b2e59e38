// rmsNorm and layerNorm, forward and backward, as the CPU kernels and the references of
// src/fast/norm.ts compute them (statistics in float32; one rounding to the output dtype).
// TPR threads per row (a warp for short rows, up to 1024), RPB rows per block; each thread
// owns fixed packs of a row (16-byte loads), keeps them in registers between the statistics
// and the result ('cached'), or reads the row again from L2 when it does not fit ('uncached').
// Cached forward blocks are persistent and load the next row while reducing this one.
// The backward pass sums dweight/dbias over rows in two stages: each block accumulates its
// rows in float32 registers (its columns are fixed) into one partial row, then a column
// reduction adds the partial rows in order and rounds once. No atomics: the result is
// deterministic.
import type { DType } from '../../../../core/dtype.js';
import { dtypes } from '../../../../core/dtype.js';
import type { Spec } from '../../../../core/primitive.js';
import type { KernelSource } from '../../compiler.js';
import { registerCudaKernels, type CudaKernel, type CudaArg, type CudaContext, type CudaBuffer } from '../../backend.js';
import { sizeOf } from '../layout.js';
import { withDefines, dtypeDefs, packWidth, warps } from './rows.js';

export interface NormShape {
  /** Elements per packed access (1: scalar). */
  vec: number;
  /** Packs each thread keeps in registers; 0 reads the row from memory again instead. */
  items: number;
  /** Threads per row and rows per block (several only when a warp takes a row). */
  tpr: number;
  rpb: number;
}

export interface NormForwardSpec extends NormShape { layer: boolean; x: DType; w: DType | null; b: DType | null; out: DType }
export interface NormBackwardSpec extends NormShape { layer: boolean; x: DType; w: DType | null; g: DType; dw: boolean; db: boolean }

/**
 * Blocks of a persistent forward kernel per SM: 1536 threads' worth (a full SM's 2048 would
 * cap registers at 32 and spill; at 1536 the cap is 40, which holds a row and the next).
 */
const residentBlocks = (s: NormShape): number => Math.max(1, Math.floor(1536 / (s.tpr * s.rpb)));

const shapeDefs = (s: NormShape): [string, string | number][] => [
  ['VEC', s.vec], ['ITEMS', s.items], ['TPR', s.tpr], ['RPB', s.rpb], ['LAYER', 0],
];

/** Each packed operand's pack type, P<name>, and `FOR_PACKS(k, p)` over the thread's packs of a row. */
const PACK_MACROS = String.raw`#define PK(T) Pack<T, VEC>
#if ITEMS > 0
#define FOR_PACKS _Pragma("unroll") for (int k = 0, p = threadIdx.x; k < ITEMS; k++, p += TPR)
#else
#define FOR_PACKS for (int k = 0, p = threadIdx.x; p < packs; k++, p += TPR)
#endif`;

export function renderNormForward(name: string, s: NormForwardSpec): KernelSource {
  // Cached rows run in persistent blocks, residentBlocks of them per SM (registers capped to fit).
  const defs = [...shapeDefs(s), ['HAS_W', s.w ? 1 : 0], ['HAS_B', s.b ? 1 : 0], ['MIN_BLOCKS', s.items > 0 ? residentBlocks(s) : 1],
    ...dtypeDefs('X', s.x), ...dtypeDefs('W', s.w), ...dtypeDefs('B', s.b), ...dtypeDefs('O', s.out)] as [string, string | number][];
  defs.find((d) => d[0] === 'LAYER')![1] = s.layer ? 1 : 0;
  const body = String.raw`${PACK_MACROS}
extern "C" __global__ void __launch_bounds__(TPR * RPB, MIN_BLOCKS) ${name}(O_T* __restrict__ y, const X_T* __restrict__ x, const W_T* __restrict__ w,
    const B_T* __restrict__ b, i64 rows, int D, float eps) {
  __shared__ float2 sh[32];
  const int packs = D / VEC;
  const i64 step = (i64)gridDim.x * RPB;
#if ITEMS > 0
  // The row's packs stay in registers as loaded (halves take half the registers of floats)
  // and are converted where used. Blocks are persistent: the next row's packs (qn) are
  // loaded before this row's reduction and writes, so loads stay in flight throughout.
  PK(X_T) q[ITEMS], qn[ITEMS];
#define LOAD_PACKS(dst, r) { const PK(X_T)* xs = reinterpret_cast<const PK(X_T)*>(x + (r) * D); FOR_PACKS { if (p < packs) dst[k] = xs[p]; else dst[k] = PK(X_T){}; } }
  if ((i64)blockIdx.x * RPB + threadIdx.y < rows) LOAD_PACKS(qn, (i64)blockIdx.x * RPB + threadIdx.y)
#endif
  for (i64 row = (i64)blockIdx.x * RPB + threadIdx.y; row < rows; row += step) {
#if ITEMS == 0
    const PK(X_T)* xr = reinterpret_cast<const PK(X_T)*>(x + row * D);
#endif
    PK(O_T)* yr = reinterpret_cast<PK(O_T)*>(y + row * D);
#if ITEMS > 0
    FOR_PACKS q[k] = qn[k];
    if (row + step < rows) LOAD_PACKS(qn, row + step)
#define XV(k, j) LD_X(q[k].v[j])
#define LOADROW
#else
#define XV(k, j) xv[j]
#define LOADROW const PK(X_T) q = xr[p]; float xv[VEC]; _Pragma("unroll") for (int j = 0; j < VEC; j++) xv[j] = LD_X(q.v[j]);
#endif
    float mean = 0.0f;
#if LAYER
    {
      float s = 0.0f;
      FOR_PACKS { if (ITEMS == 0 || p < packs) { LOADROW _Pragma("unroll") for (int j = 0; j < VEC; j++) s += XV(k, j); } }
      mean = rowSum<TPR>(s, sh) / (float)D;
    }
#endif
    float ss = 0.0f;
    FOR_PACKS { if (ITEMS == 0 || p < packs) { LOADROW _Pragma("unroll") for (int j = 0; j < VEC; j++) { const float c = XV(k, j) - mean; ss += c * c; } } }
    const float inv = 1.0f / sqrtf(rowSum<TPR>(ss, sh) / (float)D + eps);
    FOR_PACKS {
      if (ITEMS == 0 || p < packs) {
        LOADROW
#if HAS_W
        const PK(W_T) wq = reinterpret_cast<const PK(W_T)*>(w)[p];
#endif
#if HAS_B
        const PK(B_T) bq = reinterpret_cast<const PK(B_T)*>(b)[p];
#endif
        PK(O_T) o;
#pragma unroll
        for (int j = 0; j < VEC; j++) {
          float r = (XV(k, j) - mean) * inv;
#if HAS_W
          r = LAYER ? r * LD_W(wq.v[j]) : LD_W(wq.v[j]) * r;
#endif
#if HAS_B
          r = r + LD_B(bq.v[j]);
#endif
          o.v[j] = ST_O(r);
        }
        yr[p] = o;
      }
    }
#undef XV
#undef LOADROW
  }
}
#undef PK
#undef FOR_PACKS
#undef LOAD_PACKS`;
  return { name, source: withDefines(defs, body) };
}

/**
 * Backward: dx per row, and (dw, db) partial sums per thread group written to pw/pb rows
 * `blockIdx.x * RPB + threadIdx.y` (P = gridDim.x * RPB rows of D floats), summed by
 * renderColumnSum. rms: dx = r·gw − x·r³·mean(gw·x), dw += g·x·r. layer: dx =
 * r·(gw − mean(gw) − x̂·mean(gw·x̂)), dw += g·x̂, db += g. gw = g·w.
 */
export function renderNormBackward(name: string, s: NormBackwardSpec): KernelSource {
  const defs = [...shapeDefs(s), ['HAS_W', s.w ? 1 : 0], ['HAS_DW', s.dw ? 1 : 0], ['HAS_DB', s.db ? 1 : 0],
    ...dtypeDefs('X', s.x), ...dtypeDefs('W', s.w), ...dtypeDefs('G', s.g)] as [string, string | number][];
  defs.find((d) => d[0] === 'LAYER')![1] = s.layer ? 1 : 0;
  const body = String.raw`${PACK_MACROS}
extern "C" __global__ void __launch_bounds__(TPR * RPB) ${name}(X_T* __restrict__ dx, float* __restrict__ pw, float* __restrict__ pb,
    const X_T* __restrict__ x, const W_T* __restrict__ w, const G_T* __restrict__ g, i64 rows, int D, float eps) {
  __shared__ float2 sh[32];
  const int packs = D / VEC;
  const i64 prow = (i64)blockIdx.x * RPB + threadIdx.y;
#if ITEMS > 0
#if HAS_DW
  float aw[ITEMS][VEC];
#endif
#if HAS_DB
  float ab[ITEMS][VEC];
#endif
  FOR_PACKS {
#pragma unroll
    for (int j = 0; j < VEC; j++) {
#if HAS_DW
      aw[k][j] = 0.0f;
#endif
#if HAS_DB
      ab[k][j] = 0.0f;
#endif
    }
  }
#endif
#if ITEMS == 0
  bool first = true;
#endif
  for (i64 row = prow; row < rows; row += (i64)gridDim.x * RPB) {
    const PK(X_T)* xr = reinterpret_cast<const PK(X_T)*>(x + row * D);
    const PK(G_T)* gr = reinterpret_cast<const PK(G_T)*>(g + row * D);
    PK(X_T)* dr = reinterpret_cast<PK(X_T)*>(dx + row * D);
#if ITEMS > 0
    float v[ITEMS][VEC], gv[ITEMS][VEC];
    FOR_PACKS {
      PK(X_T) q; PK(G_T) h;
      if (p < packs) { q = xr[p]; h = gr[p]; }
#pragma unroll
      for (int j = 0; j < VEC; j++) { v[k][j] = p < packs ? LD_X(q.v[j]) : 0.0f; gv[k][j] = p < packs ? LD_G(h.v[j]) : 0.0f; }
    }
#define XV(k, j) v[k][j]
#define GV(k, j) gv[k][j]
#define LOADROW
#else
#define XV(k, j) xv[j]
#define GV(k, j) gvv[j]
#define LOADROW const PK(X_T) q = xr[p]; const PK(G_T) h = gr[p]; float xv[VEC], gvv[VEC]; \
    _Pragma("unroll") for (int j = 0; j < VEC; j++) { xv[j] = LD_X(q.v[j]); gvv[j] = LD_G(h.v[j]); }
#endif
#if HAS_W
#define LOADW const PK(W_T) wq = reinterpret_cast<const PK(W_T)*>(w)[p];
#define GW(k, j) (GV(k, j) * LD_W(wq.v[j]))
#else
#define LOADW
#define GW(k, j) GV(k, j)
#endif
#define LIVE (ITEMS == 0 || p < packs)
#if LAYER
    float mean;
    {
      float s = 0.0f;
      FOR_PACKS { if (LIVE) { LOADROW _Pragma("unroll") for (int j = 0; j < VEC; j++) s += XV(k, j); } }
      mean = rowSum<TPR>(s, sh) / (float)D;
    }
    float ss = 0.0f;
    FOR_PACKS { if (LIVE) { LOADROW _Pragma("unroll") for (int j = 0; j < VEC; j++) { const float c = XV(k, j) - mean; ss += c * c; } } }
    const float inv = 1.0f / sqrtf(rowSum<TPR>(ss, sh) / (float)D + eps);
    float sg = 0.0f, sgx = 0.0f;
    FOR_PACKS {
      if (LIVE) {
        LOADROW LOADW
#pragma unroll
        for (int j = 0; j < VEC; j++) { const float gw = GW(k, j); sg += gw; sgx += gw * ((XV(k, j) - mean) * inv); }
      }
    }
    const float2 t = rowSum2<TPR>(sg, sgx, sh);
    const float mg = t.x / (float)D, mgx = t.y / (float)D;
#else
    float ss = 0.0f, dot = 0.0f;
    FOR_PACKS {
      if (LIVE) {
        LOADROW LOADW
#pragma unroll
        for (int j = 0; j < VEC; j++) { ss += XV(k, j) * XV(k, j); dot += GW(k, j) * XV(k, j); }
      }
    }
    const float2 t = rowSum2<TPR>(ss, dot, sh);
    const float inv = 1.0f / sqrtf(t.x / (float)D + eps), c = (inv * inv * inv * t.y) / (float)D;
#endif
    FOR_PACKS {
      if (LIVE) {
        LOADROW LOADW
        PK(X_T) o;
#if ITEMS == 0 && HAS_DW
        PK(float)* pwr = reinterpret_cast<PK(float)*>(pw + prow * D) + p;
        PK(float) awq = first ? PK(float){} : *pwr;
#endif
#if ITEMS == 0 && HAS_DB
        PK(float)* pbr = reinterpret_cast<PK(float)*>(pb + prow * D) + p;
        PK(float) abq = first ? PK(float){} : *pbr;
#endif
#pragma unroll
        for (int j = 0; j < VEC; j++) {
#if LAYER
          const float xh = (XV(k, j) - mean) * inv;
          o.v[j] = ST_X(inv * (GW(k, j) - mg - xh * mgx));
#define DW_TERM (GV(k, j) * xh)
#else
          o.v[j] = ST_X(inv * GW(k, j) - XV(k, j) * c);
#define DW_TERM (GV(k, j) * XV(k, j) * inv)
#endif
#if ITEMS > 0
#if HAS_DW
          aw[k][j] += DW_TERM;
#endif
#if HAS_DB
          ab[k][j] += GV(k, j);
#endif
#else
#if HAS_DW
          awq.v[j] += DW_TERM;
#endif
#if HAS_DB
          abq.v[j] += GV(k, j);
#endif
#endif
#undef DW_TERM
        }
        dr[p] = o;
#if ITEMS == 0 && HAS_DW
        *pwr = awq;
#endif
#if ITEMS == 0 && HAS_DB
        *pbr = abq;
#endif
      }
    }
#if ITEMS == 0
    first = false;
#endif
#undef XV
#undef GV
#undef LOADROW
#undef LOADW
#undef GW
#undef LIVE
  }
#if HAS_DW || HAS_DB
  // The partial rows: register sums, or zeros for a group that had no row.
#if ITEMS > 0
  FOR_PACKS {
    if (p < packs) {
#if HAS_DW
      { PK(float) o; _Pragma("unroll") for (int j = 0; j < VEC; j++) o.v[j] = aw[k][j]; reinterpret_cast<PK(float)*>(pw + prow * D)[p] = o; }
#endif
#if HAS_DB
      { PK(float) o; _Pragma("unroll") for (int j = 0; j < VEC; j++) o.v[j] = ab[k][j]; reinterpret_cast<PK(float)*>(pb + prow * D)[p] = o; }
#endif
    }
  }
#else
  if (first) FOR_PACKS {
#if HAS_DW
    reinterpret_cast<PK(float)*>(pw + prow * D)[p] = PK(float){};
#endif
#if HAS_DB
    reinterpret_cast<PK(float)*>(pb + prow * D)[p] = PK(float){};
#endif
  }
#endif
#endif
}
#undef PK
#undef FOR_PACKS`;
  return { name, source: withDefines(defs, body) };
}

/** out[c] = Σ_r part[r·D + c] over P partial rows, in row order, rounded once: 32 columns × 8 row lanes per block. */
export function renderColumnSum(name: string, out: DType): KernelSource {
  const body = String.raw`extern "C" __global__ void __launch_bounds__(256) ${name}(O_T* __restrict__ out, const float* __restrict__ part, int P, int D) {
  __shared__ float sh[8][33];
  const int c = blockIdx.x * 32 + threadIdx.x;
  float a = 0.0f;
  if (c < D) for (int r = threadIdx.y; r < P; r += 8) a += part[(i64)r * D + c];
  sh[threadIdx.y][threadIdx.x] = a;
  __syncthreads();
  if (threadIdx.y == 0 && c < D) {
    float t = 0.0f;
#pragma unroll
    for (int r = 0; r < 8; r++) t += sh[r][threadIdx.x];
    out[c] = ST_O(t);
  }
}`;
  return { name, source: withDefines(dtypeDefs('O', out), body) };
}

// ---------------------------------------------------------------- planning and launching

/**
 * Threads per row, packs per thread, rows per block for rows of D elements in packs of `vec`:
 * about two packs per thread, and at most `maxCached` floats of a row per thread and operand
 * kept in registers (the backward pass keeps x, g and the dw sums), else 'uncached'.
 */
export function normShape(D: number, vec: number, maxCached: number): NormShape {
  const packs = D / vec;
  let tpr = Math.min(1024, Math.max(32, warps(Math.ceil(packs / 2))));
  let items = Math.ceil(packs / tpr);
  if (items * vec > maxCached) { tpr = 512; items = 0; }
  return { vec, items, tpr, rpb: tpr === 32 ? 4 : 1 };
}

const shapeKey = (s: NormShape) => `${s.vec}|${s.items}|${s.tpr}|${s.rpb}`;
const dn = (d: DType | null) => d?.name ?? '-';

interface Args { x: CudaArg; w: CudaArg | null; b: CudaArg | null; eps: number; layer: boolean }

function forward(ctx: CudaContext, { x, w, b, eps, layer }: Args, spec: Spec): CudaBuffer[] {
  const y = ctx.alloc(spec);
  const D = x.shape[x.shape.length - 1], n = sizeOf(x.shape);
  if (n === 0) return [y];
  const rows = n / D;
  const vec = packWidth(D, [x.dtype, w?.dtype ?? null, b?.dtype ?? null, spec.dtype], [x.buf.ptr, y.ptr, w?.buf.ptr ?? 0n, b?.buf.ptr ?? 0n]);
  const sh = normShape(D, vec, 32);
  const fs: NormForwardSpec = { ...sh, layer, x: x.dtype, w: w?.dtype ?? null, b: b?.dtype ?? null, out: spec.dtype };
  const fn = ctx.kernels.get(`normFwd|${layer}|${dn(fs.x)}|${dn(fs.w)}|${dn(fs.b)}|${dn(fs.out)}|${shapeKey(sh)}`,
    () => renderNormForward(layer ? 'layer_norm' : 'rms_norm', fs));
  ctx.rt.args.reset().ptr(y.ptr).ptr(x.buf.ptr).ptr(w?.buf.ptr ?? 0n).ptr(b?.buf.ptr ?? 0n).i64(rows).i32(D).f32(eps);
  // Cached rows: persistent blocks, as many as fit on the GPU at once, each taking rows in turn.
  const blocks = sh.items > 0 ? ctx.rt.info.sms * residentBlocks(sh) : 2 ** 31 - 1;
  ctx.rt.launch(fn, [Math.min(Math.ceil(rows / sh.rpb), blocks), 1, 1], [sh.tpr, sh.rpb, 1]);
  return [y];
}

/** [dx, dweight?, dbias?] for `specs` (dx first, then as `dw` and `db` say). */
function backward(ctx: CudaContext, x: CudaArg, w: CudaArg | null, g: CudaArg, eps: number, layer: boolean, dbDtype: DType | null, specs: Spec[]): CudaBuffer[] {
  const dx = ctx.alloc(specs[0]);
  const dw = w ? ctx.alloc(specs[1]) : null, db = dbDtype ? ctx.alloc(specs[w ? 2 : 1]) : null;
  const outs = [dx, ...(dw ? [dw] : []), ...(db ? [db] : [])];
  const D = x.shape[x.shape.length - 1], n = sizeOf(x.shape);
  if (D === 0) return outs;
  const rows = n / D;
  const vec = packWidth(D, [x.dtype, w?.dtype ?? null, g.dtype], [x.buf.ptr, g.buf.ptr, dx.ptr, w?.buf.ptr ?? 0n]);
  const sh = normShape(D, vec, 16);
  const sums = !!dw || !!db;
  // With parameter gradients: a few blocks per SM, each summing many rows into one partial row.
  const perSm = Math.max(1, Math.floor(512 / (sh.tpr * sh.rpb)));
  const blocks = rows === 0 ? 0 : sums ? Math.min(Math.ceil(rows / sh.rpb), ctx.rt.info.sms * perSm) : Math.min(Math.ceil(rows / sh.rpb), 2 ** 31 - 1);
  const P = blocks * sh.rpb;
  const pw = dw && P ? ctx.temp(P * D * 4) : null, pb = db && P ? ctx.temp(P * D * 4) : null;
  if (blocks) {
    const bs: NormBackwardSpec = { ...sh, layer, x: x.dtype, w: w?.dtype ?? null, g: g.dtype, dw: !!dw, db: !!db };
    const fn = ctx.kernels.get(`normBwd|${layer}|${dn(bs.x)}|${dn(bs.w)}|${dn(bs.g)}|${bs.dw}|${bs.db}|${shapeKey(sh)}`,
      () => renderNormBackward(layer ? 'layer_norm_vjp' : 'rms_norm_vjp', bs));
    ctx.rt.args.reset().ptr(dx.ptr).ptr(pw?.ptr ?? 0n).ptr(pb?.ptr ?? 0n).ptr(x.buf.ptr).ptr(w?.buf.ptr ?? 0n).ptr(g.buf.ptr).i64(rows).i32(D).f32(eps);
    ctx.rt.launch(fn, [blocks, 1, 1], [sh.tpr, sh.rpb, 1]);
  }
  for (const [out, part] of [[dw, pw], [db, pb]] as const) {
    if (!out) continue;
    const dt = out === dw ? specs[1].dtype : specs[w ? 2 : 1].dtype;
    const fn = ctx.kernels.get(`normColSum|${dt.name}`, () => renderColumnSum('norm_column_sum', dt));
    ctx.rt.args.reset().ptr(out.ptr).ptr(part?.ptr ?? 0n).i32(P).i32(D);
    ctx.rt.launch(fn, [Math.ceil(D / 32), 1, 1], [32, 8, 1]);
  }
  return outs;
}

interface NormParams { eps: number; hasWeight?: boolean; biasDtype?: string | null }

const rmsNorm: CudaKernel = (ins, [spec], { eps }: NormParams, ctx) =>
  forward(ctx, { x: ins[0], w: ins[1] ?? null, b: null, eps, layer: false }, spec);

const rmsNormVjp: CudaKernel = (ins, specs, { eps }: NormParams, ctx) =>
  backward(ctx, ins[0], ins.length === 3 ? ins[1] : null, ins[ins.length - 1], eps, false, null, specs);

const layerNorm: CudaKernel = (ins, [spec], { eps, hasWeight, biasDtype }: NormParams, ctx) =>
  forward(ctx, { x: ins[0], w: hasWeight ? ins[1] : null, b: biasDtype ? ins[ins.length - 1] : null, eps, layer: true }, spec);

const layerNormVjp: CudaKernel = (ins, specs, { eps, hasWeight, biasDtype }: NormParams, ctx) =>
  backward(ctx, ins[0], hasWeight ? ins[1] : null, ins[ins.length - 1], eps, true,
    biasDtype ? dtypes[biasDtype as keyof typeof dtypes] : null, specs);

registerCudaKernels({ rmsNorm, rmsNormVjp, layerNorm, layerNormVjp });
