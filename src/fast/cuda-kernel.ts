// fast.cudaKernel: user CUDA kernels, as MLX's mx.fast.cuda_kernel (and metal_kernel). This
// file defines the API and the node the CUDA backend evaluates (primitive 'cudaKernel',
// params below); compiling the source with NVRTC and launching it is the backend's job.
// There is no reference: on any other device the call fails, saying why.
import * as mx from '../core/index.js';
import type { Array, DTypeLike, StreamOrDevice } from '../core/index.js';
import { defineOpaque, bind, hasKernel, fmt } from './primitive.js';
import type { CudaKernelParams } from '../backend/cuda/kernels/fast/cuda-kernel.js';

export interface CudaKernelDefinition {
  /** Kernel name (a C identifier); the generated function is named after it. */
  name: string;
  /** Parameter names of the inputs, in call order. */
  inputNames: readonly string[];
  /** Parameter names of the outputs, in order. */
  outputNames: readonly string[];
  /** The kernel body (CUDA C): the backend wraps it in a `__global__` function with the parameters. */
  source: string;
  /** Code placed before the kernel (helper functions, includes). */
  header?: string;
  /** Copy inputs to row-major contiguous layout first. Default true. */
  ensureRowContiguous?: boolean;
  /** Outputs are `cuda::atomic_ref`-able (the kernel accumulates into them). Default false. */
  atomicOutputs?: boolean;
}

/** A template argument: a dtype (a type name in the source), an integer or a boolean. */
export type TemplateValue = DTypeLike | number | boolean;

export interface CudaKernelCall {
  inputs: readonly (Array | number | boolean)[];
  outputShapes: readonly (readonly number[])[];
  outputDtypes: readonly DTypeLike[];
  /** Threads in each direction over the whole launch (as MLX: the grid counts threads, not blocks). */
  grid: readonly [number, number, number];
  /** Threads per block. */
  threadGroup: readonly [number, number, number];
  template?: readonly (readonly [string, TemplateValue])[];
  /** Fill outputs with this before the launch (else they start uninitialized). */
  initValue?: number | null;
  /** Print the generated source when it is compiled. */
  verbose?: boolean;
  stream?: StreamOrDevice;
}

export type CudaKernel = (call: CudaKernelCall) => Array[];

/**
 * What the CUDA backend receives as the node's params (plain JSON). Inputs are the arrays
 * (numbers and booleans passed as inputs arrive as 0-d float32/int32/bool arrays); outputs
 * are the node's outputs. Template dtypes are given by name: { dtype: 'float16' }. Defined
 * with the kernel that reads them (a type-only import: nothing of the backend loads here).
 */
export type { CudaKernelParams };

const CudaKernelPrimitive = defineOpaque<CudaKernelParams>('cudaKernel',
  'a custom kernel has no derivative or batching rule; wrap the call in mx.customFunction with your own vjp (and vmap)');

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

function checkNames(kernel: string, what: string, names: readonly string[]): void {
  const bad = names.find((n) => !IDENT.test(n));
  if (bad !== undefined) throw new Error(`[cudaKernel] '${kernel}': ${what} must be C identifiers, got '${bad}'`);
  if (new Set(names).size !== names.length) throw new Error(`[cudaKernel] '${kernel}': ${what} must be distinct, got ${names.join(', ')}`);
}

function checkDims(kernel: string, what: string, d: readonly number[]): [number, number, number] {
  if (d.length !== 3 || !d.every((v) => Number.isInteger(v) && v >= 1))
    throw new Error(`[cudaKernel] '${kernel}': ${what} must be three positive integers (x, y, z), got ${fmt(d)}`);
  return [d[0], d[1], d[2]];
}

/**
 * A user CUDA kernel, as mx.fast.cuda_kernel: define once, call with inputs, output shapes
 * and dtypes, the launch grid and block, and template arguments. Runs on the GPU only.
 *
 *   const myExp = fast.cudaKernel({ name: 'myexp', inputNames: ['inp'], outputNames: ['out'],
 *     source: 'uint i = blockIdx.x * blockDim.x + threadIdx.x; if (i < inp_shape[0]) out[i] = exp(inp[i]);' });
 *   const [y] = myExp({ inputs: [x], template: [['T', 'float32']], grid: [x.size, 1, 1], threadGroup: [256, 1, 1],
 *     outputShapes: [x.shape], outputDtypes: [x.dtype], stream: mx.gpu });
 */
export function cudaKernel(def: CudaKernelDefinition): CudaKernel {
  const { name, inputNames, outputNames, source, header = '', ensureRowContiguous = true, atomicOutputs = false } = def;
  if (typeof name !== 'string' || !IDENT.test(name)) throw new Error(`[cudaKernel] name must be a C identifier, got '${String(name)}'`);
  checkNames(name, 'inputNames', inputNames);
  checkNames(name, 'outputNames', outputNames);
  if (!outputNames.length) throw new Error(`[cudaKernel] '${name}': a kernel needs at least one output`);
  const clash = inputNames.find((n) => outputNames.includes(n));
  if (clash) throw new Error(`[cudaKernel] '${name}': '${clash}' is both an input and an output name`);
  if (typeof source !== 'string' || !source.trim()) throw new Error(`[cudaKernel] '${name}': source must be the kernel body (CUDA C), got ${typeof source}`);

  return (call: CudaKernelCall): Array[] => {
    const { inputs, outputShapes, outputDtypes, template = [], initValue = null, verbose = false } = call;
    if (inputs.length !== inputNames.length)
      throw new Error(`[cudaKernel] '${name}' takes ${inputNames.length} inputs (${inputNames.join(', ')}), got ${inputs.length}`);
    if (outputShapes.length !== outputNames.length || outputDtypes.length !== outputNames.length)
      throw new Error(`[cudaKernel] '${name}' has ${outputNames.length} outputs (${outputNames.join(', ')}): give as many outputShapes and outputDtypes, got ${outputShapes.length} and ${outputDtypes.length}`);
    const grid = checkDims(name, 'grid', call.grid), threadGroup = checkDims(name, 'threadGroup', call.threadGroup);
    const tmpl = template.map(([k, v]): [string, { dtype: mx.DTypeName } | number | boolean] => {
      if (!IDENT.test(k)) throw new Error(`[cudaKernel] '${name}': template names must be C identifiers, got '${k}'`);
      if (typeof v === 'boolean') return [k, v];
      if (typeof v === 'number') {
        if (!Number.isInteger(v)) throw new Error(`[cudaKernel] '${name}': template value ${k} must be a dtype, an integer or a boolean, got ${v}`);
        return [k, v];
      }
      return [k, { dtype: mx.toDtype(v).name }];
    });
    const specs = outputShapes.map((s, i) => ({ shape: [...s], dtype: mx.toDtype(outputDtypes[i]) }));
    for (const s of specs) if (!s.shape.every((d) => Number.isInteger(d) && d >= 0))
      throw new Error(`[cudaKernel] '${name}': output shapes must hold non-negative integers, got ${fmt(s.shape)}`);

    const first = inputs.find((x): x is Array => x instanceof mx.Array);
    const stream = call.stream ? (call.stream instanceof mx.Stream ? call.stream : mx.defaultStream(call.stream)) : first?.stream ?? mx.defaultStream();
    if (stream.device.type !== 'gpu')
      throw new Error(`[cudaKernel] '${name}' is CUDA source and needs an NVIDIA GPU, but this call runs on ${stream.device}: pass { stream: mx.gpu } on a machine with a GPU (the CPU cannot run CUDA kernels; write the op from basic ops for the CPU)`);
    let runs: boolean;
    try { runs = hasKernel('cudaKernel', stream); } catch (e) { throw new Error(`[cudaKernel] '${name}' needs the GPU: ${(e as Error).message}`); }
    if (!runs) throw new Error(`[cudaKernel] '${name}': the ${stream.device} backend cannot run custom CUDA kernels yet`);
    const arrays = inputs.map((x) => (x instanceof mx.Array ? x : mx.array(x, typeof x === 'boolean' ? 'bool' : Number.isInteger(x) ? 'int32' : 'float32')));
    const params: CudaKernelParams = {
      name, inputNames: [...inputNames], outputNames: [...outputNames], source, header, ensureRowContiguous, atomicOutputs,
      grid, threadGroup, template: tmpl, initValue, verbose,
    };
    return bind(CudaKernelPrimitive, arrays, params, specs, stream);
  };
}
