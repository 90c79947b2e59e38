// CPU kernels for shape primitives: reshape shares storage; the rest are strided copies
// (copyStrided gathers into a dense output; copyRegion below writes into part of one).
import type { TypedArray } from '../../../core/dtype.js';
import type { SplitParams, PadParams, DiagonalParams } from '../../../core/ops/shape.js';
import { CpuKernel, registerCpuKernels, allocOut } from '../backend.js';
import { copyStrided, broadcastStrides, collapse } from '../codegen.js';

/** Row-major strides of a shape. */
export function rowStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let d = shape.length - 1; d >= 0; d--) { s[d] = acc; acc *= shape[d]; }
  return s;
}

type RegionCopy = (dst: TypedArray, dOff: number, src: TypedArray, sOff: number, shape: number[], ds: number[], ss: number[]) => void;
const regionCopies = new Map<string, RegionCopy>();

// One compiled loop per storage type keeps each copy monomorphic. Values move as raw storage
// elements, so every dtype (halves as bits, BigInts, bools) copies exactly.
const regionSrc = `return function copy(dst, dOff, src, sOff, shape, ds, ss) {
  const nd = shape.length, inner = shape[nd - 1], dt = ds[nd - 1], st = ss[nd - 1];
  let total = 1;
  for (let d = 0; d < nd; d++) total *= shape[d];
  const idx = new Int32Array(nd);
  let od = dOff, os = sOff;
  for (let done = 0; done < total; done += inner) {
    if (dt === 1 && st === 1 && inner >= 32) dst.set(src.subarray(os, os + inner), od);
    else for (let j = 0; j < inner; j++) dst[od + j * dt] = src[os + j * st];
    for (let d = nd - 2; d >= 0; d--) {
      idx[d]++; od += ds[d]; os += ss[d];
      if (idx[d] < shape[d]) break;
      od -= ds[d] * shape[d]; os -= ss[d] * shape[d]; idx[d] = 0;
    }
  }
};`;

/**
 * dst[dOff + i·ds] = src[sOff + i·ss] for every index i of `shape`: a strided copy into
 * part of an existing output (src may be dst itself when the regions do not overlap).
 */
export function copyRegion(dst: TypedArray, dOff: number, dStrides: number[], src: TypedArray, sOff: number, sStrides: number[], shape: readonly number[]): void {
  if (shape.some((d) => d === 0)) return;
  const kind = dst.constructor.name;
  let fn = regionCopies.get(kind);
  if (!fn) { fn = new Function(regionSrc)() as RegionCopy; regionCopies.set(kind, fn); }
  const c = collapse(shape, [dStrides, sStrides]);
  fn(dst, dOff, src, sOff, c.shape, c.strides[0], c.strides[1]);
}

const reshape: CpuKernel = ([x]) => [x.data];

const broadcast: CpuKernel = ([x], [out]) => {
  const o = allocOut(out);
  copyStrided(x.data, x.dtype, o, out.shape, broadcastStrides(x.shape, out.shape));
  return [o];
};

const transpose: CpuKernel = ([x], [out], { axes }: { axes: number[] }) => {
  const o = allocOut(out);
  const s = rowStrides(x.shape);
  copyStrided(x.data, x.dtype, o, out.shape, axes.map((a) => s[a]));
  return [o];
};

// Views every array as (outer, length along axis * inner) rows and places each input's rows.
const concatenate: CpuKernel = (ins, [out], { axis }: { axis: number }) => {
  const o = allocOut(out);
  const outer = out.shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const inner = out.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const row = out.shape[axis] * inner;
  let at = 0;
  for (const x of ins) {
    const len = x.shape[axis] * inner;
    copyRegion(o, at, [row, 1], x.data, 0, [len, 1], [outer, len]);
    at += len;
  }
  return [o];
};

const split: CpuKernel = ([x], outs, { axis, bounds }: SplitParams) => {
  const s = rowStrides(x.shape);
  const contiguous = x.shape.slice(0, axis).every((d) => d === 1);
  return bounds.map(([start, stop], k) => {
    // Splitting along the leading axis takes contiguous chunks.
    if (contiguous) return x.data.slice(start * s[axis], stop * s[axis]);
    const o = allocOut(outs[k]);
    copyStrided(x.data, x.dtype, o, outs[k].shape, s, start * s[axis]);
    return o;
  });
};

function fill(o: TypedArray, v: number | bigint): void {
  // Fresh storage is zeroed already (-0 and NaN still need the fill).
  if (!Object.is(v, 0) && v !== 0n) (o as { fill(v: number | bigint): unknown }).fill(v);
}

// Widths may be negative (crop). Constant: fill, then copy the kept part of x inside. Edge:
// copy x inside, then, axis by axis, copy the first/last slice over the padding (stride 0).
const pad: CpuKernel = (ins, [out], { widths, mode }: PadParams) => {
  const [x] = ins;
  const o = allocOut(out);
  if (mode === 'constant') fill(o, ins[1].data[0]);
  const os = rowStrides(out.shape), xs = rowStrides(x.shape);
  const kept = x.shape.map((n, d) => Math.max(0, n + Math.min(widths[d][0], 0) + Math.min(widths[d][1], 0)));
  const dOff = widths.reduce((acc, [lo], d) => acc + Math.max(lo, 0) * os[d], 0);
  const sOff = widths.reduce((acc, [lo], d) => acc + Math.max(-lo, 0) * xs[d], 0);
  copyRegion(o, dOff, os, x.data, sOff, xs, kept);
  if (mode === 'edge') {
    widths.forEach(([lo, hi], d) => {
      const region = out.shape.map((n, i) => (i < d ? n : x.shape[i]));
      const base = widths.reduce((acc, [l], i) => acc + (i > d ? l * os[i] : 0), 0);
      const src = os.map((s, i) => (i === d ? 0 : s));
      const n = x.shape[d];
      region[d] = lo;
      copyRegion(o, base, os, o, base + lo * os[d], src, region);
      region[d] = hi;
      copyRegion(o, base + (lo + n) * os[d], os, o, base + (lo + n - 1) * os[d], src, region);
    });
  }
  return [o];
};

// The diagonal walks both matrix axes at once: stride s1 + s2, from the offset's corner.
const diagonal: CpuKernel = ([x], [out], { offset, axis1, axis2 }: DiagonalParams) => {
  const o = allocOut(out);
  const s = rowStrides(x.shape);
  const rest = s.filter((_, i) => i !== axis1 && i !== axis2);
  const start = offset >= 0 ? offset * s[axis2] : -offset * s[axis1];
  copyStrided(x.data, x.dtype, o, out.shape, [...rest, s[axis1] + s[axis2]], start);
  return [o];
};

registerCpuKernels({ reshape, broadcast, transpose, concatenate, split, pad, diagonal });
