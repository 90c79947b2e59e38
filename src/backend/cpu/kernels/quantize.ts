// CPU kernels for affine quantization (layout in core/ops/quantize.ts): quantize,
// dequantize, and quantizedMatmul, which dequantizes a block of weight rows at a time
// into a small buffer and multiplies it with BLAS, so a large weight is never unpacked
// whole. Float32 and half inputs are computed in float32 (each step rounded to float32,
// as MLX's kernels do), float64 in float64.
import { DType, TypedArray } from '../../../core/dtype.js';
import { toF16, toBF16 } from '../../../core/half.js';
import type { QuantParams, QmmParams } from '../../../core/ops/quantize.js';
import { CpuKernel, registerCpuKernels, allocOut } from '../backend.js';
import { broadcastStrides } from '../codegen.js';
import { gemm, Floats } from '../blas.js';
import { asFloats, f32ToHalf } from './linalg.js';

const identity = (v: number) => v;
/** Rounding after each arithmetic step: float32 unless the dtype is float64. */
const rounder = (d: DType) => (d.name === 'float64' ? identity : Math.fround);
const lastDim = (s: readonly number[]) => s[s.length - 1];

/** Round half to even (C's rint). */
function rint(x: number): number {
  const r = Math.round(x);
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Float values (float32 or float64 arrays) as storage of a float dtype. */
function toFloatStorage(v: Floats, d: DType): TypedArray {
  if (d.name === 'float64' || d.name === 'float32') return v;
  const out = new Uint16Array(v.length);
  const f = d.name === 'float16' ? toF16 : toBF16;
  for (let i = 0; i < v.length; i++) out[i] = f(v[i]);
  return out;
}

const workArray = (d: DType, n: number): Floats => (d.name === 'float64' ? new Float64Array(n) : new Float32Array(n));

// ---------------------------------------------------------------- quantize

const quantize: CpuKernel = ([w], [, sSpec], p: QuantParams) => {
  const { groupSize, bits } = p;
  const f = rounder(w.dtype);
  const vals = asFloats(w.data, w.dtype);
  const K = lastDim(w.shape), rows = K === 0 ? 0 : vals.length / K;
  const groups = K / groupSize, wordsPerRow = (K * bits) / 32;
  const words = new Uint32Array(rows * wordsPerRow);
  const scales = workArray(w.dtype, rows * groups), biases = workArray(w.dtype, rows * groups);
  const nBins = (1 << bits) - 1, eps = f(1e-7);
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < groups; g++) {
      const start = r * K + g * groupSize;
      let lo = Infinity, hi = -Infinity;
      for (let j = 0; j < groupSize; j++) { const v = vals[start + j]; if (v < lo) lo = v; if (v > hi) hi = v; }
      // Keep the endpoint of larger magnitude exact: it becomes q = 0 or q = nBins.
      const lowEdge = Math.abs(lo) > Math.abs(hi);
      let scale = Math.max(f(f(hi - lo) / nBins), eps);
      if (!lowEdge) scale = -scale;
      const edge = lowEdge ? lo : hi;
      const q0 = rint(f(edge / scale));
      let bias = 0;
      if (q0 !== 0) { scale = f(edge / q0); bias = edge; }
      scales[r * groups + g] = scale;
      biases[r * groups + g] = bias;
      const base = r * wordsPerRow * 32 + g * groupSize * bits; // bit offset of the group
      for (let j = 0; j < groupSize; j++) {
        const q = Math.min(Math.max(rint(f(f(vals[start + j] - bias) / scale)), 0), nBins);
        const bit = base + j * bits, wi = bit >>> 5, off = bit & 31;
        words[wi] |= q << off;
        if (off + bits > 32) words[wi + 1] |= q >>> (32 - off);
      }
    }
  }
  return [words, toFloatStorage(scales, sSpec.dtype), toFloatStorage(biases, sSpec.dtype)];
};

// ---------------------------------------------------------------- dequantize

/**
 * Unpacks `nRows` rows of K values from `words` (starting at row `row0`) into `out` as
 * scale * q + bias. For float32 the product is rounded before the add, as MLX's float
 * kernels compute; the store rounds the sum. float64 is computed exactly in doubles.
 */
function unpackRows(words: Uint32Array, scales: Floats, biases: Floats, row0: number, nRows: number, K: number,
  bits: number, groupSize: number, out: Floats): void {
  const groups = K / groupSize, wordsPerRow = (K * bits) / 32, mask = (1 << bits) - 1;
  const wordsPerGroup = (groupSize * bits) / 32, perWord = 32 / bits;
  const f64 = out instanceof Float64Array;
  // Up to 4 bits a group has at most 16 distinct values: a table beats a multiply-add each.
  const lut = bits <= 4 ? new Float64Array(1 << bits) : null;
  let o = 0;
  for (let r = row0; r < row0 + nRows; r++) {
    for (let g = 0; g < groups; g++) {
      const scale = scales[r * groups + g], bias = biases[r * groups + g];
      const w0 = r * wordsPerRow + g * wordsPerGroup;
      if (lut) {
        for (let q = 0; q <= mask; q++) lut[q] = f64 ? scale * q + bias : Math.fround(Math.fround(scale * q) + bias);
        if (Number.isInteger(perWord)) {
          for (let i = 0; i < wordsPerGroup; i++) {
            let v = words[w0 + i];
            for (let k = 0; k < perWord; k++) { out[o++] = lut[v & mask]; v >>>= bits; }
          }
        } else {
          for (let j = 0; j < groupSize; j++) {
            const bit = j * bits, wi = w0 + (bit >>> 5), off = bit & 31;
            const q = off + bits > 32 ? ((words[wi] >>> off) | (words[wi + 1] << (32 - off))) & mask : (words[wi] >>> off) & mask;
            out[o++] = lut[q];
          }
        }
      } else if (bits === 8) {
        for (let i = 0; i < wordsPerGroup; i++) {
          const v = words[w0 + i];
          for (let k = 0; k < 32; k += 8) { const q = (v >>> k) & 255; out[o++] = f64 ? scale * q + bias : Math.fround(scale * q) + bias; }
        }
      } else {
        for (let j = 0; j < groupSize; j++) {
          const bit = j * bits, wi = w0 + (bit >>> 5), off = bit & 31;
          const q = off + bits > 32 ? ((words[wi] >>> off) | (words[wi + 1] << (32 - off))) & mask : (words[wi] >>> off) & mask;
          out[o++] = f64 ? scale * q + bias : Math.fround(scale * q) + bias;
        }
      }
    }
  }
}

const dequantize: CpuKernel = ([wq, s, b], [out], p: QuantParams) => {
  const d = out.dtype, K = lastDim(out.shape);
  const rows = K === 0 ? 0 : out.shape.reduce((a, c) => a * c, 1) / K;
  const vals = workArray(d, rows * K);
  unpackRows(wq.data as Uint32Array, asFloats(s.data, d), asFloats(b.data, d), 0, rows, K, p.bits, p.groupSize, vals);
  return [toFloatStorage(vals, d)];
};

// ---------------------------------------------------------------- quantizedMatmul

/** Offsets (in matrices) of each operand's matrix for each output batch index. */
function batchOffsets(inBatch: readonly number[], outBatch: readonly number[]): Int32Array {
  const strides = broadcastStrides(inBatch, outBatch);
  const count = outBatch.reduce((a, c) => a * c, 1);
  const offs = new Int32Array(count);
  const idx = new Array<number>(outBatch.length).fill(0);
  for (let i = 0, off = 0; i < count; i++) {
    offs[i] = off;
    for (let k = outBatch.length - 1; k >= 0; k--) {
      idx[k]++; off += strides[k];
      if (idx[k] < outBatch[k]) break;
      off -= strides[k] * outBatch[k]; idx[k] = 0;
    }
  }
  return offs;
}

/** Dequantized weight rows per block: about 1 MiB of float32, enough for BLAS to run well. */
const BLOCK_ELEMENTS = 1 << 18;

const quantizedMatmul: CpuKernel = ([x, wq, s, b], [out], p: QmmParams) => {
  const o = allocOut(out);
  const d = out.dtype;
  const nd = out.shape.length;
  const M = out.shape[nd - 2], N = out.shape[nd - 1], K = lastDim(x.shape);
  const rows = wq.shape[wq.shape.length - 2], cols = K === 0 ? 0 : p.transpose ? K : N;
  if (o.length === 0) return [o];
  const isHalf = d.name === 'float16' || d.name === 'bfloat16';
  const C = isHalf ? new Float32Array(o.length) : (o as Floats);
  if (K === 0) return [toFloatStorage(C, d)]; // an empty sum: zeros
  const X = asFloats(x.data, d), S = asFloats(s.data, d), B = asFloats(b.data, d), W = wq.data as Uint32Array;
  const outBatch = out.shape.slice(0, -2);
  let xo = batchOffsets(x.shape.slice(0, -2), outBatch), wo = batchOffsets(wq.shape.slice(0, -2), outBatch);
  let m = M;
  // A weight shared by x's consecutive matrices: one tall product, one pass over the weight.
  if (wo.every((v) => v === wo[0]) && xo.every((v, i) => v === i)) { m = M * xo.length; xo = xo.subarray(0, 1); wo = wo.subarray(0, 1); }
  const blockRows = Math.max(1, Math.min(rows, Math.floor(BLOCK_ELEMENTS / cols)));
  const tmp = d.name === 'float64' ? new Float64Array(blockRows * cols) : new Float32Array(blockRows * cols);
  for (let i = 0; i < xo.length; i++) {
    const xOff = xo[i] * M * K, cOff = i * M * N, wRow0 = wo[i] * rows;
    for (let r0 = 0; r0 < rows; r0 += blockRows) {
      const nr = Math.min(blockRows, rows - r0);
      unpackRows(W, S, B, wRow0 + r0, nr, cols, p.bits, p.groupSize, tmp);
      // transpose: rows are output columns n0..; else rows are the contraction index k0..
      if (p.transpose) gemm(false, true, m, nr, K, 1, X, xOff, K, tmp, 0, K, 0, C, cOff + r0, N);
      else gemm(false, false, m, N, nr, 1, X, xOff + r0, K, tmp, 0, N, r0 === 0 ? 0 : 1, C, cOff, N);
    }
  }
  if (isHalf) f32ToHalf(C as Float32Array, d, o as Uint16Array);
  return [o];
};

registerCpuKernels({ quantize, dequantize, quantizedMatmul });
