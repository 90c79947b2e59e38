// Inputs handed to a fast kernel as strided views (CudaArg.strides): rope reads the
// (B, H, L, D) view of a (B, L, H, D) projection in place (fast.rope folds the transpose),
// with unit stride on D. Whatever layout a kernel cannot read is first copied dense here.
import type { CudaArg, CudaContext } from '../../backend.js';
import { copyStrided } from '../copy.js';
import { isDense, rowStrides, sizeOf } from '../layout.js';

/** The element strides of `x`: its view's, or row-major. */
export const stridesOf = (x: CudaArg): readonly number[] => x.strides ?? rowStrides(x.shape);

/** Whether `x` is a view whose strides differ from row-major order. */
export const isView = (x: CudaArg): boolean => !!x.strides && !isDense(x.shape, x.strides);

/** `x` as a dense array: itself when it is one, else a copy into scratch freed with the node. */
export function dense(ctx: CudaContext, x: CudaArg): CudaArg {
  if (!isView(x)) return x.strides ? { buf: x.buf, shape: x.shape, dtype: x.dtype } : x;
  const buf = ctx.temp(Math.max(1, sizeOf(x.shape)) * x.dtype.size);
  copyStrided(ctx, x.dtype.size, buf.ptr, 0, null, x.buf.ptr, 0, [...x.strides!], x.shape);
  return { buf, shape: x.shape, dtype: x.dtype };
}

/**
 * Whether a kernel reading rows of `x`'s last axis through strides can take it: unit stride
 * on that axis (or one element), and, for 16-byte accesses of `vec` elements, every other
 * stride a multiple of `vec`.
 */
export function readsRows(x: CudaArg, vec = 1): boolean {
  const s = stridesOf(x), nd = x.shape.length;
  if (nd === 0) return true;
  if (x.shape[nd - 1] > 1 && s[nd - 1] !== 1) return false;
  return s.every((v, d) => d === nd - 1 || x.shape[d] === 1 || v % vec === 0);
}
