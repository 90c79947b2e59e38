// Helpers for the CUDA tests: skipping without a GPU (one line per file), host-side random
// inputs, and comparing a GPU result with the CPU backend's on the same inputs.
import assert from 'node:assert/strict';
import * as mx from '../../src/index.js';
import { gpuUnavailableReason } from '../../src/backend/cuda/index.js';
import { tolerance } from '../util.js';

const why = gpuUnavailableReason();
/** Pass as `{ skip }` to a file's describe(): false on a machine with a usable GPU. */
export const skip: string | false = why ? `no usable GPU: ${why}` : false;

/** Deterministic uniform values in [lo, hi) (a small LCG: the same inputs on every run). */
export function rand(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(n);
  let s = (seed * 2654435761 + 1) >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = lo + (hi - lo) * (s / 2 ** 32);
  }
  return out;
}

/** The same values as an array on the CPU and one on the GPU (bools: the positive values are true). */
export function pair(values: Float32Array, shape: number[], dtype: mx.DType): { cpu: mx.Array; gpu: mx.Array } {
  if (dtype === mx.bool) values = values.map((v) => (v > 0 ? 1 : 0)); // else nearly all true
  const cpu = mx.reshape(mx.array(values, dtype, { stream: mx.cpu }), shape);
  const gpu = mx.reshape(mx.array(values, dtype, { stream: mx.gpu }), shape);
  return { cpu, gpu };
}

export interface Tol { rtol: number; atol: number }

/** Tolerances between the GPU (computing halves in float) and the CPU (in double): about 1-2 units in the last place. */
export function gpuTolerance(dtype: mx.DType): Tol {
  if (dtype.name === 'float32') return { rtol: 2e-5, atol: 2e-6 };
  return tolerance(dtype.name);
}

/** Asserts a GPU result equals the CPU's: same dtype and shape, values within `tol` (exact for integers). */
export function assertMatches(gpu: mx.Array, cpu: mx.Array, where: string, tol?: Partial<Tol>): void {
  assert.equal(gpu.device.type, 'gpu', `${where}: result should live on the GPU`);
  assert.equal(gpu.dtype, cpu.dtype, `${where}: dtype`);
  assert.deepEqual([...gpu.shape], [...cpu.shape], `${where}: shape`);
  const g = gpu.dataSync(), c = cpu.dataSync();
  const t = { ...gpuTolerance(cpu.dtype), ...tol };
  for (let i = 0; i < c.length; i++) {
    const gv = g[i], cv = c[i];
    if (typeof cv === 'bigint') { assert.equal(gv, cv, `${where}: element ${i}`); continue; }
    const a = Number(gv), b = Number(cv);
    if (Number.isNaN(b)) { assert.ok(Number.isNaN(a), `${where}: element ${i}: expected NaN, got ${a}`); continue; }
    if (!Number.isFinite(b) || !cpu.dtype.isFloat) { assert.equal(a, b, `${where}: element ${i}`); continue; }
    assert.ok(Math.abs(a - b) <= t.atol + t.rtol * Math.abs(b), `${where}: element ${i}: GPU ${a}, CPU ${b} (rtol ${t.rtol}, atol ${t.atol})`);
  }
}

/** Runs `fn` on CPU and GPU copies of the same inputs and compares the results. */
export function check(where: string, inputs: { values: Float32Array; shape: number[]; dtype: mx.DType }[], fn: (...xs: mx.Array[]) => mx.Array, tol?: Partial<Tol>): void {
  const ps = inputs.map((x) => pair(x.values, x.shape, x.dtype));
  const want = fn(...ps.map((p) => p.cpu));
  const got = fn(...ps.map((p) => p.gpu));
  assertMatches(got, want, where, tol);
}

export { mx };
