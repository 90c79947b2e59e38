// Loads test/fixtures/nn_layers.json (made by scripts/fixtures/nn_layers.py) and compares arrays to it.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as mx from '../../src/index.js';

export interface Enc { shape: number[]; data: number[]; dtype?: string }
export interface ActivationCase { name: string; x: Enc; out: Enc }
export interface LayerCase {
  name: string; args: unknown[]; params: [string, Enc][]; inputs: Enc[]; out: Enc;
  offset?: number; mask?: string | null; running_mean?: Enc; running_var?: Enc;
}

export const fixture = JSON.parse(readFileSync(new URL('../fixtures/nn_layers.json', import.meta.url), 'utf8')) as {
  activations: ActivationCase[]; layers: LayerCase[];
};

export const dec = (e: Enc, dtype: mx.DTypeLike = 'float32'): mx.Array => mx.reshape(mx.array(e.data, (e.dtype as mx.DTypeName) ?? dtype), e.shape);

/** Asserts shape and values within atol + rtol |expected|. */
export function assertClose(actual: mx.Array, expected: Enc, where: string, rtol = 1e-4, atol = 1e-5): void {
  assert.deepEqual([...actual.shape], expected.shape, `${where}: shape`);
  const got = actual.dataSync();
  expected.data.forEach((e, i) => {
    const g = Number(got[i]);
    assert.ok(Math.abs(g - e) <= atol + rtol * Math.abs(e), `${where}: element ${i}: expected ${e}, got ${g}`);
  });
}
