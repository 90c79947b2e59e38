// CPU sorting. Each line along the axis is turned into unsigned integer keys that order
// as NumPy does (-0 equals 0, every NaN equal and after +inf; 64-bit dtypes take two
// 32-bit words), then sorted by a stable LSD radix sort of (key, index) pairs: a fixed
// number of counting passes with no data-dependent branches, which comparison sorts in JS
// cannot avoid. Partitions take a heap of the few selected elements when one side is
// small (topk), and a full sort (a valid partition) otherwise. Values are gathered by the
// index order, so sort and partition are exactly the gathers the gradient rules assume.
import type { DType, TypedArray } from '../../../core/dtype.js';
import { CpuKernel, CpuArg, registerCpuKernels, allocOut } from '../backend.js';
import type { SortParams, PartitionParams } from '../../../core/ops/sort.js';

/** Per line: keys (lo word, and hi word for 64-bit dtypes; zeros otherwise) and index buffers. */
interface Scratch { lo: Uint32Array; hi: Uint32Array; idx: Uint32Array; lo2: Uint32Array; hi2: Uint32Array; idx2: Uint32Array; flags: Uint8Array }

const keyBits = (d: DType): number => (d.name === 'bool' ? 1 : d.size * 8);

// ---------------------------------------------------------------- keys

/** Writes the keys of the line at base, base + stride, ... into s.lo (and s.hi). */
function readKeys(x: CpuArg, base: number, stride: number, n: number, { lo, hi }: Scratch): void {
  const d = x.data;
  switch (x.dtype.name) {
    case 'bool': case 'uint8': case 'uint16': case 'uint32':
      for (let j = 0; j < n; j++) lo[j] = d[base + j * stride] as number;
      return;
    case 'int8': case 'int16': case 'int32': {
      const bias = x.dtype.name === 'int32' ? 0x80000000 : x.dtype.name === 'int16' ? 0x8000 : 0x80;
      for (let j = 0; j < n; j++) lo[j] = ((d[base + j * stride] as number) ^ bias) & (bias * 2 - 1);
      return;
    }
    case 'float16': case 'bfloat16': {
      const inf = x.dtype.name === 'float16' ? 0x7c00 : 0x7f80;
      for (let j = 0; j < n; j++) {
        let h = d[base + j * stride] as number;
        if ((h & 0x7fff) > inf) h = 0x7fff; // every NaN alike, above +inf
        else if (h === 0x8000) h = 0; // -0 is 0
        lo[j] = h & 0x8000 ? ~h & 0xffff : h | 0x8000;
      }
      return;
    }
    case 'float32': {
      const bits = new Uint32Array(d.buffer, d.byteOffset, d.length);
      for (let j = 0; j < n; j++) {
        let b = bits[base + j * stride];
        if ((b & 0x7fffffff) > 0x7f800000) b = 0x7fffffff;
        else if (b === 0x80000000) b = 0;
        lo[j] = b & 0x80000000 ? ~b : b | 0x80000000;
      }
      return;
    }
    default: { // float64, int64, uint64: two words, little-endian
      const w = new Uint32Array(d.buffer, d.byteOffset, d.length * 2);
      const kind = x.dtype.name;
      for (let j = 0; j < n; j++) {
        const p = 2 * (base + j * stride);
        let l = w[p], h = w[p + 1];
        if (kind === 'uint64') { lo[j] = l; hi[j] = h; continue; }
        if (kind === 'int64') { lo[j] = l; hi[j] = h ^ 0x80000000; continue; }
        if ((h & 0x7fffffff) > 0x7ff00000 || ((h & 0x7fffffff) === 0x7ff00000 && l !== 0)) { h = 0x7fffffff; l = 0xffffffff; } else if (h === 0x80000000 && l === 0) h = 0;
        if (h & 0x80000000) { lo[j] = ~l; hi[j] = ~h; } else { lo[j] = l; hi[j] = h | 0x80000000; }
      }
    }
  }
}

// ---------------------------------------------------------------- stable radix argsort

/** Sorts (key, index) pairs of s stably; returns the buffer holding the index order (s.idx or s.idx2). */
function argsortLine(s: Scratch, n: number, bits: number): Uint32Array {
  let { lo, hi, idx } = s;
  for (let i = 0; i < n; i++) idx[i] = i;
  if (n <= 32) { insertionSort(lo, hi, idx, n); return idx; }
  const passes = Math.ceil(bits / 8);
  const counts = new Uint32Array(256 * passes);
  for (let i = 0; i < n; i++) {
    const l = lo[i];
    for (let p = 0; p < passes && p < 4; p++) counts[256 * p + ((l >>> (8 * p)) & 255)]++;
    if (passes > 4) { const h = hi[i]; for (let p = 4; p < passes; p++) counts[256 * p + ((h >>> (8 * p - 32)) & 255)]++; }
  }
  let lo2 = s.lo2, hi2 = s.hi2, idx2 = s.idx2;
  for (let p = 0; p < passes; p++) {
    const off = counts.subarray(256 * p, 256 * p + 256);
    if (off.some((c) => c === n)) continue; // one digit everywhere: the order stands
    for (let d = 0, sum = 0; d < 256; d++) { const c = off[d]; off[d] = sum; sum += c; }
    if (p < 4) scatter(lo, lo2, idx, idx2, passes > 4 ? hi : null, hi2, lo, 8 * p, off, n);
    else scatter(lo, lo2, idx, idx2, hi, hi2, hi, 8 * p - 32, off, n);
    [lo, lo2, idx, idx2] = [lo2, lo, idx2, idx];
    if (passes > 4) [hi, hi2] = [hi2, hi];
  }
  return idx;
}

/** One counting pass on the digit of `digits` at `shift`, moving keys and indices. */
function scatter(lo: Uint32Array, lo2: Uint32Array, idx: Uint32Array, idx2: Uint32Array, hi: Uint32Array | null, hi2: Uint32Array, digits: Uint32Array, shift: number, off: Uint32Array, n: number): void {
  if (hi) {
    for (let i = 0; i < n; i++) { const q = off[(digits[i] >>> shift) & 255]++; lo2[q] = lo[i]; hi2[q] = hi[i]; idx2[q] = idx[i]; }
  } else {
    for (let i = 0; i < n; i++) { const k = lo[i], q = off[(k >>> shift) & 255]++; lo2[q] = k; idx2[q] = idx[i]; }
  }
}

function insertionSort(lo: Uint32Array, hi: Uint32Array, idx: Uint32Array, n: number): void {
  for (let i = 1; i < n; i++) {
    const l = lo[i], h = hi[i], ix = idx[i];
    let j = i - 1;
    for (; j >= 0 && (hi[j] > h || (hi[j] === h && lo[j] > l)); j--) { lo[j + 1] = lo[j]; hi[j + 1] = hi[j]; idx[j + 1] = idx[j]; }
    lo[j + 1] = l; hi[j + 1] = h; idx[j + 1] = ix;
  }
}

// ---------------------------------------------------------------- partition

/** An index order with the kth smallest key at kth, smaller keys before it and larger after. */
function partitionLine(s: Scratch, n: number, kth: number, bits: number): Uint32Array {
  if (n > 256 && (n - kth) * 32 <= n) return heapSelect(s, n, n - kth, true);
  if (n > 256 && (kth + 1) * 32 <= n) return heapSelect(s, n, kth + 1, false);
  return argsortLine(s, n, bits);
}

/**
 * Keeps the `count` largest (or smallest) keys in a heap whose root is the one that would
 * leave first; a scan compares each key with the root only. The selected block goes at the
 * end (start) with the root next to the rest: exactly where the kth element belongs.
 */
function heapSelect({ lo, hi, idx2: out, flags }: Scratch, n: number, count: number, largest: boolean): Uint32Array {
  // leaves(a, b): a leaves the heap before b.
  const leaves = (a: number, b: number) => (hi[a] !== hi[b] ? (hi[a] < hi[b]) === largest : lo[a] !== lo[b] ? (lo[a] < lo[b]) === largest : a > b);
  const heap = new Uint32Array(count);
  const sift = (i: number) => {
    for (;;) {
      const l = 2 * i + 1, r = l + 1;
      let m = i;
      if (l < count && leaves(heap[l], heap[m])) m = l;
      if (r < count && leaves(heap[r], heap[m])) m = r;
      if (m === i) return;
      const t = heap[i]; heap[i] = heap[m]; heap[m] = t; i = m;
    }
  };
  for (let i = 0; i < count; i++) heap[i] = i;
  for (let i = (count >> 1) - 1; i >= 0; i--) sift(i);
  let rootHi = hi[heap[0]], rootLo = lo[heap[0]];
  for (let i = count; i < n; i++) {
    const h = hi[i];
    const wins = largest ? h > rootHi || (h === rootHi && lo[i] > rootLo) : h < rootHi || (h === rootHi && lo[i] < rootLo);
    if (wins) { heap[0] = i; sift(0); rootHi = hi[heap[0]]; rootLo = lo[heap[0]]; }
  }
  flags.fill(0, 0, n);
  for (let i = 0; i < count; i++) flags[heap[i]] = 1;
  let o = largest ? 0 : count;
  for (let i = 0; i < n; i++) if (!flags[i]) out[o++] = i;
  const start = largest ? n - count : 0;
  out[largest ? start : count - 1] = heap[0];
  for (let i = 1, p = largest ? start + 1 : 0; i < count; i++) out[p++] = heap[i];
  return out;
}

// ---------------------------------------------------------------- kernels

/** The (outer, n, inner) view around `axis`: line l starts at base(l) and steps by inner. */
function eachLine(x: CpuArg, axis: number, order: (s: Scratch, n: number) => Uint32Array, emit: (idx: Uint32Array, base: number, stride: number, n: number) => void): void {
  const size = (ds: readonly number[]) => ds.reduce((a, b) => a * b, 1);
  const outer = size(x.shape.slice(0, axis)), n = x.shape[axis], inner = size(x.shape.slice(axis + 1));
  const s: Scratch = { lo: new Uint32Array(n), hi: new Uint32Array(n), idx: new Uint32Array(n), lo2: new Uint32Array(n), hi2: new Uint32Array(n), idx2: new Uint32Array(n), flags: new Uint8Array(n) };
  for (let o = 0; o < outer; o++) for (let i = 0; i < inner; i++) {
    const base = o * n * inner + i;
    readKeys(x, base, inner, n, s);
    emit(order(s, n), base, inner, n);
  }
}

const writeIndices = (out: Uint32Array) => (idx: Uint32Array, b: number, stride: number, n: number) => {
  for (let j = 0; j < n; j++) out[b + j * stride] = idx[j];
};
const gatherValues = (src: TypedArray, out: TypedArray) => (idx: Uint32Array, b: number, stride: number, n: number) => {
  for (let j = 0; j < n; j++) out[b + j * stride] = src[b + idx[j] * stride];
};

const sortKernel = (values: boolean): CpuKernel => ([x], [spec], { axis }: SortParams) => {
  const o = allocOut(spec);
  const bits = keyBits(x.dtype);
  eachLine(x, axis, (s, n) => argsortLine(s, n, bits), values ? gatherValues(x.data, o) : writeIndices(o as Uint32Array));
  return [o];
};

const partitionKernel = (values: boolean): CpuKernel => ([x], [spec], { axis, kth }: PartitionParams) => {
  const o = allocOut(spec);
  const bits = keyBits(x.dtype);
  eachLine(x, axis, (s, n) => partitionLine(s, n, kth, bits), values ? gatherValues(x.data, o) : writeIndices(o as Uint32Array));
  return [o];
};

registerCpuKernels({ sort: sortKernel(true), argsort: sortKernel(false), partition: partitionKernel(true), argpartition: partitionKernel(false) });
