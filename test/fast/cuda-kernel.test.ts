// fast.cudaKernel: the API shape (as mx.fast.cuda_kernel) and its checks; on the CPU a call
// fails saying it needs a GPU. Launches are tested with the CUDA backend on the GPU machine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as mx from '../../src/index.js';
import * as fast from '../../src/fast/index.js';

const source = `
  uint i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < inp_shape[0]) out[i] = exp(inp[i]);`;
const myExp = fast.cudaKernel({ name: 'myexp', inputNames: ['inp'], outputNames: ['out'], source });
const call = (x: mx.Array, more: Partial<fast.CudaKernelCall> = {}) => myExp({
  inputs: [x], template: [['T', 'float32']], grid: [x.size, 1, 1], threadGroup: [256, 1, 1],
  outputShapes: [x.shape], outputDtypes: [x.dtype], ...more,
});

test('a call on the CPU fails, saying the kernel needs an NVIDIA GPU', () => {
  // Arrays made on the CPU explicitly: on a machine with a GPU the default device is the GPU.
  assert.throws(() => call(mx.ones([4], 'float32', { stream: mx.cpu })), /\[cudaKernel\] 'myexp' is CUDA source and needs an NVIDIA GPU, but this call runs on Device\(cpu, 0\)/);
  assert.throws(() => call(mx.ones([4]), { stream: mx.cpu }), /needs an NVIDIA GPU/);
});

test('definitions are checked when made: names, outputs, source', () => {
  assert.throws(() => fast.cudaKernel({ name: 'my-exp', inputNames: [], outputNames: ['o'], source }), /name must be a C identifier, got 'my-exp'/);
  assert.throws(() => fast.cudaKernel({ name: 'k', inputNames: ['a', 'a'], outputNames: ['o'], source }), /inputNames must be distinct/);
  assert.throws(() => fast.cudaKernel({ name: 'k', inputNames: ['a'], outputNames: ['a'], source }), /'a' is both an input and an output name/);
  assert.throws(() => fast.cudaKernel({ name: 'k', inputNames: ['a'], outputNames: [], source }), /needs at least one output/);
  assert.throws(() => fast.cudaKernel({ name: 'k', inputNames: ['a'], outputNames: ['o'], source: ' ' }), /source must be the kernel body/);
});

test('calls are checked before the device: inputs, outputs, grid, threadGroup, template', () => {
  const x = mx.ones([4]);
  assert.throws(() => myExp({ inputs: [], grid: [1, 1, 1], threadGroup: [1, 1, 1], outputShapes: [[4]], outputDtypes: ['float32'] }), /'myexp' takes 1 inputs \(inp\), got 0/);
  assert.throws(() => call(x, { outputDtypes: [] }), /has 1 outputs \(out\): give as many outputShapes and outputDtypes, got 1 and 0/);
  assert.throws(() => call(x, { grid: [0, 1, 1] }), /grid must be three positive integers \(x, y, z\), got \(0,1,1\)/);
  assert.throws(() => call(x, { threadGroup: [32, 1] as unknown as [number, number, number] }), /threadGroup must be three positive integers/);
  assert.throws(() => call(x, { template: [['T', 1.5]] }), /template value T must be a dtype, an integer or a boolean/);
  assert.throws(() => call(x, { template: [['T', 'float8' as mx.DTypeName]] }), /float8/);
});
