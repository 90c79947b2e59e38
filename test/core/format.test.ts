// toString() against NumPy's repr (numpy 2.4, default print options), with the dtype always
// shown as MLX does. Expected strings were printed by NumPy from the same values.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as mx from '../../src/index.js';
import { decode, type Encoded } from '../util.js';

interface Case { name: string; make: () => mx.Array; repr: string }
const enc = (dtype: string, shape: number[], data: (number | string | boolean)[]): () => mx.Array => () => decode({ dtype, shape, data } as Encoded);

const cases: Case[] = [
  { name: "int32 1-D", make: enc("int32", [3], [1, -20, 300]),
    repr: "array([  1, -20, 300], dtype=int32)" },
  { name: "int32 wraps", make: enc("int32", [30], [0, 1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10000, 11000, 12000, 13000, 14000, 15000, 16000, 17000, 18000, 19000, 20000, 21000, 22000, 23000, 24000, 25000, 26000, 27000, 28000, 29000]),
    repr: "array([    0,  1000,  2000,  3000,  4000,  5000,  6000,  7000,  8000,\n        9000, 10000, 11000, 12000, 13000, 14000, 15000, 16000, 17000,\n       18000, 19000, 20000, 21000, 22000, 23000, 24000, 25000, 26000,\n       27000, 28000, 29000], dtype=int32)" },
  { name: "float32 mixed", make: enc("float32", [3], [1.5, 2.0, 3.25]),
    repr: "array([1.5 , 2.  , 3.25], dtype=float32)" },
  { name: "float32 nan inf", make: enc("float32", [4], [1.5, "nan", "inf", "-inf"]),
    repr: "array([ 1.5,  nan,  inf, -inf], dtype=float32)" },
  { name: "float32 only nan", make: enc("float32", [2], ["nan", "inf"]),
    repr: "array([nan, inf], dtype=float32)" },
  { name: "float32 sci", make: enc("float32", [3], [9.999999747378752e-06, 15000000512.0, -2.0]),
    repr: "array([ 1.0e-05,  1.5e+10, -2.0e+00], dtype=float32)" },
  { name: "float32 sci nan", make: enc("float32", [3], [1.0000000116860974e-07, "nan", 3.0]),
    repr: "array([1.e-07,    nan, 3.e+00], dtype=float32)" },
  { name: "float32 thirds", make: enc("float32", [7], [0.0, 0.1666666716337204, 0.3333333432674408, 0.5, 0.6666666865348816, 0.8333333134651184, 1.0]),
    repr: "array([0.        , 0.16666667, 0.33333334, 0.5       , 0.6666667 ,\n       0.8333333 , 1.        ], dtype=float32)" },
  { name: "float32 neg zero", make: enc("float32", [3], [-0.0, 0.0, 1.0]),
    repr: "array([-0.,  0.,  1.], dtype=float32)" },
  { name: "float32 2-D", make: enc("float32", [2, 2], [0.10000000149011612, -0.25, 100.5, 3.0]),
    repr: "array([[ 1.000e-01, -2.500e-01],\n       [ 1.005e+02,  3.000e+00]], dtype=float32)" },
  { name: "float64 long", make: enc("float64", [3], [3.141592653589793, 2.718281828459045, 0.3333333333333333]),
    repr: "array([3.14159265, 2.71828183, 0.33333333], dtype=float64)" },
  { name: "float64 tie", make: enc("float64", [2], [0.001953125, 1.0]),
    repr: "array([0.00195312, 1.        ], dtype=float64)" },
  { name: "float64 big", make: enc("float64", [2], [1e+20, -3.0]),
    repr: "array([ 1.e+20, -3.e+00], dtype=float64)" },
  { name: "float64 huge exp", make: enc("float64", [2], [1e-300, 1e+300]),
    repr: "array([1.e-300, 1.e+300], dtype=float64)" },
  { name: "float16", make: enc("float16", [3], [0.0999755859375, 1000.0, -2.5]),
    repr: "array([ 1.0e-01,  1.0e+03, -2.5e+00], dtype=float16)" },
  { name: "bool", make: enc("bool", [2, 2], [true, false, false, true]),
    repr: "array([[ True, False],\n       [False,  True]], dtype=bool)" },
  { name: "bool 0-d", make: enc("bool", [], [true]),
    repr: "array(True, dtype=bool)" },
  { name: "float32 0-d", make: enc("float32", [], [1.0]),
    repr: "array(1., dtype=float32)" },
  { name: "float32 0-d frac", make: enc("float32", [], [0.10000000149011612]),
    repr: "array(0.1, dtype=float32)" },
  { name: "int64 0-d", make: enc("int64", [], ["-7"]),
    repr: "array(-7, dtype=int64)" },
  { name: "int64", make: enc("int64", [2], ["1099511627776", "-5"]),
    repr: "array([1099511627776,            -5], dtype=int64)" },
  { name: "uint64", make: enc("uint64", [2], ["18446744073709551615", "0"]),
    repr: "array([18446744073709551615,                    0], dtype=uint64)" },
  { name: "uint8", make: enc("uint8", [3], [0, 255, 7]),
    repr: "array([  0, 255,   7], dtype=uint8)" },
  { name: "empty (0,)", make: enc("float32", [0], []),
    repr: "array([], dtype=float32)" },
  { name: "empty (0,3)", make: enc("int32", [0, 3], []),
    repr: "array([], shape=(0, 3), dtype=int32)" },
  { name: "empty (2,0)", make: enc("float32", [2, 0], []),
    repr: "array([], shape=(2, 0), dtype=float32)" },
  { name: "int32 3-D", make: enc("int32", [2, 3, 4], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23]),
    repr: "array([[[ 0,  1,  2,  3],\n        [ 4,  5,  6,  7],\n        [ 8,  9, 10, 11]],\n\n       [[12, 13, 14, 15],\n        [16, 17, 18, 19],\n        [20, 21, 22, 23]]], dtype=int32)" },
  { name: "int32 4-D", make: enc("int32", [2, 2, 2, 2], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]),
    repr: "array([[[[ 0,  1],\n         [ 2,  3]],\n\n        [[ 4,  5],\n         [ 6,  7]]],\n\n\n       [[[ 8,  9],\n         [10, 11]],\n\n        [[12, 13],\n         [14, 15]]]], dtype=int32)" },
  { name: "summarized 1-D", make: () => mx.arange(2000),
    repr: "array([   0,    1,    2, ..., 1997, 1998, 1999],\n      shape=(2000,), dtype=int32)" },
  { name: "summarized 2-D", make: () => mx.reshape(mx.arange(10000), [100, 100]),
    repr: "array([[   0,    1,    2, ...,   97,   98,   99],\n       [ 100,  101,  102, ...,  197,  198,  199],\n       [ 200,  201,  202, ...,  297,  298,  299],\n       ...,\n       [9700, 9701, 9702, ..., 9797, 9798, 9799],\n       [9800, 9801, 9802, ..., 9897, 9898, 9899],\n       [9900, 9901, 9902, ..., 9997, 9998, 9999]],\n      shape=(100, 100), dtype=int32)" },
  { name: "summarized 3-D float", make: () => mx.divide(mx.reshape(mx.arange(2400, null, null, mx.float32), [2, 30, 40]), 7),
    repr: "array([[[0.0000000e+00, 1.4285715e-01, 2.8571430e-01, ...,\n         5.2857141e+00, 5.4285712e+00, 5.5714288e+00],\n        [5.7142859e+00, 5.8571429e+00, 6.0000000e+00, ...,\n         1.1000000e+01, 1.1142858e+01, 1.1285714e+01],\n        [1.1428572e+01, 1.1571428e+01, 1.1714286e+01, ...,\n         1.6714285e+01, 1.6857143e+01, 1.7000000e+01],\n        ...,\n        [1.5428572e+02, 1.5442857e+02, 1.5457143e+02, ...,\n         1.5957143e+02, 1.5971428e+02, 1.5985715e+02],\n        [1.6000000e+02, 1.6014285e+02, 1.6028572e+02, ...,\n         1.6528572e+02, 1.6542857e+02, 1.6557143e+02],\n        [1.6571428e+02, 1.6585715e+02, 1.6600000e+02, ...,\n         1.7100000e+02, 1.7114285e+02, 1.7128572e+02]],\n\n       [[1.7142857e+02, 1.7157143e+02, 1.7171428e+02, ...,\n         1.7671428e+02, 1.7685715e+02, 1.7700000e+02],\n        [1.7714285e+02, 1.7728572e+02, 1.7742857e+02, ...,\n         1.8242857e+02, 1.8257143e+02, 1.8271428e+02],\n        [1.8285715e+02, 1.8300000e+02, 1.8314285e+02, ...,\n         1.8814285e+02, 1.8828572e+02, 1.8842857e+02],\n        ...,\n        [3.2571429e+02, 3.2585715e+02, 3.2600000e+02, ...,\n         3.3100000e+02, 3.3114285e+02, 3.3128571e+02],\n        [3.3142856e+02, 3.3157144e+02, 3.3171429e+02, ...,\n         3.3671429e+02, 3.3685715e+02, 3.3700000e+02],\n        [3.3714285e+02, 3.3728571e+02, 3.3742856e+02, ...,\n         3.4242856e+02, 3.4257144e+02, 3.4271429e+02]]],\n      shape=(2, 30, 40), dtype=float32)" },
  { name: "float32 wraps 2-D", make: enc("float32", [2, 20], [0.0, 0.3333333432674408, 0.6666666865348816, 1.0, 1.3333333730697632, 1.6666666269302368, 2.0, 2.3333332538604736, 2.6666667461395264, 3.0, 3.3333332538604736, 3.6666667461395264, 4.0, 4.333333492279053, 4.666666507720947, 5.0, 5.333333492279053, 5.666666507720947, 6.0, 6.333333492279053, 6.666666507720947, 7.0, 7.333333492279053, 7.666666507720947, 8.0, 8.333333015441895, 8.666666984558105, 9.0, 9.333333015441895, 9.666666984558105, 10.0, 10.333333015441895, 10.666666984558105, 11.0, 11.333333015441895, 11.666666984558105, 12.0, 12.333333015441895, 12.666666984558105, 13.0]),
    repr: "array([[ 0.        ,  0.33333334,  0.6666667 ,  1.        ,  1.3333334 ,\n         1.6666666 ,  2.        ,  2.3333333 ,  2.6666667 ,  3.        ,\n         3.3333333 ,  3.6666667 ,  4.        ,  4.3333335 ,  4.6666665 ,\n         5.        ,  5.3333335 ,  5.6666665 ,  6.        ,  6.3333335 ],\n       [ 6.6666665 ,  7.        ,  7.3333335 ,  7.6666665 ,  8.        ,\n         8.333333  ,  8.666667  ,  9.        ,  9.333333  ,  9.666667  ,\n        10.        , 10.333333  , 10.666667  , 11.        , 11.333333  ,\n        11.666667  , 12.        , 12.333333  , 12.666667  , 13.        ]],\n      dtype=float32)" },
];

for (const c of cases) {
  test(`toString matches NumPy: ${c.name}`, () => assert.equal(c.make().toString(), c.repr));
}

test('bfloat16 prints its own shortest digits', () => {
  // 0.1 is 0.10009765625 in bfloat16; its shortest round-tripping form is 0.1.
  assert.equal(mx.array([0.1, 2, -300], mx.bfloat16).toString(), 'array([ 1.e-01,  2.e+00, -3.e+02], dtype=bfloat16)');
  assert.equal(mx.array([0.5, 0.1], mx.bfloat16).toString(), 'array([0.5, 0.1], dtype=bfloat16)');
});

test('toString of lazy, disposed and util.inspect', async () => {
  const x = mx.add(mx.array([1, 2]), 1);
  assert.equal(x.isEvaluated, false);
  assert.equal(String(x), 'array([2, 3], dtype=int32)');
  const { inspect } = await import('node:util');
  assert.equal(inspect(x), 'array([2, 3], dtype=int32)');
  x.dispose();
  assert.equal(x.toString(), 'array(<disposed>, dtype=int32)');
});
