// Feeding a CUDA kernel strided views (CudaArg.strides), for the kernels that read them
// (rope): a test-only primitive per kernel runs the kernel of
// primitive `name` with input i handed as the view transpose(x_i, axes_i) of its dense
// buffer, no copy made, so tests compare it with the kernel on the same data made dense.
import assert from 'node:assert/strict';
import * as mx from '../../src/index.js';
import { definePrimitive, getPrimitive, bind, type Primitive } from '../../src/core/primitive.js';
import { registerCudaKernels, cudaKernel, type CudaArg } from '../../src/backend/cuda/backend.js';
import { rowStrides } from '../../src/backend/cuda/kernels/layout.js';

interface ViewParams { inner: unknown; axes: (number[] | null)[] }

function viewPrimitive(name: string): Primitive<ViewParams> {
  const vname = `test.views.${name}`;
  const known = getPrimitive(vname);
  if (known) return known as Primitive<ViewParams>;
  const prim = definePrimitive<ViewParams>({ name: vname, nonDifferentiable: 'test only' });
  registerCudaKernels({
    [vname]: (ins, outs, params, ctx) => {
      const { inner, axes } = params as ViewParams;
      const views = ins.map((x, i): CudaArg => {
        const a = axes[i];
        if (!a) return x;
        const s = rowStrides(x.shape);
        return { buf: x.buf, dtype: x.dtype, shape: a.map((d) => x.shape[d]), strides: a.map((d) => s[d]) };
      });
      return cudaKernel(name)!(views, outs, inner as never, ctx);
    },
  });
  return prim;
}

/**
 * The outputs of node `ref` (a GPU node of primitive `name`, unevaluated) recomputed with
 * input i replaced by `sources[i]` read as transpose(sources[i], axes[i]) in place; inputs
 * with null axes are `ref`'s own.
 */
export function throughViews(ref: mx.Array, sources: (mx.Array | null)[], axes: (number[] | null)[]): mx.Array[] {
  const node = ref._node!;
  const ins = node.inputs.map((x, i) => sources[i] ?? x);
  ins.forEach((x, i) => {
    const a = axes[i];
    assert.ok(a || !sources[i], `input ${i}: a source needs the axes of its view`);
    if (a) assert.deepEqual(a.map((d) => x.shape[d]), [...node.inputs[i].shape], `input ${i}: the view's shape`);
  });
  const specs = node.outputs.map((o) => ({ shape: o.shape, dtype: o.dtype }));
  return bind(viewPrimitive(node.prim.name), ins, { inner: node.params, axes }, specs, ref.stream);
}

/** The bytes of an array (exact comparison: bit for bit, NaNs included). */
export function bytes(a: mx.Array): Uint8Array {
  const d = a.dataSync() as ArrayLike<number> & { buffer: ArrayBufferLike; byteOffset: number; byteLength: number };
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

/** Asserts `got` and `want` hold the same bits. */
export function assertSameBits(got: mx.Array, want: mx.Array, where: string): void {
  assert.deepEqual([...got.shape], [...want.shape], `${where}: shape`);
  assert.equal(got.dtype, want.dtype, `${where}: dtype`);
  const g = bytes(got), w = bytes(want);
  const at = g.findIndex((b, i) => b !== w[i]);
  assert.ok(at < 0 && g.length === w.length, `${where}: outputs differ from byte ${at} (element ${Math.floor(at / got.dtype.size)})`);
}
