// Shared pieces of the fast-op kernels: reading rows of any dtype as floats (in place for
// float32/float64 storage, through float64 scratch otherwise), writing them back, and an
// exp without a call into C per element.
import type { DType, TypedArray } from '../../../../core/dtype.js';
import { F16_TABLE, BF16_TABLE, toF16, toBF16 } from '../../../../core/half.js';
import type { CpuArg } from '../../backend.js';
import type { Floats } from '../../blas.js';

export type { Floats };

/** Reads n values of `src` (stored as `dtype`) from `off` into `dst` from `dOff`. */
export function load(src: TypedArray, dtype: DType, off: number, n: number, dst: Floats, dOff = 0): void {
  if (dtype.name === 'float16') for (let i = 0; i < n; i++) dst[dOff + i] = F16_TABLE[src[off + i] as number];
  else if (dtype.name === 'bfloat16') for (let i = 0; i < n; i++) dst[dOff + i] = BF16_TABLE[src[off + i] as number];
  else if (dtype.name === 'int64' || dtype.name === 'uint64') for (let i = 0; i < n; i++) dst[dOff + i] = Number(src[off + i]);
  else for (let i = 0; i < n; i++) dst[dOff + i] = src[off + i] as number;
}

/** Writes n values of `src` from `sOff` to `out` (stored as `dtype`) from `off`, rounding once. */
export function store(out: TypedArray, dtype: DType, off: number, n: number, src: Floats, sOff = 0): void {
  if (dtype.name === 'float16') for (let i = 0; i < n; i++) out[off + i] = toF16(src[sOff + i]);
  else if (dtype.name === 'bfloat16') for (let i = 0; i < n; i++) out[off + i] = toBF16(src[sOff + i]);
  else for (let i = 0; i < n; i++) out[off + i] = src[sOff + i];
}

/** A whole (small) array as float64 values. */
export function loadAll(a: CpuArg): Float64Array {
  const out = new Float64Array(a.data.length);
  load(a.data, a.dtype, 0, out.length, out);
  return out;
}

/** Whether `dtype`'s storage can be computed in directly (float32 and float64). */
export const isDirect = (dtype: DType): boolean => dtype.name === 'float32' || dtype.name === 'float64';

/**
 * Reads rows of one input: `at(off, n)` gives [array, offset] holding the values
 * storage[off .. off + n) as floats, the storage itself where it is float32/float64.
 */
export function rowReader(a: CpuArg, maxN: number): (off: number, n: number) => [Floats, number] {
  if (isDirect(a.dtype)) return (off) => [a.data as Floats, off];
  const scratch = new Float64Array(maxN);
  return (off, n) => { load(a.data, a.dtype, off, n, scratch); return [scratch, 0]; };
}

/**
 * Writes rows of one output: `at(off)` gives [array, offset] to write row values to, and
 * `done(off, n)` stores them when they went to scratch (halves).
 */
export function rowWriter(out: TypedArray, dtype: DType, maxN: number) {
  const direct = isDirect(dtype), scratch = direct ? null : new Float64Array(maxN);
  return {
    at: (off: number): [Floats, number] => (scratch ? [scratch, 0] : [out as Floats, off]),
    done: (off: number, n: number): void => { if (scratch) store(out, dtype, off, n, scratch); },
  };
}

/** Rounding of the dtype statistics are computed in (float32 for halves, as the references do). */
export const statsRound = (d: DType): ((v: number) => number) => (d.name === 'float64' ? (v) => v : Math.fround);

// exp without a call into C per element (Math.exp is one): x = (32k + j)·ln2/32 + r with
// |r| ≤ ln2/64, exp(x) = 2^k · 2^(j/32) · p(r), p the degree-5 Taylor polynomial (relative
// error < 3e-15, far below float32's rounding). float64 work keeps Math.exp.
const EXP_J = Float64Array.from({ length: 32 }, (_, j) => 2 ** (j / 32));
const EXP_M = Float64Array.from({ length: 2200 }, (_, m) => 2 ** (m - 1100));
const EXP_INV = 32 / Math.LN2, EXP_HI = Math.fround(Math.LN2 / 32), EXP_LO = Math.LN2 / 32 - EXP_HI;
export function expf(x: number): number {
  if (!(x > -745 && x < 709.7)) return x !== x ? x : x > 0 ? Infinity : 0;
  const k = Math.round(x * EXP_INV);
  const r = x - k * EXP_HI - k * EXP_LO; // k·EXP_HI is exact: EXP_HI has 24 significant bits
  const p = 1 + r * (1 + r * (0.5 + r * (1 / 6 + r * (1 / 24 + r * (1 / 120)))));
  return EXP_J[k & 31] * EXP_M[(k >> 5) + 1100] * p;
}
