// The dispatch every fast op goes through: a backend without a kernel for the primitive runs
// the reference (and autodiff goes through the reference), one with a kernel gets the node;
// and lathe/fast works as the first import.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as mx from '../../src/index.js';
import { defineFast, hasKernel } from '../../src/fast/primitive.js';
import { registerCpuKernels } from '../../src/backend/cpu/backend.js';
import { primitiveOf } from './helpers.js';

// A primitive no backend has a kernel for: 2x + 1, with a reference built from basic ops.
const Twice = defineFast<{ shift: number }>({
  name: 'fastTestAffine',
  reference: ([x], { shift }) => [mx.add(mx.multiply(x, 2), shift)],
});
const affine = (x: mx.Array) => Twice.apply([x], { shift: 1 }, [{ shape: x.shape, dtype: x.dtype }], x.stream)[0];

test('without a kernel the reference runs, and gradients flow through it', () => {
  const stream = mx.defaultStream(mx.cpu);
  assert.equal(hasKernel('fastTestAffine', stream), false);
  const x = mx.array([1, 2, 3], 'float32');
  const y = affine(x);
  assert.equal(primitiveOf(y), 'add', 'the reference graph, not the primitive');
  assert.deepEqual(y.tolist(), [3, 5, 7]);
  assert.deepEqual(mx.grad((x: mx.Array) => mx.sum(affine(x)))(x).tolist(), [2, 2, 2]);
});

test('once a backend registers a kernel under the name, the op binds the primitive and its derived rules hold', () => {
  registerCpuKernels({ fastTestAffine: (ins) => [Float32Array.from(ins[0].data as Float32Array, (v) => 2 * v + 1)] });
  assert.equal(hasKernel('fastTestAffine', mx.defaultStream(mx.cpu)), true);
  const x = mx.array([1, 2, 3], 'float32');
  const y = affine(x);
  assert.equal(primitiveOf(y), 'fastTestAffine');
  assert.deepEqual(y.tolist(), [3, 5, 7]);
  // vjp, jvp and vmap rules derived from the reference.
  assert.deepEqual(mx.grad((x: mx.Array) => mx.sum(affine(x)))(x).tolist(), [2, 2, 2]);
  assert.deepEqual(mx.jvp(affine, [x], [mx.ones([3])])[1][0].tolist(), [2, 2, 2]);
  assert.deepEqual(mx.vmap(affine, 1)(mx.reshape(mx.arange(6, undefined, undefined, 'float32'), [3, 2])).tolist(), [[1, 5, 9], [3, 7, 11]]);
});

test('lathe/fast can evaluate arrays when imported first', () => {
  const code = "const f = await import('./src/fast/index.ts'); const mx = await import('./src/core/index.ts');" +
    'console.log(f.rmsNorm(mx.array([[3.5, 4]]), null, 0).tolist().join(","));';
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), [3.5, 4].map((v) => Math.fround(v * Math.fround(1 / Math.fround(Math.sqrt(Math.fround(28.25 / 2)))))).join(','));
});
