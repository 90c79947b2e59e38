// Loads test/fixtures/nn_torch/nn_torch.json (made by scripts/fixtures/nn_torch.py on a
// machine with PyTorch, float64 throughout) and compares lathe arrays to its values.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as mx from '../../src/index.js';

export type Nested = number | Nested[];
export const torchCases = (JSON.parse(readFileSync(new URL('../fixtures/nn_torch/nn_torch.json', import.meta.url), 'utf8')) as { cases: Record<string, any> }).cases;

/** A float64 array from nested JS lists. */
export const f64 = (v: Nested): mx.Array => mx.array(v as mx.NestedArray, 'float64');

/** Asserts the shape of `expected` and |got - expected| <= atol + rtol |expected| everywhere. */
export function assertNear(got: mx.Array, expected: Nested, where: string, rtol = 1e-9, atol = 1e-10): void {
  const want = f64(expected);
  assert.deepEqual([...got.shape], [...want.shape], `${where}: shape`);
  const g = got.dataSync(), w = want.dataSync();
  for (let i = 0; i < w.length; i++) {
    const a = Number(g[i]), b = Number(w[i]);
    assert.ok(Math.abs(a - b) <= atol + rtol * Math.abs(b), `${where}: element ${i}: got ${a}, expected ${b}`);
  }
}
