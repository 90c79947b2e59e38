// Test helpers: decoding golden arguments and comparing arrays with dtype-aware tolerances.
import assert from 'node:assert/strict';
import * as mx from '../src/index.js';

export interface Encoded { dtype: string; shape: number[]; data: (number | string | boolean)[] }
export type GoldenArg = Encoded | { weak: number | boolean } | { value: unknown } | { list: GoldenArg[] } | { slice: (number | null)[] };

export function decodeValue(v: number | string | boolean): number | boolean | bigint {
  if (v === 'nan') return NaN;
  if (v === 'inf') return Infinity;
  if (v === '-inf') return -Infinity;
  if (typeof v === 'string') return BigInt(v);
  return v;
}

export function decode(e: Encoded): mx.Array {
  const flat = e.data.map(decodeValue);
  const dtype = e.dtype as mx.DTypeName;
  const a = mx.array(flat.length ? (flat as never) : [], dtype);
  return mx.reshape(a, e.shape);
}

export function decodeArg(arg: GoldenArg): unknown {
  if ('weak' in arg) return arg.weak;
  if ('value' in arg) return arg.value;
  if ('list' in arg) return arg.list.map(decodeArg); // a JS array of arguments (concatenate's arrays)
  if ('slice' in arg) return mx.s(...arg.slice); // an index slice, start:stop:step
  return decode(arg);
}

/** Default tolerances by result dtype: about one unit in the last place, more for halves. */
export function tolerance(dtype: string): { rtol: number; atol: number } {
  switch (dtype) {
    case 'float16': return { rtol: 2e-3, atol: 2e-3 };
    case 'bfloat16': return { rtol: 1.6e-2, atol: 1.6e-2 };
    case 'float32': return { rtol: 2e-5, atol: 1e-6 };
    case 'float64': return { rtol: 1e-12, atol: 1e-14 };
    default: return { rtol: 0, atol: 0 };
  }
}

/** Asserts `actual` has the expected dtype, shape and values (NaN where NaN is expected). */
export function assertArrayClose(actual: mx.Array, expected: Encoded, where: string, tol?: { rtol?: number; atol?: number }): void {
  assert.equal(actual.dtype.name, expected.dtype, `${where}: dtype`);
  assert.deepEqual([...actual.shape], expected.shape, `${where}: shape`);
  const got = actual.dataSync();
  const def = tolerance(expected.dtype);
  const rtol = tol?.rtol ?? def.rtol, atol = tol?.atol ?? def.atol;
  for (let i = 0; i < expected.data.length; i++) {
    const e = decodeValue(expected.data[i]);
    const g = got[i];
    if (typeof e === 'bigint') { assert.equal(BigInt(g as bigint), e, `${where}: element ${i}`); continue; }
    if (typeof e === 'boolean') { assert.equal(Boolean(g), e, `${where}: element ${i}`); continue; }
    const gv = Number(g);
    if (Number.isNaN(e)) { assert.ok(Number.isNaN(gv), `${where}: element ${i}: expected nan, got ${gv}`); continue; }
    if (!Number.isFinite(e)) { assert.equal(gv, e, `${where}: element ${i}`); continue; }
    const ok = Math.abs(gv - e) <= atol + rtol * Math.abs(e);
    assert.ok(ok, `${where}: element ${i}: expected ${e}, got ${gv} (rtol ${rtol}, atol ${atol})`);
  }
}
