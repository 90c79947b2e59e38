// Convolutions on the GPU (im2col + cuBLAS) give the CPU's results in every mode of the
// primitive: the forward convolution and, through vjp, its input and weight gradients;
// 1-3 spatial dims, strides, padding (negative too), dilations, groups, flips, 1x1.
import { describe, test } from 'node:test';
import { skip, rand, pair, assertMatches, mx } from './util.js';
import { convLimits } from '../../src/backend/cuda/kernels/conv.js';

const d = mx.dtypes;

// Products accumulate in float32 on both backends, in different orders.
const tolFor = (dt: mx.DType, k: number) =>
  dt === d.float32 ? { rtol: 1e-4, atol: 1e-5 * k } : dt === d.float16 ? { rtol: 4e-3, atol: 2e-3 * Math.sqrt(k) } : { rtol: 2e-2, atol: 1e-2 * Math.sqrt(k) };

interface Case {
  name: string; x: number[]; w: number[];
  stride?: number[]; pad?: [number[], number[]]; kdil?: number[]; idil?: number[]; groups?: number; flip?: boolean;
}

const CASES: Case[] = [
  { name: '1-d', x: [2, 13, 3], w: [4, 3, 3] },
  { name: '1-d stride 2 pad 1', x: [2, 14, 4], w: [6, 3, 4], stride: [2], pad: [[1], [1]] },
  { name: '2-d', x: [2, 9, 8, 3], w: [5, 3, 3, 3] },
  { name: '2-d strided, dilated, asymmetric padding', x: [1, 11, 10, 2], w: [3, 3, 2, 2], stride: [2, 1], pad: [[2, 0], [1, 3]], kdil: [2, 1] },
  { name: '2-d groups', x: [2, 7, 7, 6], w: [9, 3, 3, 2], groups: 3 },
  { name: '2-d depthwise', x: [1, 8, 8, 4], w: [4, 3, 3, 1], groups: 4, pad: [[1, 1], [1, 1]] },
  { name: '2-d transposed (input dilation, flip)', x: [2, 5, 6, 3], w: [2, 3, 3, 3], idil: [2, 2], pad: [[2, 2], [2, 2]], flip: true },
  { name: '2-d negative padding', x: [1, 10, 9, 2], w: [3, 2, 2, 2], pad: [[-1, 0], [0, -2]] },
  { name: '2-d 1x1', x: [3, 6, 5, 8], w: [4, 1, 1, 8] },
  { name: '2-d 1x1 groups', x: [2, 4, 4, 6], w: [4, 1, 1, 3], groups: 2 },
  { name: '3-d', x: [1, 5, 6, 4, 2], w: [3, 2, 3, 2, 2], stride: [1, 2, 1] },
];

/** Checks the forward convolution and both gradients (the primitive's three modes). */
function run(c: Case, dt: mx.DType): void {
  const n = (s: number[]) => s.reduce((a, b) => a * b, 1);
  const x = pair(rand(n(c.x), 130), c.x, dt), w = pair(rand(n(c.w), 131), c.w, dt);
  const D = c.x.length - 2;
  const ones = new Array<number>(D).fill(1), zeros = new Array<number>(D).fill(0);
  const f = (a: mx.Array, b: mx.Array) => mx.convGeneral(a, b, c.stride ?? ones, c.pad ?? [zeros, zeros], c.kdil ?? ones, c.idil ?? ones, c.groups ?? 1, c.flip ?? false);
  const yc = f(x.cpu, w.cpu), yg = f(x.gpu, w.gpu);
  const k = n(c.w.slice(1));
  assertMatches(yg, yc, `conv ${c.name} ${dt.name}`, tolFor(dt, k));
  const g = pair(rand(yc.size, 132), [...yc.shape], dt);
  const [, [gxc, gwc]] = mx.vjp(f, [x.cpu, w.cpu], g.cpu) as unknown as [unknown, mx.Array[]];
  const [, [gxg, gwg]] = mx.vjp(f, [x.gpu, w.gpu], g.gpu) as unknown as [unknown, mx.Array[]];
  assertMatches(gxg, gxc, `conv input grad ${c.name} ${dt.name}`, tolFor(dt, c.w[0] * k));
  assertMatches(gwg, gwc, `conv weight grad ${c.name} ${dt.name}`, tolFor(dt, yc.size / c.w[0]));
}

describe('cuda: conv', { skip }, () => {
  test('forward, input and weight gradients', () => {
    for (const dt of [d.float32, d.float16, d.bfloat16]) for (const c of CASES) run(c, dt);
  });

  test('batches split into chunks of images', () => {
    const saved = convLimits.chunkElements;
    convLimits.chunkElements = 2000; // a few images per chunk
    try {
      for (const dt of [d.float32, d.float16]) for (const c of [CASES[2], CASES[4], CASES[6]]) run({ ...c, x: [7, ...c.x.slice(1)] }, dt);
    } finally {
      convLimits.chunkElements = saved;
    }
  });
});
