// CUDA kernel for compile()'s 'fused' primitive: the program becomes one generated loop,
// each intermediate a local built from the same per-op expressions as the eager kernels.
// An intermediate that feeds another op is rounded as storing it would round it (a half
// round trip, integer wrapping, bools to 0/1), so fused results equal the unfused graph's.
import type { DType } from '../../../core/dtype.js';
import { dtypes } from '../../../core/dtype.js';
import type { FusedOp, FusedParams } from '../../../core/transforms/fused.js';
import type { KernelSource } from '../compiler.js';
import { registerCudaKernels, CudaKernel } from '../backend.js';
import { ctype, stype, load, store } from './ctypes.js';
import { unaryCuda, binaryCuda, castCuda, renderLoop, runLoop, EwInput } from './elementwise.js';

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

// Cache keys per program, by identity: replays of a compiled function reuse the params object.
const keys = new WeakMap<FusedParams, string>();

const fused: CudaKernel = (ins, outs, params: FusedParams, ctx) => {
  const results = outs.map((o) => ctx.alloc(o));
  let key = keys.get(params);
  if (!key) { key = `fused|${JSON.stringify(params)}`; keys.set(params, key); }
  runLoop(ctx, key, (layout, nd, wide, vec) => renderFused('fused', params, layout, nd, wide, vec), ins.map((arg) => ({ arg })), results, outs[0].shape, outs.map((o) => o.dtype));
  return results;
};

const compileInput: CudaKernel = () => {
  throw new Error('[compile] cannot evaluate an array while its compiled function is being traced: the inputs are stand-ins without data. Read values (item, tolist, eval) outside the compiled function, or pass them as non-array arguments');
};

registerCudaKernels({ fused: fused as CudaKernel, compileInput });
