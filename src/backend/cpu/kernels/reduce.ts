// CPU reductions. Inputs are viewed as (outer, reduced, inner) after moving reduced axes
// together; each op is an init value, a combine step and a final step, compiled per dtype.
import { DType, TypedArray, allocStorage } from '../../../core/dtype.js';
import { CpuKernel, CpuArg, registerCpuKernels, allocOut } from '../backend.js';
import { loadExpr, storeExpr, copyStrided } from '../codegen.js';
import type { ReduceParams } from '../../../core/ops/reduce.js';

export interface ReduceOp {
  /** Initial accumulator (JS source), for the input dtype. */
  init: (d: DType) => string;
  /** New accumulator from `acc` and value `v`. */
  combine: (d: DType) => string;
  /** Output value from `acc` and the count `n` of reduced elements. */
  final?: (d: DType) => string;
  /** Dtype the input is computed in (before loading), if not its own. */
}

const isBig = (d: DType) => d.isBig;
const zero = (d: DType) => (isBig(d) ? '0n' : '0');
const wrapInt = (d: DType, e: string) => (d.name === 'int32' ? `((${e}) | 0)` : d.name === 'uint32' ? `((${e}) >>> 0)` : e);

export const reduceOps: Record<string, ReduceOp> = {
  sum: { init: zero, combine: (d) => wrapInt(d, 'acc + v') },
  prod: { init: (d) => (isBig(d) ? '1n' : '1'), combine: (d) => (d.name === 'int32' || d.name === 'uint32' ? 'Math.imul(acc, v)' : isBig(d) ? 'BigInt.asIntN(64, acc * v)' : 'acc * v') },
  max: { init: (d) => (d.isFloat ? '-Infinity' : isBig(d) ? '-(2n ** 64n)' : '-Infinity'), combine: (d) => (d.isFloat ? '(v > acc || v !== v ? v : acc)' : '(v > acc ? v : acc)') },
  min: { init: (d) => (d.isFloat ? 'Infinity' : isBig(d) ? '2n ** 64n' : 'Infinity'), combine: (d) => (d.isFloat ? '(v < acc || v !== v ? v : acc)' : '(v < acc ? v : acc)') },
  all: { init: () => 'true', combine: (d) => (isBig(d) ? 'acc && v !== 0n' : 'acc && !!v') },
  any: { init: () => 'false', combine: (d) => (isBig(d) ? 'acc || v !== 0n' : 'acc || !!v') },
};

type RowFn = (out: TypedArray, src: TypedArray, outer: number, n: number, inner: number) => void;
const cache = new Map<string, RowFn>();

/** out[o, i] = reduce_j src[o, j, i]: one loop nest per (op, dtypes). */
function compile(op: string, inD: DType, outD: DType): RowFn {
  const key = `${op}|${inD.name}|${outD.name}`;
  let fn = cache.get(key);
  if (fn) return fn;
  const r = reduceOps[op];
  const conv = (v: string) => (outD.isBig && !inD.isBig ? `BigInt(${v})` : !outD.isBig && inD.isBig ? v : v);
  const init = r.init(outD.isBig ? outD : inD);
  const combine = r.combine(outD.isBig ? outD : inD);
  const fin = r.final ? r.final(outD) : 'acc';
  const src = `
const { F16, BF16, toF16, toBF16 } = H;
return function reduce(out, src, outer, n, inner) {
  if (inner === 1) {
    for (let o = 0; o < outer; o++) {
      let acc = ${init};
      const base = o * n;
      for (let j = 0; j < n; j++) { const v = ${conv(loadExpr('src[base + j]', inD))}; acc = ${combine}; }
      out[o] = ${storeExpr(fin, outD)};
    }
    return;
  }
  const accs = new Array(inner);
  for (let o = 0; o < outer; o++) {
    accs.fill(${init});
    for (let j = 0; j < n; j++) {
      const base = (o * n + j) * inner;
      for (let i = 0; i < inner; i++) { const v = ${conv(loadExpr('src[base + i]', inD))}; const acc = accs[i]; accs[i] = ${combine}; }
    }
    for (let i = 0; i < inner; i++) { const acc = accs[i]; out[o * inner + i] = ${storeExpr(fin, outD)}; }
  }
};`;
  fn = new Function('H', src)(halfHelpers) as RowFn;
  cache.set(key, fn);
  return fn;
}
import { F16_TABLE, BF16_TABLE, toF16, toBF16 } from '../../../core/half.js';
const halfHelpers = { F16: F16_TABLE, BF16: BF16_TABLE, toF16, toBF16 };

/**
 * Arranges `x` so the reduced axes form one contiguous block: returns its storage and the
 * (outer, n, inner) sizes. Copies only when the reduced axes are not already adjacent.
 */
export function reductionLayout(x: CpuArg, axes: number[]): { data: TypedArray; outer: number; n: number; inner: number } {
  const nd = x.shape.length;
  const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
  const n = prod(axes.map((a) => x.shape[a]));
  const adjacent = axes.every((a, i) => i === 0 || a === axes[i - 1] + 1);
  if (adjacent && axes.length) {
    const first = axes[0], last = axes[axes.length - 1];
    return { data: x.data, outer: prod(x.shape.slice(0, first)), n, inner: prod(x.shape.slice(last + 1)) };
  }
  // Move reduced axes to the end, then reduce rows.
  const keep = [...Array(nd).keys()].filter((a) => !axes.includes(a));
  const perm = [...keep, ...axes];
  const rowStrides: number[] = new Array(nd);
  let s = 1;
  for (let d = nd - 1; d >= 0; d--) { rowStrides[d] = s; s *= x.shape[d]; }
  const out = allocStorage(x.dtype, x.data.length);
  copyStrided(x.data, x.dtype, out, perm.map((p) => x.shape[p]), perm.map((p) => rowStrides[p]));
  return { data: out, outer: prod(keep.map((a) => x.shape[a])), n, inner: 1 };
}

export function runReduce(op: string, x: CpuArg, axes: number[], outDtype: DType, out: TypedArray): void {
  const { data, outer, n, inner } = reductionLayout(x, axes);
  compile(op, x.dtype, outDtype)(out, data, outer, n, inner);
}

const reduceKernel = (op: string): CpuKernel => ([x], [out], params: ReduceParams) => {
  const o = allocOut(out);
  runReduce(op, x, params.axes, out.dtype, o);
  return [o];
};

registerCpuKernels(Object.fromEntries(Object.keys(reduceOps).map((op) => [op, reduceKernel(op)])));
