// CUDA kernels for shape primitives. Reshape shares the buffer; everything else is one
// generated strided copy, dst[dOff + i·ds] = src[sOff + i·ss] over the index space, that
// moves raw storage elements (so one kernel per element size serves every dtype).
import type { SplitParams, PadParams, DiagonalParams } from '../../../core/ops/shape.js';
import type { SliceParams } from '../../../core/ops/indexing.js';
import type { KernelSource } from '../compiler.js';
import { registerCudaKernels, CudaKernel, CudaContext } from '../backend.js';
import { check } from '../ffi/libcuda.js';
import { PRELUDE, rawType } from './ctypes.js';
import { broadcastStrides, collapse, isDense, rowStrides, sizeOf, WIDE } from './layout.js';

export interface CopySpec { elem: number; nd: number; wide: boolean; denseDst: boolean }

export function renderCopy(name: string, s: CopySpec): KernelSource {
  const I = s.wide ? 'i64' : 'i32';
  const T = rawType(s.elem);
  const dst = s.denseDst ? '' : ` do_ += c * ds.v[d];`;
  const source = `${PRELUDE}
extern "C" __global__ void __launch_bounds__(256) ${name}(${T}* __restrict__ dst, const ${T}* __restrict__ src, Vec<${s.nd}, ${I}> shape, Vec<${s.nd}, ${I}> ss,${s.denseDst ? '' : ` Vec<${s.nd}, ${I}> ds,`} ${I} soff, ${I} doff, ${I} n) {
  const ${I} step = (${I})gridDim.x * blockDim.x;
  for (${I} i = (${I})blockIdx.x * blockDim.x + threadIdx.x; i < n; i += step) {
    ${I} r = i, so = soff${s.denseDst ? '' : ', do_ = doff'};
#pragma unroll
    for (int d = ${s.nd - 1}; d > 0; d--) {
      const ${I} c = r % shape.v[d];
      r /= shape.v[d];
      so += c * ss.v[d];${dst}
    }
    so += r * ss.v[0];${s.denseDst ? '' : ' do_ += r * ds.v[0];'}
    dst[${s.denseDst ? 'doff + i' : 'do_'}] = src[so];
  }
}
`;
  return { name, source };
}

/**
 * A batched 2-D transpose through shared-memory tiles: dst[b, i, j] = src[b·, i + j·sj] with
 * the source contiguous along i. Both the reads (along i) and the writes (along j) are
 * coalesced, where the plain strided copy would read with a stride.
 */
export function renderTranspose(name: string, s: { elem: number; nd: number; wide: boolean }): KernelSource {
  const I = s.wide ? 'i64' : 'i32';
  const T = rawType(s.elem);
  const source = `${PRELUDE}
extern "C" __global__ void __launch_bounds__(256) ${name}(${T}* __restrict__ dst, const ${T}* __restrict__ src, Vec<${s.nd}, ${I}> shape, Vec<${s.nd}, ${I}> ss,
    ${I} soff, ${I} doff, ${I} batches) {
  __shared__ ${T} tile[32][33];
  const int tx = threadIdx.x, ty = threadIdx.y;
  const ${I} rows = shape.v[${s.nd - 2}], cols = shape.v[${s.nd - 1}], sj = ss.v[${s.nd - 1}];
  const ${I} i0 = (${I})blockIdx.y * 32, j0 = (${I})blockIdx.x * 32;
  for (${I} bz = blockIdx.z; bz < batches; bz += gridDim.z) {
    ${I} r = bz, so = soff;
    for (int d = ${s.nd - 3}; d >= 0; d--) { const ${I} c = r % shape.v[d]; r /= shape.v[d]; so += c * ss.v[d]; }
    for (int k = 0; k < 32; k += 8) {
      const ${I} i = i0 + tx, j = j0 + ty + k;
      if (i < rows && j < cols) tile[ty + k][tx] = src[so + i + j * sj];
    }
    __syncthreads();
    const ${I} base = doff + bz * rows * cols;
    for (int k = 0; k < 32; k += 8) {
      const ${I} i = i0 + ty + k, j = j0 + tx;
      if (i < rows && j < cols) dst[base + i * cols + j] = tile[tx][ty + k];
    }
    __syncthreads();
  }
}
`;
  return { name, source };
}

/** Elements a strided walk can reach from its offset (for choosing 64-bit indexing). */
const reach = (shape: number[], strides: number[], offset: number) =>
  offset + shape.reduce((acc, n, d) => acc + (n - 1) * Math.abs(strides[d]), 0);

/**
 * Copies elements of `elem` bytes: dst[dOff + i·dStrides] = src[sOff + i·sStrides] for every
 * index i of `shape`; `dStrides` null means dst is dense. Offsets and strides count elements.
 */
export function copyStrided(ctx: CudaContext, elem: number, dst: bigint, dOff: number, dStrides: number[] | null,
  src: bigint, sOff: number, sStrides: number[], shape: readonly number[]): void {
  const n = sizeOf(shape);
  if (n === 0) return;
  const c = collapse(shape, [sStrides, dStrides ?? rowStrides(shape)]);
  const [ss, ds] = c.strides;
  if (isDense(c.shape, ss) && isDense(c.shape, ds)) {
    const d = ctx.rt.driver;
    check(d, d.cuMemcpyDtoDAsync(dst + BigInt(dOff * elem), src + BigInt(sOff * elem), n * elem, ctx.rt.stream), 'cuMemcpyDtoDAsync');
    return;
  }
  const denseDst = isDense(c.shape, ds);
  const wide = n > WIDE || reach(c.shape, ss, sOff) > WIDE || reach(c.shape, ds, dOff) > WIDE;
  const nd = c.shape.length;
  if (denseDst && nd >= 2 && ss[nd - 2] === 1 && ss[nd - 1] !== 1 && c.shape[nd - 2] >= 8 && c.shape[nd - 2] < 65535 * 32) {
    const rows = c.shape[nd - 2], cols = c.shape[nd - 1], batches = n / (rows * cols);
    const fn = ctx.kernels.get(`transpose|${elem}|${nd}|${wide}`, () => renderTranspose(`transpose_${elem * 8}`, { elem, nd, wide }));
    ctx.rt.args.reset().ptr(dst).ptr(src).vec(c.shape, wide).vec(ss, wide).idx(sOff, wide).idx(dOff, wide).idx(batches, wide);
    ctx.rt.launch(fn, [Math.ceil(cols / 32), Math.ceil(rows / 32), Math.min(batches, 65535)], [32, 8, 1]);
    return;
  }
  const fn = ctx.kernels.get(`copy|${elem}|${nd}|${wide}|${denseDst}`, () => renderCopy(`copy_${elem * 8}`, { elem, nd, wide, denseDst }));
  const a = ctx.rt.args.reset().ptr(dst).ptr(src).vec(c.shape, wide).vec(ss, wide);
  if (!denseDst) a.vec(ds, wide);
  a.idx(sOff, wide).idx(dOff, wide).idx(n, wide);
  ctx.rt.launch(fn, [ctx.rt.gridFor(n), 1, 1], [256, 1, 1]);
}

const reshape: CudaKernel = ([x]) => [x.buf];

const broadcast: CudaKernel = ([x], [out], _p, ctx) => {
  const o = ctx.alloc(out);
  copyStrided(ctx, x.dtype.size, o.ptr, 0, null, x.buf.ptr, 0, broadcastStrides(x.shape, out.shape), out.shape);
  return [o];
};

const transpose: CudaKernel = ([x], [out], { axes }: { axes: number[] }, ctx) => {
  const o = ctx.alloc(out);
  const s = rowStrides(x.shape);
  copyStrided(ctx, x.dtype.size, o.ptr, 0, null, x.buf.ptr, 0, axes.map((a) => s[a]), out.shape);
  return [o];
};

const offsetOf = (start: number[], rs: number[]) => start.reduce((acc, s, i) => acc + s * rs[i], 0);

const slice: CudaKernel = ([x], [out], { start, strides }: SliceParams, ctx) => {
  const o = ctx.alloc(out);
  const rs = rowStrides(x.shape);
  copyStrided(ctx, x.dtype.size, o.ptr, 0, null, x.buf.ptr, offsetOf(start, rs), strides.map((s, i) => s * rs[i]), out.shape);
  return [o];
};

const sliceUpdate: CudaKernel = ([x, u], [out], { start, strides }: Pick<SliceParams, 'start' | 'strides'>, ctx) => {
  const o = ctx.alloc(out);
  const e = x.dtype.size;
  copyStrided(ctx, e, o.ptr, 0, null, x.buf.ptr, 0, rowStrides(x.shape), x.shape);
  const rs = rowStrides(x.shape);
  copyStrided(ctx, e, o.ptr, offsetOf(start, rs), strides.map((s, i) => s * rs[i]), u.buf.ptr, 0, rowStrides(u.shape), u.shape);
  return [o];
};

// Views every array as (outer, length along axis * inner) rows and places each input's rows.
const concatenate: CudaKernel = (ins, [out], { axis }: { axis: number }, ctx) => {
  const o = ctx.alloc(out);
  const outer = sizeOf(out.shape.slice(0, axis));
  const inner = sizeOf(out.shape.slice(axis + 1));
  const row = out.shape[axis] * inner;
  let at = 0;
  for (const x of ins) {
    const len = x.shape[axis] * inner;
    copyStrided(ctx, x.dtype.size, o.ptr, at, [row, 1], x.buf.ptr, 0, [len, 1], [outer, len]);
    at += len;
  }
  return [o];
};

const split: CudaKernel = ([x], outs, { axis, bounds }: SplitParams, ctx) => {
  const s = rowStrides(x.shape);
  return bounds.map(([begin], k) => {
    const o = ctx.alloc(outs[k]);
    copyStrided(ctx, x.dtype.size, o.ptr, 0, null, x.buf.ptr, begin * s[axis], s, outs[k].shape);
    return o;
  });
};

// Widths may be negative (crop). Constant: fill, then copy the kept part of x inside. Edge:
// copy x inside, then, axis by axis, copy the first/last slice over the padding (stride 0).
const pad: CudaKernel = (ins, [out], { widths, mode }: PadParams, ctx) => {
  const [x] = ins;
  const e = x.dtype.size;
  const o = ctx.alloc(out);
  if (mode === 'constant') copyStrided(ctx, e, o.ptr, 0, null, ins[1].buf.ptr, 0, out.shape.map(() => 0), out.shape);
  const os = rowStrides(out.shape), xs = rowStrides(x.shape);
  const kept = x.shape.map((n, d) => Math.max(0, n + Math.min(widths[d][0], 0) + Math.min(widths[d][1], 0)));
  const dOff = widths.reduce((acc, [lo], d) => acc + Math.max(lo, 0) * os[d], 0);
  const sOff = widths.reduce((acc, [lo], d) => acc + Math.max(-lo, 0) * xs[d], 0);
  copyStrided(ctx, e, o.ptr, dOff, os, x.buf.ptr, sOff, xs, kept);
  if (mode === 'edge') {
    widths.forEach(([lo, hi], d) => {
      const region = out.shape.map((n, i) => (i < d ? n : x.shape[i]));
      const base = widths.reduce((acc, [l], i) => acc + (i > d ? l * os[i] : 0), 0);
      const src = os.map((s, i) => (i === d ? 0 : s));
      const n = x.shape[d];
      region[d] = lo;
      copyStrided(ctx, e, o.ptr, base, os, o.ptr, base + lo * os[d], src, region);
      region[d] = hi;
      copyStrided(ctx, e, o.ptr, base + (lo + n) * os[d], os, o.ptr, base + (lo + n - 1) * os[d], src, region);
    });
  }
  return [o];
};

// The diagonal walks both matrix axes at once: stride s1 + s2, from the offset's corner.
const diagonal: CudaKernel = ([x], [out], { offset, axis1, axis2 }: DiagonalParams, ctx) => {
  const o = ctx.alloc(out);
  const s = rowStrides(x.shape);
  const rest = s.filter((_, i) => i !== axis1 && i !== axis2);
  const start = offset >= 0 ? offset * s[axis2] : -offset * s[axis1];
  copyStrided(ctx, x.dtype.size, o.ptr, 0, null, x.buf.ptr, start, [...rest, s[axis1] + s[axis2]], out.shape);
  return [o];
};

// The transforms' pass-through primitives hand back some of their inputs' buffers.
const customFunction: CudaKernel = (ins, outs, { nIn }: { nIn: number }) => outs.map((_, i) => ins[nIn + i].buf);
const depends: CudaKernel = (ins, outs) => outs.map((_, i) => ins[i].buf);

registerCudaKernels({ reshape, broadcast, transpose, slice, sliceUpdate, concatenate, split, pad, diagonal, customFunction, depends });
