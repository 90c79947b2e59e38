// fast.cudaKernel on the GPU: MLX's documented examples (exp elementwise, a strided input
// read through its shape and strides, template ints, bools and dtypes, initValue with
// atomic outputs, two outputs), numbers as inputs, a 2-D launch, verbose output, and
// errors: NVRTC's log with the kernel's name, launch limits.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { skip, rand, mx } from './util.js';
import * as fast from '../../src/fast/index.js';

const gpuArray = (values: Float32Array, shape: number[], dtype: mx.DType = mx.float32) =>
  mx.reshape(mx.array(values, dtype, { stream: mx.gpu }), shape);

/** Asserts equal shapes and values within atol + rtol·|want|. */
function close(got: mx.Array, want: mx.Array, where: string, rtol = 1e-6, atol = 1e-6): void {
  assert.deepEqual([...got.shape], [...want.shape], `${where}: shape`);
  assert.equal(got.dtype, want.dtype, `${where}: dtype`);
  const g = got.dataSync(), w = want.dataSync();
  for (let i = 0; i < w.length; i++) {
    const a = Number(g[i]), b = Number(w[i]);
    assert.ok(Math.abs(a - b) <= atol + rtol * Math.abs(b), `${where}: element ${i}: got ${a}, want ${b}`);
  }
}

describe('cuda: fast.cudaKernel', { skip }, () => {
  test('exp elementwise (MLX docs), with the grid counted in threads, in float16 and float32', () => {
    const kernel = fast.cudaKernel({
      name: 'myexp', inputNames: ['inp'], outputNames: ['out'],
      source: `
        auto elem = cooperative_groups::this_grid().thread_rank();
        T tmp = inp[elem];
        out[elem] = exp(tmp);`,
    });
    for (const dt of [mx.float16, mx.float32]) {
      const a = gpuArray(rand(64, 1), [4, 16], dt);
      const [b] = kernel({ inputs: [a], template: [['T', dt]], grid: [a.size, 1, 1], threadGroup: [32, 1, 1], outputShapes: [a.shape], outputDtypes: [a.dtype] });
      assert.equal(b.device.type, 'gpu');
      close(b, mx.exp(a), `myexp ${dt.name}`, dt === mx.float16 ? 2e-3 : 1e-6);
    }
  });

  test('a strided input with ensureRowContiguous false reads through its shape, strides and ndim', () => {
    const kernel = fast.cudaKernel({
      name: 'myexp_strided', inputNames: ['inp'], outputNames: ['out'], ensureRowContiguous: false,
      source: `
        uint elem = blockIdx.x * blockDim.x + threadIdx.x;
        if (elem >= out_size) return;
        uint loc = elem_to_loc(elem, inp_shape, inp_strides, inp_ndim);
        T tmp = inp[loc];
        out[elem] = exp(tmp);`,
    });
    const x = gpuArray(rand(8 * 16, 2), [8, 16]);
    const a = mx.stridedSlice(mx.transpose(x), [0, 0], [16, 8], [1, 2]); // (16, 4), not contiguous in x
    const [b] = kernel({ inputs: [a], template: [['T', 'float32'], ['out_size', a.size]], grid: [a.size, 1, 1], threadGroup: [256, 1, 1], outputShapes: [a.shape], outputDtypes: ['float32'] });
    close(b, mx.exp(a), 'myexp_strided');
  });

  test('template ints, bools and dtypes; numbers as 0-d inputs', () => {
    const kernel = fast.cudaKernel({
      name: 'affine', inputNames: ['x', 'scale'], outputNames: ['y'],
      source: `
        int i = blockIdx.x * blockDim.x + threadIdx.x;
        if (i < x_shape[0] * x_shape[1]) y[i] = (OutT)(x[i] * scale[0] * N + (Shift ? 1 : 0));`,
    });
    const x = gpuArray(Float32Array.from({ length: 12 }, (_, i) => i - 5), [3, 4]);
    for (const [shift, outT] of [[true, 'int32'], [false, 'float32']] as const) {
      const [y] = kernel({ inputs: [x, 0.5], template: [['N', 3], ['Shift', shift], ['OutT', outT]], grid: [12, 1, 1], threadGroup: [32, 1, 1], outputShapes: [[3, 4]], outputDtypes: [outT] });
      const want = mx.astype(mx.add(mx.multiply(x, 1.5), shift ? 1 : 0), outT);
      close(y, want, `affine ${outT}`);
    }
  });

  test('initValue and atomicOutputs: a sum and a histogram, two outputs', () => {
    const kernel = fast.cudaKernel({
      name: 'sum_hist', inputNames: ['v'], outputNames: ['total', 'hist'], atomicOutputs: true,
      header: '__device__ int bucket(float x) { return x < -0.5f ? 0 : x < 0.0f ? 1 : x < 0.5f ? 2 : 3; }',
      source: `
        int i = blockIdx.x * blockDim.x + threadIdx.x;
        if (i >= v_shape[0]) return;
        atomicAdd(&total[0], v[i]);
        atomicAdd(&hist[bucket(v[i])], 1);`,
    });
    const values = rand(1000, 3);
    const v = gpuArray(values, [1000]);
    for (const init of [0, 10]) {
      const [total, hist] = kernel({ inputs: [v], grid: [1000, 1, 1], threadGroup: [128, 1, 1], outputShapes: [[1], [4]], outputDtypes: ['float32', 'int32'], initValue: init });
      const counts = [0, 0, 0, 0];
      for (const x of values) counts[x < -0.5 ? 0 : x < 0 ? 1 : x < 0.5 ? 2 : 3] += 1;
      assert.deepEqual([...hist.dataSync()], counts.map((c) => c + init), 'histogram');
      const want = values.reduce((a, b) => a + b, 0) + init;
      assert.ok(Math.abs(total.item() as number - want) < 1e-3, `total ${total.item()} vs ${want}`);
    }
  });

  test('a 2-D launch: a transpose through threadGroup (16, 16, 1)', () => {
    const kernel = fast.cudaKernel({
      name: 'transpose2d', inputNames: ['a'], outputNames: ['b'],
      source: `
        int c = blockIdx.x * blockDim.x + threadIdx.x, r = blockIdx.y * blockDim.y + threadIdx.y;
        int R = a_shape[0], C = a_shape[1];
        if (r < R && c < C) b[(i64)c * R + r] = a[(i64)r * C + c];`,
      header: 'typedef long long i64;',
    });
    const a = gpuArray(rand(37 * 50, 4), [37, 50]);
    const [b] = kernel({ inputs: [a], grid: [50, 37, 1], threadGroup: [16, 16, 1], outputShapes: [[50, 37]], outputDtypes: ['float32'] });
    close(b, mx.transpose(a), 'transpose2d', 0, 0);
  });

  test('verbose prints the generated source, with the signature MLX generates', () => {
    const kernel = fast.cudaKernel({ name: 'shown', inputNames: ['inp'], outputNames: ['out'], source: 'out[0] = inp[0] + inp_ndim;' });
    const lines: string[] = [];
    const log = console.log;
    console.log = (...args: unknown[]) => { lines.push(args.map(String).join(' ')); };
    let y: mx.Array;
    try {
      [y] = kernel({ inputs: [gpuArray(new Float32Array([2, 3]), [2])], grid: [1, 1, 1], threadGroup: [1, 1, 1], outputShapes: [[1]], outputDtypes: ['float32'], template: [['K', 7]], verbose: true });
      mx.eval(y);
    } finally { console.log = log; }
    const text = lines.join('\n');
    assert.match(text, /Generated source code for `custom_kernel_shown_7`:/);
    assert.match(text, /extern "C" __global__ void custom_kernel_shown_7\(\s*const float\* __restrict__ inp,\s*const __grid_constant__ int inp_ndim,\s*float\* __restrict__ out\)/);
    assert.match(text, /constexpr int K = 7;/);
    assert.equal(y!.item(), 3);
  });

  test('errors: NVRTC log with the kernel name, launch limits', () => {
    const bad = fast.cudaKernel({ name: 'broken', inputNames: ['inp'], outputNames: ['out'], source: 'out[0] = inp[0] +* ;' });
    const call = (k: fast.CudaKernel, tg: [number, number, number] = [1, 1, 1]) =>
      k({ inputs: [gpuArray(new Float32Array([1]), [1])], grid: [1, 1, 1], threadGroup: tg, outputShapes: [[1]], outputDtypes: ['float32'] });
    assert.throws(() => mx.eval(call(bad)), (e: Error) => {
      assert.match(e.message, /^\[cudaKernel\] 'broken':/);
      assert.match(e.message, /NVRTC could not compile kernel 'custom_kernel_broken'/);
      assert.match(e.message, /error/);
      return true;
    });
    const ok = fast.cudaKernel({ name: 'ok', inputNames: ['inp'], outputNames: ['out'], source: 'out[0] = inp[0];' });
    assert.throws(() => mx.eval(call(ok, [64, 32, 1])), /\[cudaKernel\] 'ok': threadGroup \(64,32,1\) has 2048 threads; CUDA allows at most 1024 per block/);
  });
});
