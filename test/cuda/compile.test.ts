// compile() on the GPU: elementwise chains become one generated CUDA kernel ('fused')
// whose results equal the eager ones, for float, half and integer programs.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { skip, rand, check, pair, mx } from './util.js';

const d = mx.dtypes;

describe('cuda: compile (fused kernels)', { skip }, () => {
  test('a fused float chain equals the eager CPU result', () => {
    const f = (x: mx.Array, y: mx.Array) => mx.multiply(mx.exp(mx.subtract(x, y)), mx.where(mx.greater(x, 0), x, mx.negative(y)));
    const g = mx.compile(f);
    for (const dt of [d.float32, d.float16, d.bfloat16]) {
      check(`fused ${dt.name}`, [{ values: rand(600, 110, -2, 2), shape: [20, 30], dtype: dt }, { values: rand(30, 111, -2, 2), shape: [30], dtype: dt }],
        (a, b) => (a.device.type === 'gpu' ? g(a, b) : f(a, b)));
    }
  });

  test('integer programs wrap as the unfused ops do; several outputs', () => {
    const f = (x: mx.Array, y: mx.Array) => {
      const s = mx.add(mx.multiply(x, 3), mx.astype(mx.greater(x, y), x.dtype));
      return [mx.bitwiseXor(s, y), mx.remainder(s, mx.add(y, 7))];
    };
    const g = mx.compile(f);
    for (const dt of [d.int8, d.int32, d.uint16, d.int64]) for (const k of [0, 1]) {
      check(`fused ${dt.name} out ${k}`, [{ values: rand(64, 112, 0, 100), shape: [8, 8], dtype: dt }, { values: rand(8, 113, 0, 100), shape: [8, 1], dtype: dt }],
        (a, b) => (a.device.type === 'gpu' ? g(a, b) : f(a, b))[k]);
    }
  });

  test('fused kernels give exactly the eager GPU results (no FMA contraction, halves rounded per op)', () => {
    const programs: [string, mx.DType, (a: mx.Array, b: mx.Array) => mx.Array][] = [
      ['multiply-add', mx.float32, (a, b) => mx.add(mx.multiply(a, b), b)],
      ['chain', mx.float16, (a, b) => mx.sigmoid(mx.subtract(mx.multiply(a, 3.3), mx.exp(b)))],
      ['bf16 chain', mx.bfloat16, (a, b) => mx.log1p(mx.abs(mx.add(mx.multiply(a, b), 0.5)))],
      ['int8 wraps', mx.int8, (a, b) => mx.subtract(mx.multiply(a, a), b)],
    ];
    for (const [name, dt, f] of programs) {
      const a = pair(rand(300, 114, -3, 3), [10, 30], dt).gpu, b = pair(rand(30, 115, -3, 3), [30], dt).gpu;
      const want = f(a, b).dataSync(), got = mx.compile(f)(a, b).dataSync();
      for (let i = 0; i < want.length; i++) assert.ok(Object.is(got[i], want[i]), `${name}: element ${i}: fused ${got[i]}, eager ${want[i]}`);
    }
  });
});
