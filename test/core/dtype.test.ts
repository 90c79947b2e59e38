// Dtypes: half-precision conversion bit by bit, promotion, weak scalars, signed zeros.
// NumPy's float16 conversions are checked value by value in the elementwise goldens
// (astype float32->float16 and float64->float16 over ties); here every bit pattern.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as mx from '../../src/index.js';
import { F16_TABLE, BF16_TABLE, toF16, toBF16 } from '../../src/core/half.js';

const isNaN16 = (h: number) => (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0;
const isNaNBF = (h: number) => (h & 0x7f80) === 0x7f80 && (h & 0x7f) !== 0;
const hex = (h: number) => `0x${h.toString(16)}`;

test('float16: every bit pattern survives a round trip, -0 included', () => {
  for (let h = 0; h < 65536; h++) {
    if (isNaN16(h)) { assert.ok(isNaN16(toF16(F16_TABLE[h])), `NaN ${hex(h)}`); continue; }
    assert.equal(toF16(F16_TABLE[h]), h, `bits ${hex(h)}`);
  }
  assert.ok(Object.is(F16_TABLE[0x8000], -0));
  assert.equal(toF16(-0), 0x8000);
});

test('float16: ties round to even, and values just off a tie round once from float64', () => {
  for (const sign of [0, 0x8000]) {
    for (let h = sign; h < sign + 0x7bff; h++) {
      const lo = F16_TABLE[h], hi = F16_TABLE[h + 1];
      const tie = (lo + hi) / 2;
      const even = h & 1 ? h + 1 : h;
      assert.equal(toF16(tie), even, `tie above ${hex(h)}`);
      // 2^-40 relative is far below float32's precision: a double rounding would land on the tie
      const away = tie + (hi - lo) * 2 ** -30, toward = tie - (hi - lo) * 2 ** -30;
      assert.equal(toF16(away), h + 1, `just past the tie above ${hex(h)}`);
      assert.equal(toF16(toward), h, `just short of the tie above ${hex(h)}`);
    }
  }
});

test('float16: subnormals, underflow, overflow and NaN', () => {
  assert.equal(toF16(2 ** -24), 0x0001);
  assert.equal(toF16(2 ** -25), 0x0000); // tie with 0: even
  assert.equal(toF16(-(2 ** -25)), 0x8000);
  assert.equal(toF16(2 ** -25 * (1 + 2 ** -40)), 0x0001);
  assert.equal(toF16(3 * 2 ** -25), 0x0002); // tie between 1 and 2 ulps: even
  assert.equal(toF16(2 ** -14 - 2 ** -25), 0x0400); // largest subnormal rounds up into the normals
  assert.equal(toF16(1e-30), 0);
  assert.equal(toF16(65504), 0x7bff);
  assert.equal(toF16(65519.99), 0x7bff);
  assert.equal(toF16(65520), 0x7c00); // tie with 65536: overflows to Inf
  assert.equal(toF16(-1e300), 0xfc00);
  assert.equal(toF16(Infinity), 0x7c00);
  assert.ok(isNaN16(toF16(NaN)));
});

test('bfloat16: round trip, ties to even, single rounding from float64, NaN stays NaN', () => {
  for (let h = 0; h < 65536; h++) {
    if (isNaNBF(h)) { assert.ok(isNaNBF(toBF16(BF16_TABLE[h])), `NaN ${hex(h)}`); continue; }
    assert.equal(toBF16(BF16_TABLE[h]), h, `bits ${hex(h)}`);
  }
  for (const h of [0x0000, 0x0001, 0x007f, 0x3f80, 0x3f81, 0x4049, 0x7f7e, 0xbf80, 0xc2f7]) {
    const lo = BF16_TABLE[h], hi = BF16_TABLE[h + 1];
    const tie = (lo + hi) / 2;
    assert.equal(toBF16(tie), h & 1 ? h + 1 : h, `tie above ${hex(h)}`);
    assert.equal(toBF16(tie + Math.abs(hi - lo) * 2 ** -30 * Math.sign(hi)), h + 1, `just past the tie above ${hex(h)}`);
    assert.equal(toBF16(tie - Math.abs(hi - lo) * 2 ** -30 * Math.sign(hi)), h, `just short of the tie above ${hex(h)}`);
  }
  assert.equal(toBF16(BF16_TABLE[0x7f7f] + 2 ** 119), 0x7f80); // tie past the largest finite value: Inf (even)
  assert.equal(toBF16(BF16_TABLE[0x7f7f] + 2 ** 118), 0x7f7f);
  assert.equal(toBF16(-0), 0x8000);
  assert.ok(isNaNBF(toBF16(NaN)));
  const snan = new Float32Array(new Uint32Array([0x7f800001]).buffer)[0]; // payload only in the low bits
  assert.ok(isNaNBF(toBF16(snan)), 'a NaN whose payload is cut away stays NaN');
});

test('signed zeros survive storage and conversion in every float dtype', () => {
  for (const dt of ['float16', 'bfloat16', 'float32', 'float64'] as const) {
    assert.ok(Object.is(mx.array([-0], dt).dataSync()[0], -0), `${dt} stores -0`);
    assert.ok(Object.is(mx.negative(mx.zeros([1], dt)).dataSync()[0], -0), `${dt} negative(0)`);
    for (const to of ['float16', 'bfloat16', 'float32', 'float64'] as const)
      assert.ok(Object.is(mx.astype(mx.array([-0], dt), to).dataSync()[0], -0), `${dt} -> ${to}`);
  }
});

test('64-bit integers round once into floats', () => {
  const big = (1n << 60n) + (1n << 36n) + 1n; // just above a float32 tie: float64 first would round down
  const x = mx.array([big, -big, (1n << 63n) - 1n], 'int64');
  assert.deepEqual([...mx.astype(x, 'float32').dataSync()], [2 ** 60 + 2 ** 37, -(2 ** 60 + 2 ** 37), 2 ** 63]);
  const b = (1n << 60n) + (1n << 52n) + 1n; // just above a bfloat16 tie
  assert.deepEqual([...mx.astype(mx.array([b], 'int64'), 'bfloat16').dataSync()], [2 ** 60 + 2 ** 53]);
  const u = mx.array([(1n << 64n) - 1n], 'uint64');
  assert.deepEqual([...mx.astype(u, 'float32').dataSync()], [2 ** 64]);
  assert.deepEqual([...mx.astype(u, 'float16').dataSync()], [Infinity]);
  assert.deepEqual([...mx.astype(u, 'int8').dataSync()], [-1]);
});

test('promotion table: symmetric, idempotent, MLX entries', () => {
  for (const a of mx.allDtypes) {
    assert.equal(mx.promoteTypes(a, a), a);
    assert.equal(mx.promoteTypes(mx.bool, a), a);
    for (const b of mx.allDtypes) assert.equal(mx.promoteTypes(a, b), mx.promoteTypes(b, a), `${a.name} ${b.name}`);
  }
  const p = (a: mx.DTypeName, b: mx.DTypeName) => mx.promoteTypes(mx.dtypes[a], mx.dtypes[b]).name;
  assert.equal(p('uint64', 'int8'), 'float32');
  assert.equal(p('uint64', 'int64'), 'float32');
  assert.equal(p('uint32', 'int32'), 'int64');
  assert.equal(p('int32', 'float16'), 'float16');
  assert.equal(p('float16', 'bfloat16'), 'float32');
  assert.equal(p('int64', 'bfloat16'), 'bfloat16');
  assert.equal(p('bfloat16', 'float64'), 'float64');
});

test('weak JS scalars take the array dtype (MLX)', () => {
  const a = (dt: mx.DTypeName) => mx.zeros([2], dt);
  const r = (...args: mx.ArrayLike[]) => mx.resultType(...args).name;
  assert.equal(r(a('float16'), 1.5), 'float16');
  assert.equal(r(a('bfloat16'), 2), 'bfloat16');
  assert.equal(r(a('int32'), 2), 'int32');
  assert.equal(r(a('uint8'), 2), 'uint8');
  assert.equal(r(a('int32'), 1.5), 'float32');
  assert.equal(r(a('int64'), 1.5), 'float32');
  assert.equal(r(a('bool'), 1), 'int32');
  assert.equal(r(a('bool'), true), 'bool');
  assert.equal(r(a('int8'), true), 'int8');
  assert.equal(r(1, 1.5), 'float32');
  assert.equal(r(true, 2), 'int32');
  assert.equal(r(true), 'bool');
  assert.equal(mx.add(a('float16'), 1.5).dtype.name, 'float16');
  assert.equal(mx.multiply(2.5, a('int16')).dtype.name, 'float32');
  assert.equal(mx.divide(a('int8'), 2).dtype.name, 'float32');
  assert.throws(() => mx.add(a('uint8'), 300), { name: 'RangeError', message: /^\[add\] the scalar 300 does not fit in uint8/ });
  assert.throws(() => mx.add(a('uint32'), -1), { message: /^\[add\] the scalar -1 does not fit in uint32/ });
  assert.deepEqual([...mx.add(mx.array([100], 'int8'), 100).dataSync()], [-56]); // fits, then wraps like int8 math
});

test('dtype names, sizes and limits', () => {
  assert.equal(mx.toDtype('bfloat16'), mx.bfloat16);
  assert.throws(() => mx.toDtype('float8' as mx.DTypeName), { message: /^\[dtype\] unknown dtype 'float8'/ });
  assert.throws(() => mx.astype(mx.zeros([1]), 'int4' as mx.DTypeName), { message: /^\[astype\] unknown dtype 'int4'/ });
  assert.deepEqual(mx.allDtypes.map((d) => d.size), [1, 1, 2, 4, 8, 1, 2, 4, 8, 2, 2, 4, 8]);
  assert.ok(mx.int64.isBig && mx.uint64.isBig && !mx.int32.isBig);
  assert.ok(mx.bfloat16.isFloat && mx.uint8.isInteger && !mx.bool.isInteger);
  assert.equal(mx.iinfo(mx.int64).min, -(2n ** 63n));
  assert.equal(mx.iinfo(mx.uint32).max, 2 ** 32 - 1);
  assert.throws(() => mx.iinfo(mx.float32), { message: /^\[iinfo\]/ });
  assert.equal(mx.finfoMax(mx.float16), 65504);
  assert.equal(mx.finfoMax(mx.bfloat16), BF16_TABLE[0x7f7f]);
  assert.equal(mx.finfoMax(mx.float32), Math.fround(3.4028234663852886e38));
});
