// Shared helpers for the fast-op tests: seeded inputs, closeness checks with per-dtype
// tolerances, and values/gradients of an op against its reference.
import assert from 'node:assert/strict';
import * as mx from '../../src/index.js';

export const DTYPES = ['float32', 'float16', 'bfloat16'] as const;
export type FloatName = (typeof DTYPES)[number] | 'float64';

/**
 * Tolerances of a kernel against its reference, by dtype. Both round to the dtype once or
 * twice from float32/float64 work, so halves differ by a few units in the last place:
 * float16 has 11 significant bits (ulp 2^-10 ≈ 1e-3), bfloat16 8 (ulp 2^-7 ≈ 8e-3).
 */
export const TOL: Record<FloatName, { rtol: number; atol: number }> = {
  float64: { rtol: 1e-10, atol: 1e-12 },
  float32: { rtol: 2e-5, atol: 2e-5 },
  float16: { rtol: 4e-3, atol: 4e-3 },
  bfloat16: { rtol: 3e-2, atol: 3e-2 },
};

let seed = 1;
/** Standard normal values (times `scale`) in `dtype`, from a fresh seeded key. */
export function randn(shape: number[], dtype: FloatName = 'float32', scale = 1): mx.Array {
  const x = mx.random.normal(shape, 'float32', null, null, mx.random.key(seed++));
  return mx.astype(scale === 1 ? x : mx.multiply(x, scale), dtype);
}

export function randint(lo: number, hi: number, shape: number[]): mx.Array {
  return mx.random.randint(lo, hi, shape, 'int32', mx.random.key(seed++));
}

function values(a: mx.Array): Float64Array {
  return Float64Array.from(mx.astype(a, 'float64').dataSync() as Float64Array);
}

/** Asserts |a - b| <= atol + rtol |b| everywhere (same shape; NaN only where b is NaN). */
export function assertClose(a: mx.Array, b: mx.Array, tol: { rtol: number; atol: number }, where: string): void {
  assert.deepEqual([...a.shape], [...b.shape], `${where}: shape`);
  const av = values(a), bv = values(b);
  let worst = 0, at = -1;
  for (let i = 0; i < av.length; i++) {
    if (Number.isNaN(bv[i])) { assert.ok(Number.isNaN(av[i]), `${where}: element ${i} should be NaN, got ${av[i]}`); continue; }
    if (av[i] === bv[i]) continue;
    const excess = Math.abs(av[i] - bv[i]) - (tol.atol + tol.rtol * Math.abs(bv[i]));
    if (!(excess <= worst)) { worst = Number.isNaN(excess) ? Infinity : excess; at = i; }
  }
  assert.ok(at < 0, `${where}: element ${at}: got ${av[at]}, expected ${bv[at]} (rtol ${tol.rtol}, atol ${tol.atol})`);
}

/** x ↦ sum(f(x) · w) for a fixed random w: a scalar whose gradient checks every output element. */
export function projector(outShape: number[]): (f: (...xs: mx.Array[]) => mx.Array) => (...xs: mx.Array[]) => mx.Array {
  const w = randn(outShape, 'float32');
  return (f) => (...xs) => mx.sum(mx.multiply(mx.astype(f(...xs), 'float32'), w));
}

/**
 * Compares op and reference on the same inputs: values, then gradients with respect to
 * `argnums` (through a random projection of the output), with the dtype's tolerance
 * times `gradScale` for gradients (they sum over rows).
 */
export function compareWithReference(name: string, op: (...xs: mx.Array[]) => mx.Array, ref: (...xs: mx.Array[]) => mx.Array,
  inputs: mx.Array[], argnums: number[], dtype: FloatName, gradScale = 1): void {
  const y = op(...inputs), r = ref(...inputs);
  assert.equal(y.dtype.name, r.dtype.name, `${name}: dtype`);
  assertClose(y, r, TOL[dtype], `${name} ${dtype} values`);
  if (!argnums.length) return;
  const project = projector([...r.shape]);
  const gOp = mx.grad(project(op), argnums)(...inputs) as mx.Array[];
  const gRef = mx.grad(project(ref), argnums)(...inputs) as mx.Array[];
  const tol = { rtol: TOL[dtype].rtol * gradScale, atol: TOL[dtype].atol * gradScale };
  argnums.forEach((a, i) => {
    assert.equal(gOp[i].dtype.name, gRef[i].dtype.name, `${name} gradient ${a}: dtype`);
    assertClose(gOp[i], gRef[i], tol, `${name} ${dtype} gradient ${a}`);
  });
}

/** The primitive of the node that computes `a` (null once evaluated without a graph). */
export function primitiveOf(a: mx.Array): string | null {
  return a._node?.prim.name ?? null;
}
