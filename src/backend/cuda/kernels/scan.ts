// CUDA scans: cumsum, cumprod, cummax, cummin, logcumsumexp, forward or reverse, inclusive
// or exclusive. The input is viewed as (outer, n, inner) around the scanned axis.
//   rows (inner = 1): one block per row walks it in tiles of blockDim * ITEMS elements; each
//     thread scans ITEMS consecutive elements, the threads' totals are scanned with warp
//     shuffles and shared memory, and a running carry links the tiles.
//   long rows, few of them: a chunked scan in three passes: each chunk's total, an
//     exclusive scan of the totals (the same kernel), then each chunk scanned from its carry.
//   columns (inner > 1): one thread per column when there are enough columns to fill the
//     GPU; otherwise the columns are transposed into rows, scanned, and transposed back.
// Floats accumulate in double and round once per output, as the CPU does; integers wrap in
// their compute type, which the store truncates to the dtype (the same bits as wrapping at
// every step, since + and * modulo 2^k commute with truncation).
import type { DType } from '../../../core/dtype.js';
import type { ScanParams } from '../../../core/ops/scan.js';
import type { KernelSource } from '../compiler.js';
import { registerCudaKernels, CudaKernel, CudaContext } from '../backend.js';
import { PRELUDE, ctype, stype, load, store, lowest, highest } from './ctypes.js';
import { copyStrided } from './copy.js';
import { sizeOf, WIDE } from './layout.js';

/** Items each thread scans per tile: odd, so threads' runs of shared memory start in different banks. */
const ITEMS = 9;
const THREADS = 256;
const TILE = THREADS * ITEMS;

/** The C type a scan of output dtype `d` accumulates in. */
export const accType = (d: DType): string => (d.isFloat ? 'double' : ctype(d));
const accBytes = (d: DType): number => (d.isFloat || d.size === 8 ? 8 : 4);

interface ScanOp { init: (d: DType) => string; step: (a: string, b: string, d: DType) => string }

const NEG_INF = '(-(double)LATHE_INF)';
const ops: Record<string, ScanOp> = {
  cumsum: { init: (d) => (d.isFloat ? '0.0' : '0'), step: (a, b, d) => (d.isFloat ? `(${a} + ${b})` : `wadd(${a}, ${b})`) },
  cumprod: { init: (d) => (d.isFloat ? '1.0' : '1'), step: (a, b, d) => (d.isFloat ? `(${a} * ${b})` : `wmul(${a}, ${b})`) },
  // NaN wins, as the CPU's max/min (the test is symmetric, so any grouping gives NaN).
  cummax: { init: (d) => (d.isFloat ? NEG_INF : lowest(d)), step: (a, b, d) => (d.isFloat ? `((${b} > ${a} || ${b} != ${b}) ? ${b} : ${a})` : `(${b} > ${a} ? ${b} : ${a})`) },
  cummin: { init: (d) => (d.isFloat ? `((double)LATHE_INF)` : highest(d)), step: (a, b, d) => (d.isFloat ? `((${b} < ${a} || ${b} != ${b}) ? ${b} : ${a})` : `(${b} < ${a} ? ${b} : ${a})`) },
  logcumsumexp: { init: () => NEG_INF, step: (a, b) => `scan_lae(${a}, ${b})` },
};

const HELPERS = String.raw`#ifndef LATHE_SCAN_HELPERS
#define LATHE_SCAN_HELPERS
// double -> float rounding toward zero, with the last bit set when inexact ("round to odd"):
// rounding that float to a half then rounds the double correctly, with no double rounding.
__device__ __forceinline__ float scan_to_odd(double x) {
  float f = __double2float_rz(x);
  if ((double)f != x && f == f) f = __uint_as_float(__float_as_uint(f) | 1u);
  return f;
}
// log(exp(a) + exp(b)) in double; NaN stays NaN, and equal infinities are kept as they are.
__device__ __forceinline__ double scan_lae(double a, double b) {
  if (a != a || b != b) return a + b;
  const double m = a > b ? a : b;
  if (isinf(m)) return m;
  return m + log1p(exp(-fabs(a - b)));
}
#endif
`;

export type ScanMode = 'rows' | 'totals' | 'cols';

export interface ScanSpec {
  op: string;
  mode: ScanMode;
  /** Input dtype, or null for partials in the accumulator type. */
  input: DType | null;
  /** Output dtype, or null to write the accumulator type (totals, carries). */
  output: DType | null;
  /** The scan's output dtype: it picks the accumulator type and the identity. */
  acc: DType;
  /** rows: each (row, chunk) starts from carry[t] instead of the identity. */
  carry: boolean;
  wide: boolean;
}

export function renderScan(name: string, s: ScanSpec): KernelSource {
  const I = s.wide ? 'i64' : 'i32';
  const ACC = accType(s.acc);
  const IN = s.input ? stype(s.input) : ACC;
  const OUT = s.output ? stype(s.output) : ACC;
  const m = ops[s.op];
  const op = (a: string, b: string) => `${name}_op(${a}, ${b})`;
  const ld = (ref: string) => (s.input ? `(ACC)(${load(ref, s.input)})` : ref);
  const st = (v: string) => {
    if (!s.output) return v;
    if (s.output.name === 'float32') return `(float)(${v})`;
    return store(s.output.isFloat ? `scan_to_odd(${v})` : v, s.output);
  };
  // Direction and inclusiveness are runtime flags (uniform branches), not kernel variants.
  const emit = (a: string, v: string, write: (x: string) => string) =>
    `if (inclusive) { ${a} = ${op(a, v)}; ${write(a)} } else { ${write(a)} ${a} = ${op(a, v)}; }`;
  const head = `${PRELUDE}${HELPERS}
#define ACC ${ACC}
__device__ __forceinline__ ACC ${name}_op(ACC a, ACC b) { return ${m.step('a', 'b', s.acc)}; }
`;
  if (s.mode === 'cols') {
    const source = `${head}
extern "C" __global__ void __launch_bounds__(256) ${name}(${OUT}* __restrict__ out, const ${IN}* __restrict__ src, ${I} outer, ${I} n, ${I} inner, int reverse, int inclusive) {
  for (${I} t = (${I})blockIdx.x * blockDim.x + threadIdx.x; t < outer * inner; t += (${I})gridDim.x * blockDim.x) {
    const ${I} base = (t / inner) * n * inner + t % inner;
    ACC a = ${m.init(s.acc)};
    for (${I} j = 0; j < n; j++) {
      const ${I} at = base + (reverse ? n - 1 - j : j) * inner;
      const ACC v = ${ld('src[at]')};
      ${emit('a', 'v', (x) => `out[at] = ${st(x)};`)}
    }
  }
}
#undef ACC
`;
    return { name, source };
  }
  const at = (p: string) => `(reverse ? base + n - 1 - (${p}) : base + (${p}))`;
  const perItem = s.mode === 'totals' ? '' : `
      for (int k = 0; k < ${ITEMS}; k++) {
        const int i = tid * ${ITEMS} + k;
        if (i < m) { const ACC v = tile[i]; ${emit('a', 'v', (x) => `tile[i] = ${x};`)} }
      }`;
  const write = s.mode === 'totals' ? '' : `
      for (int i = tid; i < m; i += blockDim.x) out[${at('q + i')}] = ${st('tile[i]')};
      __syncthreads();`;
  const source = `${head}
extern "C" __global__ void __launch_bounds__(${THREADS}) ${name}(${OUT}* __restrict__ out, const ${IN}* __restrict__ src, const ACC* __restrict__ carry, ${I} rows, ${I} n, ${I} chunk, ${I} chunks, int reverse, int inclusive) {
  __shared__ ACC tile[${TILE}];
  __shared__ ACC warps[32];
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, nw = blockDim.x >> 5;
  const int T = blockDim.x * ${ITEMS};
  const ACC id = ${m.init(s.acc)};
  for (${I} t = blockIdx.x; t < rows * chunks; t += gridDim.x) {
    const ${I} base = (t / chunks) * n, p0 = (t % chunks) * chunk;
    const ${I} p1 = p0 + chunk < n ? p0 + chunk : n;
    ACC run = ${s.carry ? 'carry[t]' : 'id'};
    for (${I} q = p0; q < p1; q += T) {
      const int m = (int)(p1 - q < (${I})T ? p1 - q : (${I})T);
      for (int i = tid; i < m; i += blockDim.x) tile[i] = ${ld(`src[${at('q + i')}]`)};
      __syncthreads();
      ACC tot = id;
      for (int k = 0; k < ${ITEMS}; k++) { const int i = tid * ${ITEMS} + k; if (i < m) tot = ${op('tot', 'tile[i]')}; }
      ACC inc = tot;
      for (int off = 1; off < 32; off <<= 1) { const ACC o = __shfl_up_sync(LATHE_ALL, inc, off); if (lane >= off) inc = ${op('o', 'inc')}; }
      if (lane == 31) warps[warp] = inc;
      __syncthreads();
      if (warp == 0) {
        ACC w = lane < nw ? warps[lane] : id;
        for (int off = 1; off < 32; off <<= 1) { const ACC o = __shfl_up_sync(LATHE_ALL, w, off); if (lane >= off) w = ${op('o', 'w')}; }
        if (lane < nw) warps[lane] = w;
      }
      __syncthreads();
      ACC before = __shfl_up_sync(LATHE_ALL, inc, 1);
      if (lane == 0) before = id;
      if (warp > 0) before = ${op('warps[warp - 1]', 'before')};
      ACC a = ${op('run', 'before')};${perItem}
      run = ${op('run', 'warps[nw - 1]')};
      __syncthreads();${write}
    }${s.mode === 'totals' ? '\n    if (tid == 0) out[t] = run;' : ''}
  }
}
#undef ACC
`;
  return { name, source };
}

// ---------------------------------------------------------------- planning and launching

/** A scan operand: a device pointer and its dtype (null: the accumulator type). */
interface Operand { ptr: bigint; dtype: DType | null }

interface Scan { op: string; acc: DType; reverse: boolean; inclusive: boolean }

function kernel(ctx: CudaContext, sc: Scan, mode: ScanMode, input: DType | null, output: DType | null, carry: boolean, wide: boolean): bigint {
  const spec: ScanSpec = { op: sc.op, mode, input, output, acc: sc.acc, carry, wide };
  const key = `scan|${sc.op}|${mode}|${input?.name ?? 'acc'}|${output?.name ?? 'acc'}|${sc.acc.name}|${carry}|${wide}`;
  return ctx.kernels.get(key, () => renderScan(`${sc.op}_${mode}`, spec));
}

/** Scans the rows of (rows, n): in one pass, or chunked when few long rows would leave SMs idle. */
function scanRows(ctx: CudaContext, sc: Scan, x: Operand, out: Operand, rows: number, n: number, reverse = sc.reverse, inclusive = sc.inclusive): void {
  const sms = ctx.rt.info.sms;
  const wide = rows * n > WIDE;
  let chunks = 1;
  if (rows < sms * 2 && n > 4 * TILE) chunks = Math.min(Math.ceil((sms * 4) / rows), Math.ceil(n / TILE));
  const chunk = Math.ceil(n / chunks);
  const threads = Math.min(THREADS, Math.max(32, 2 ** Math.ceil(Math.log2(Math.ceil(Math.min(chunk, TILE) / ITEMS)))));
  const blocks = Math.min(rows * chunks, sms * 64);
  let carry = 0n;
  if (chunks > 1) {
    const bytes = rows * chunks * accBytes(sc.acc);
    const totals = ctx.temp(bytes), carries = ctx.temp(bytes);
    const fn = kernel(ctx, sc, 'totals', x.dtype, null, false, wide);
    ctx.rt.args.reset().ptr(totals.ptr).ptr(x.ptr).ptr(0n).idx(rows, wide).idx(n, wide).idx(chunk, wide).idx(chunks, wide).i32(+reverse).i32(+inclusive);
    ctx.rt.launch(fn, [blocks, 1, 1], [threads, 1, 1]);
    // Chunks are numbered in scan order, so their carries are a forward exclusive scan.
    scanRows(ctx, sc, { ptr: totals.ptr, dtype: null }, { ptr: carries.ptr, dtype: null }, rows, chunks, false, false);
    carry = carries.ptr;
  }
  const fn = kernel(ctx, sc, 'rows', x.dtype, out.dtype, chunks > 1, wide);
  ctx.rt.args.reset().ptr(out.ptr).ptr(x.ptr).ptr(carry).idx(rows, wide).idx(n, wide).idx(chunk, wide).idx(chunks, wide).i32(+reverse).i32(+inclusive);
  ctx.rt.launch(fn, [blocks, 1, 1], [threads, 1, 1]);
}

const scanKernel = (op: string): CudaKernel => ([x], [out], { axis, reverse, inclusive }: ScanParams, ctx) => {
  const o = ctx.alloc(out);
  const shape = x.shape;
  const outer = sizeOf(shape.slice(0, axis)), n = shape[axis], inner = sizeOf(shape.slice(axis + 1));
  if (outer * n * inner === 0) return [o];
  const sc: Scan = { op, acc: out.dtype, reverse, inclusive };
  if (inner === 1) {
    scanRows(ctx, sc, { ptr: x.buf.ptr, dtype: x.dtype }, { ptr: o.ptr, dtype: out.dtype }, outer, n);
    return [o];
  }
  const columns = outer * inner;
  if (columns >= ctx.rt.info.sms * 256 || n <= 16) {
    const wide = outer * n * inner > WIDE;
    const fn = kernel(ctx, sc, 'cols', x.dtype, out.dtype, false, wide);
    ctx.rt.args.reset().ptr(o.ptr).ptr(x.buf.ptr).idx(outer, wide).idx(n, wide).idx(inner, wide).i32(+reverse).i32(+inclusive);
    ctx.rt.launch(fn, [ctx.rt.gridFor(columns), 1, 1], [256, 1, 1]);
    return [o];
  }
  // Few long columns: transpose (outer, n, inner) to rows (outer, inner, n), scan, transpose back.
  const size = outer * n * inner;
  const rowsIn = ctx.temp(size * x.dtype.size), rowsOut = ctx.temp(size * out.dtype.size);
  copyStrided(ctx, x.dtype.size, rowsIn.ptr, 0, null, x.buf.ptr, 0, [n * inner, 1, inner], [outer, inner, n]);
  scanRows(ctx, sc, { ptr: rowsIn.ptr, dtype: x.dtype }, { ptr: rowsOut.ptr, dtype: out.dtype }, columns, n);
  copyStrided(ctx, out.dtype.size, o.ptr, 0, null, rowsOut.ptr, 0, [inner * n, 1, n], [outer, n, inner]);
  return [o];
};

registerCudaKernels(Object.fromEntries(Object.keys(ops).map((op) => [op, scanKernel(op)])));
