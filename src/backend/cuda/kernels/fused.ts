// CUDA kernel for compile()'s 'fused' primitive: the program becomes one generated loop,
// each intermediate a local built from the same per-op expressions as the eager kernels.
// An intermediate that feeds another op is rounded as storing it would round it (a half
// round trip, integer wrapping, bools to 0/1), so fused results equal the unfused graph's.
//
// A row program (params.rows: reductions over the last axis among the ops, as softmax or
// rmsNorm written with basic ops) runs as one block per row: a pass over the row per
// reduction, each recomputing the elementwise work that reduction reads (from L1/L2), the
// block combining its partial results, then a last pass computing and storing the outputs.
// Its reference is the unfused subgraph (Fused's rules expand it); results differ from it
// only by the order in which a reduction adds.
import type { DType } from '../../../core/dtype.js';
import { dtypes } from '../../../core/dtype.js';
import type { FusedOp, FusedParams } from '../../../core/transforms/fused.js';
import { registerRowFusion } from '../../../core/backend.js';
import { broadcastShapes } from '../../../core/ops/util.js';
import type { KernelSource } from '../compiler.js';
import { registerCudaKernels, CudaKernel, CudaArg, CudaContext, CudaBuffer } from '../backend.js';
import { PRELUDE, ctype, stype, load, store, lowest, highest } from './ctypes.js';
import { unaryCuda, binaryCuda, castCuda, renderLoop, runLoop, EwInput } from './elementwise.js';
import { broadcastStrides, collapse, sizeOf, WIDE } from './layout.js';

/** CUDA C of one op over value names `a` with dtypes `d`. */
function opExpr(op: FusedOp, a: string[], d: DType[]): string {
  if (op.prim === 'select') return `(${a[0]} ? ${a[1]} : ${a[2]})`;
  if (op.prim === 'astype') return castCuda(a[0], d[0], dtypes[op.dtype]);
  if (op.prim in unaryCuda) return unaryCuda[op.prim](a[0], d[0], (op.params ?? {}) as Record<string, unknown>);
  if (op.prim in binaryCuda) return binaryCuda[op.prim](a[0], a[1], d[0]);
  throw new Error(`[fused] the CUDA backend cannot fuse primitive '${op.prim}'`);
}

/** The value `v` has after a store to and a load from `d`'s storage. */
const roundTrip = (v: string, d: DType): string => (d.name === 'float32' ? v : load(`(${stype(d)})(${store(v, d)})`, d));

export function renderFused(name: string, p: FusedParams, ins: EwInput[], nd: number, wide: boolean, vec = 1): KernelSource {
  const n = p.nInputs;
  const dt = [...ins.map((x) => x.dtype), ...p.ops.map((o) => dtypes[o.dtype])];
  const feeds = new Set(p.ops.flatMap((o) => o.args));
  const name_ = (k: number) => (k < n ? `x${k}` : `v${k}`);
  const body = [
    ...p.ops.map((o, j) => {
      const k = n + j;
      const e = opExpr(o, o.args.map(name_), o.args.map((a) => dt[a]));
      return `const ${ctype(dt[k])} v${k} = ${feeds.has(k) ? roundTrip(e, dt[k]) : `(${ctype(dt[k])})(${e})`};`;
    }),
    ...p.outputs.map((v, m) => `out${m}[i] = ${store(name_(v), dt[v])};`),
  ].join('\n    ');
  return renderLoop(name, { ins, outs: p.outputs.map((v) => dt[v]), body, nd, wide, vec });
}

// ---------------------------------------------------------------- row programs

/** How a row program reads input k at column j of row `row`: dense like the full shape, one per row, one value, or broadcast. */
export type RowMode = 'full' | 'row' | 'scalar' | 'strided';
export interface RowInput { dtype: DType; mode: RowMode }

const monoid: Record<string, { init: (d: DType) => string; step: (a: string, b: string, d: DType) => string }> = {
  sum: { init: (d) => (d.isFloat ? '0.0f' : '0'), step: (a, b) => `wadd(${a}, ${b})` },
  prod: { init: (d) => (d.isFloat ? '1.0f' : '1'), step: (a, b) => `wmul(${a}, ${b})` },
  max: { init: lowest, step: (a, b, d) => (d.isFloat ? `((${b} > ${a} || ${b} != ${b}) ? ${b} : ${a})` : `(${b} > ${a} ? ${b} : ${a})`) },
  min: { init: highest, step: (a, b, d) => (d.isFloat ? `((${b} < ${a} || ${b} != ${b}) ? ${b} : ${a})` : `(${b} < ${a} ? ${b} : ${a})`) },
};

/**
 * The kernel of a row program: `lead` axes index the rows (collapsed), `threads` per block.
 * Parameters: outputs (full ones (rows, n), per-row ones (rows)), inputs, the leading shape
 * and each strided input's leading strides and last stride (0 or 1), rows, n.
 */
export function renderFusedRows(name: string, p: FusedParams, ins: RowInput[], lead: number, wide: boolean, threads: number): KernelSource {
  const I = wide ? 'i64' : 'i32';
  const n = p.nInputs;
  const dt = [...ins.map((x) => x.dtype), ...p.ops.map((o) => dtypes[o.dtype])];
  const isRow = (k: number) => (k < n ? ins[k].mode === 'row' || ins[k].mode === 'scalar' : !!p.ops[k - n].row);
  const isRed = (k: number) => k >= n && p.ops[k - n].prim in monoid;
  const feeds = new Set(p.ops.flatMap((o) => o.args));
  const name_ = (k: number) => (k < n ? `x${k}` : `v${k}`);
  const at = (k: number) => {
    const m = ins[k].mode;
    return m === 'full' ? 'row * n + j' : m === 'row' ? 'row' : m === 'scalar' ? '0' : `b${k} + j * l${k}`;
  };
  /** Values (other than inputs and reductions done before) that `targets` need, in program order. */
  const cone = (targets: number[], done: Set<number>): { ops: number[]; inputs: number[] } => {
    const need = new Set<number>();
    const todo = [...targets];
    while (todo.length) {
      const k = todo.pop()!;
      if (need.has(k) || done.has(k)) continue;
      need.add(k);
      if (k >= n && !isRed(k)) todo.push(...p.ops[k - n].args);
    }
    return { ops: [...need].filter((k) => k >= n).sort((a, b) => a - b), inputs: [...need].filter((k) => k < n).sort((a, b) => a - b) };
  };
  const opLine = (k: number) => {
    const o = p.ops[k - n];
    const e = opExpr(o, o.args.map(name_), o.args.map((a) => dt[a]));
    return `const ${ctype(dt[k])} v${k} = ${feeds.has(k) ? roundTrip(e, dt[k]) : `(${ctype(dt[k])})(${e})`};`;
  };
  const body = (targets: number[], done: Set<number>, pad: string) => {
    const c = cone(targets, done);
    return [...c.inputs.map((k) => `const ${ctype(dt[k])} x${k} = ${load(`a${k}[${at(k)}]`, dt[k])};`), ...c.ops.map(opLine)].map((l) => pad + l).join('\n');
  };
  const done = new Set<number>();
  const phases: string[] = [];
  p.ops.forEach((o, j) => {
    const k = n + j;
    if (!isRed(k)) return;
    const m = monoid[o.prim], acc = dt[k], A = ctype(acc), src = o.args[0];
    const step = (a: string, b: string) => m.step(a, b, acc);
    const tree = (v: string) => `for (int off = 16; off > 0; off >>= 1) { const ${A} o_ = __shfl_down_sync(LATHE_ALL, ${v}, off); ${v} = ${step(v, 'o_')}; }`;
    // The order of reduce.ts's kernels (warp: lanes stride the row, then a shuffle tree;
    // block: 256 threads, trees per warp then over the warps; split rows: chunks reduced
    // so, then their partials by one warp), so the result is the unfused graph's, bit for bit.
    phases.push(threads === 32 ? `    ${A} r${k};
    {
      ${A} a = ${m.init(acc)};
      for (${I} j = lane; j < n; j += 32) {
${body([src], done, '        ')}
        a = ${step('a', `(${A})(${name_(src)})`)};
      }
      ${tree('a')}
      r${k} = __shfl_sync(LATHE_ALL, a, 0);
    }
    const ${A} v${k} = ${roundTrip(`r${k}`, acc)};` : `    ${A} r${k};
    {
      __shared__ ${A} sh${k}[32];
      __shared__ ${A} sp${k}[${MAX_SPLITS}];
      for (${I} c = 0; c < splits; c++) {
        const ${I} j0 = c * chunk, j1 = j0 + chunk < n ? j0 + chunk : n;
        ${A} a = ${m.init(acc)};
        for (${I} j = j0 + threadIdx.x; j < j1; j += blockDim.x) {
${body([src], done, '          ')}
          a = ${step('a', `(${A})(${name_(src)})`)};
        }
        ${tree('a')}
        if (lane == 0) sh${k}[warp] = a;
        __syncthreads();
        if (warp == 0) {
          a = lane < nw ? sh${k}[lane] : (${A})(${m.init(acc)});
          ${tree('a')}
          if (lane == 0) sp${k}[c] = a;
        }
        __syncthreads();
      }
      if (splits > 1 && warp == 0) {
        ${A} a = ${m.init(acc)};
        for (${I} j = lane; j < splits; j += 32) a = ${step('a', `sp${k}[j]`)};
        ${tree('a')}
        if (lane == 0) sp${k}[0] = a;
      }
      __syncthreads();
      r${k} = sp${k}[0];
      __syncthreads();
    }
    const ${A} v${k} = ${roundTrip(`r${k}`, acc)};`);
    done.add(k);
  });
  const fullOuts = p.outputs.map((v, m) => ({ v, m })).filter(({ v }) => !isRow(v));
  const rowOuts = p.outputs.map((v, m) => ({ v, m })).filter(({ v }) => isRow(v));
  const finalFull = fullOuts.length ? `    for (${I} j = threadIdx.x; j < n; j += blockDim.x) {
${body(fullOuts.map((o) => o.v), done, '      ')}
${fullOuts.map(({ v, m }) => `      out${m}[row * n + j] = ${store(name_(v), dt[v])};`).join('\n')}
    }` : '';
  const finalRow = rowOuts.length ? `    if (threadIdx.x == 0) {
      const ${I} j = 0;
${body(rowOuts.map((o) => o.v), done, '      ')}
${rowOuts.map(({ v, m }) => `      out${m}[row] = ${store(name_(v), dt[v])};`).join('\n')}
    }` : '';
  const strided = ins.map((x, k) => k).filter((k) => ins[k].mode === 'strided');
  const params = [
    ...p.outputs.map((v, m) => `${stype(dt[v])}* __restrict__ out${m}`),
    ...ins.map((x, k) => `const ${stype(x.dtype)}* __restrict__ a${k}`),
    `Vec<${lead}, ${I}> lshape`,
    ...strided.flatMap((k) => [`Vec<${lead}, ${I}> ls${k}`, `${I} l${k}`]),
    `${I} rows`, `${I} n`, `${I} chunk`, `${I} splits`,
  ];
  const bases = strided.length ? `
    ${I} rr = row${strided.map((k) => `, b${k} = 0`).join('')};
    for (int d = ${lead - 1}; d >= 0; d--) {
      const ${I} c = rr % lshape.v[d];
      rr /= lshape.v[d];
      ${strided.map((k) => `b${k} += c * ls${k}.v[d];`).join(' ')}
    }` : '';
  const source = `${PRELUDE}
extern "C" __global__ void __launch_bounds__(${threads}) ${name}(${params.join(', ')}) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
  (void)lane; (void)warp; (void)nw;
  for (${I} row = blockIdx.x; row < rows; row += gridDim.x) {${bases}
${phases.join('\n')}
${finalFull}
${finalRow}
  }
}
`;
  return { name, source };
}

/** Most chunks a row is split into (reduce.ts splits long rows when there are few). */
const MAX_SPLITS = 256;

/**
 * How reduce.ts would reduce `rows` rows of n: one warp per row up to 256 elements, else a
 * block of 256 threads, and long rows (n >= 8192) in chunks when rows cannot fill the GPU.
 */
export function rowPlan(rows: number, n: number, sms: number): { threads: number; splits: number; chunk: number } {
  let splits = 1;
  if (n >= 8192 && rows < sms * 8) splits = Math.min(Math.ceil((sms * 8) / rows), Math.ceil(n / 4096), MAX_SPLITS);
  const chunk = Math.ceil(n / splits);
  return { threads: chunk > 256 ? 256 : 32, splits, chunk };
}

function runRows(ctx: CudaContext, key: string, p: FusedParams, ins: CudaArg[], results: CudaBuffer[]): void {
  const F = broadcastShapes('fused', ...ins.map((x) => x.shape));
  const n = F[F.length - 1], rows = sizeOf(F.slice(0, -1));
  if (n * rows === 0) return;
  const leadShape = F.slice(0, -1);
  const strides = ins.map((x) => broadcastStrides(x.shape, F));
  const modes: RowMode[] = ins.map((x, k) => {
    const size = sizeOf(x.shape);
    if (size === 1) return 'scalar';
    if (size === rows * n && strides[k][F.length - 1] === 1) return 'full';
    if (size === rows && strides[k][F.length - 1] === 0) return 'row';
    return 'strided';
  });
  const c = collapse(leadShape.length ? leadShape : [1], strides.map((s) => (leadShape.length ? s.slice(0, -1) : [0])));
  const wide = rows * n > WIDE || ins.some((x) => sizeOf(x.shape) > WIDE);
  const { threads, splits, chunk } = rowPlan(rows, n, ctx.rt.info.sms);
  const layout = `${ins.map((x, k) => `${x.dtype.name}:${modes[k]}`).join(',')}|${c.shape.length}|${wide}|${threads}`;
  const fn = ctx.kernels.get(`${key}|${layout}`, () => renderFusedRows('fused_rows', p, ins.map((x, k) => ({ dtype: x.dtype, mode: modes[k] })), c.shape.length, wide, threads));
  const a = ctx.rt.args.reset();
  for (const o of results) a.ptr(o.ptr);
  for (const x of ins) a.ptr(x.buf.ptr);
  a.vec(c.shape, wide);
  ins.forEach((_, k) => { if (modes[k] === 'strided') a.vec(c.strides[k], wide).idx(strides[k][F.length - 1], wide); });
  a.idx(rows, wide).idx(n, wide).idx(chunk, wide).idx(splits, wide);
  ctx.rt.launch(fn, [Math.max(1, Math.min(rows, ctx.rt.info.sms * 16)), 1, 1], [threads, 1, 1]);
}

// Cache keys per program, by identity: replays of a compiled function reuse the params object.
const keys = new WeakMap<FusedParams, string>();

const fused: CudaKernel = (ins, outs, params: FusedParams, ctx) => {
  const results = outs.map((o) => ctx.alloc(o));
  let key = keys.get(params);
  if (!key) { key = `fused|${JSON.stringify(params)}`; keys.set(params, key); }
  if (params.rows) { runRows(ctx, key, params, ins, results); return results; }
  runLoop(ctx, key, (layout, nd, wide, vec) => renderFused('fused', params, layout, nd, wide, vec), ins.map((arg) => ({ arg })), results, outs[0].shape, outs.map((o) => o.dtype));
  return results;
};

const compileInput: CudaKernel = () => {
  throw new Error('[compile] cannot evaluate an array while its compiled function is being traced: the inputs are stand-ins without data. Read values (item, tolist, eval) outside the compiled function, or pass them as non-array arguments');
};

registerCudaKernels({ fused: fused as CudaKernel, compileInput });
registerRowFusion('gpu');
