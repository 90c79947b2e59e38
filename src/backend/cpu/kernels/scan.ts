// CPU scans. The input is viewed as (outer, n, inner) around the scanned axis: rows
// (inner = 1) run one accumulator down each row; otherwise a whole accumulator row
// advances one input row at a time, so no axis is ever transposed. Floats accumulate in
// float64 and round once per output; integers wrap in their dtype at every step, as MLX.
import type { DType, TypedArray } from '../../../core/dtype.js';
import { CpuKernel, registerCpuKernels, allocOut } from '../backend.js';
import { loadExpr, storeExpr } from '../codegen.js';
import { monoids, Monoid, compileKernel } from './reduce.js';
import type { ScanParams } from '../../../core/ops/scan.js';

// logaddexp that keeps NaN (the shared helper lets a later -inf or +inf hide it).
const logaddexp: Monoid = {
  init: () => '-Infinity',
  step: (a, b) => `(${a} !== ${a} || ${b} !== ${b} ? NaN : lae(${a}, ${b}))`,
};
const scanOps: Record<string, Monoid> = { cumsum: monoids.sum, cumprod: monoids.prod, cummax: monoids.max, cummin: monoids.min, logcumsumexp: logaddexp };

type ScanFn = (out: TypedArray, src: TypedArray, outer: number, n: number, inner: number) => void;
const cache = new Map<string, ScanFn>();

function scanSource(m: Monoid, d: DType, outD: DType, reverse: boolean, inclusive: boolean): string {
  const I = m.init(outD);
  const L = (k: string) => loadExpr(`src[${k}]`, d);
  // One step at storage index k: emit the running value before (exclusive) or after (inclusive) adding x[k].
  const step = (acc: string, k: string, o: string) => {
    const next = m.step(acc, 'v', outD);
    return inclusive
      ? `const v = ${L(k)}; ${acc} = ${next}; ${o} = ${storeExpr(acc, outD)};`
      : `const v = ${L(k)}; ${o} = ${storeExpr(acc, outD)}; ${acc} = ${next};`;
  };
  const rowLoop = reverse ? 'for (let k = b + n - 1; k >= b; k--)' : 'for (let k = b; k < b + n; k++)';
  const colLoop = reverse ? 'for (let j = n - 1; j >= 0; j--)' : 'for (let j = 0; j < n; j++)';
  const acc = outD.isBig ? 'new Array(inner)' : 'new Float64Array(inner)';
  return `
function lae(a, b) {
  const m = a > b ? a : b;
  return m === Infinity || m === -Infinity ? m : m + Math.log1p(Math.exp(-Math.abs(a - b)));
}
function advance(acc, out, src, k0, inner) {
  for (let i = 0; i < inner; i++) { let a = acc[i]; ${step('a', 'k0 + i', 'out[k0 + i]')} acc[i] = a; }
}
return function scan(out, src, outer, n, inner) {
  if (inner === 1) {
    for (let o = 0, b = 0; o < outer; o++, b += n) {
      let a = ${I};
      ${rowLoop} { ${step('a', 'k', 'out[k]')} }
    }
    return;
  }
  const acc = ${acc};
  for (let o = 0; o < outer; o++) {
    acc.fill(${I});
    ${colLoop} advance(acc, out, src, (o * n + j) * inner, inner);
  }
};`;
}

const scanKernel = (op: string): CpuKernel => ([x], [out], { axis, reverse, inclusive }: ScanParams) => {
  const o = allocOut(out);
  const shape = x.shape;
  const size = (ds: readonly number[]) => ds.reduce((a, b) => a * b, 1);
  const key = `${op}|${x.dtype.name}|${out.dtype.name}|${reverse}|${inclusive}`;
  let fn = cache.get(key);
  if (!fn) { fn = compileKernel<ScanFn>(scanSource(scanOps[op], x.dtype, out.dtype, reverse, inclusive)); cache.set(key, fn); }
  fn(o, x.data, size(shape.slice(0, axis)), shape[axis], size(shape.slice(axis + 1)));
  return [o];
};

registerCpuKernels(Object.fromEntries(Object.keys(scanOps).map((op) => [op, scanKernel(op)])));
