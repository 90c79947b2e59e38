// CPU kernels: matmul (BLAS or the portable GEMM for floats; exact wrapping loops for
// integers), plus the factorizations registered from ./factorizations.ts.
import { DType, TypedArray } from '../../../core/dtype.js';
import { F16_TABLE, BF16_TABLE, toF16, toBF16 } from '../../../core/half.js';
import { CpuKernel, registerCpuKernels, allocOut } from '../backend.js';
import { broadcastStrides } from '../codegen.js';
import { gemm, Floats } from '../blas.js';
import type { MatmulParams } from '../../../core/ops/matmul.js';
import './factorizations.js';

const isHalf = (d: DType) => d.name === 'float16' || d.name === 'bfloat16';

/** Half-precision storage as float32 values. */
export function halfToF32(data: TypedArray, d: DType): Float32Array {
  const t = d.name === 'float16' ? F16_TABLE : BF16_TABLE;
  const out = new Float32Array(data.length);
  for (let i = 0; i < out.length; i++) out[i] = t[data[i] as number];
  return out;
}

export function f32ToHalf(src: Float32Array, d: DType, out: Uint16Array): void {
  const f = d.name === 'float16' ? toF16 : toBF16;
  for (let i = 0; i < src.length; i++) out[i] = f(src[i]);
}

/** Storage of a float dtype as the float32/float64 array a GEMM reads. */
export function asFloats(data: TypedArray, d: DType): Floats {
  return isHalf(d) ? halfToF32(data, d) : (data as Floats);
}

/** Offsets (in elements) of each batch matrix of an input, walking the output's batch dims. */
function batchOffsets(inBatch: readonly number[], outBatch: readonly number[], matSize: number): Int32Array {
  const strides = broadcastStrides(inBatch, outBatch);
  const count = outBatch.reduce((p, d) => p * d, 1);
  const offs = new Int32Array(count);
  const idx = new Array<number>(outBatch.length).fill(0);
  for (let b = 0, off = 0; b < count; b++) {
    offs[b] = off * matSize;
    for (let d = outBatch.length - 1; d >= 0; d--) {
      idx[d]++; off += strides[d];
      if (idx[d] < outBatch[d]) break;
      off -= strides[d] * outBatch[d]; idx[d] = 0;
    }
  }
  return offs;
}

/** C[i, j] = sum_k A[i, k] B[k, j] for integers and bools, wrapping like C integers. */
function intMatmul(A: TypedArray, aOff: number, B: TypedArray, bOff: number, C: TypedArray, cOff: number, M: number, N: number, K: number, d: DType): void {
  if (d.isBig) {
    const a = A as BigInt64Array, b = B as BigInt64Array, c = C as BigInt64Array;
    const row = new Array<bigint>(N);
    for (let i = 0; i < M; i++) {
      row.fill(0n);
      for (let k = 0; k < K; k++) {
        const x = a[aOff + i * K + k];
        for (let j = 0; j < N; j++) row[j] += x * b[bOff + k * N + j];
      }
      for (let j = 0; j < N; j++) c[cOff + i * N + j] = row[j]; // the typed array wraps to 64 bits
    }
    return;
  }
  const a = A as Int32Array, b = B as Int32Array, c = C as Int32Array;
  const row = new Int32Array(N); // int32 accumulation wraps exactly like any narrower integer
  for (let i = 0; i < M; i++) {
    row.fill(0);
    for (let k = 0; k < K; k++) {
      const x = a[aOff + i * K + k];
      if (x === 0) continue;
      for (let j = 0; j < N; j++) row[j] += Math.imul(x, b[bOff + k * N + j]);
    }
    if (d.kind === 'bool') for (let j = 0; j < N; j++) c[cOff + i * N + j] = row[j] !== 0 ? 1 : 0;
    else for (let j = 0; j < N; j++) c[cOff + i * N + j] = row[j];
  }
}

const matmul: CpuKernel = ([a, b], [out], { transposeA: tA = false, transposeB: tB = false }: MatmulParams) => {
  const o = allocOut(out);
  const nd = out.shape.length;
  const M = out.shape[nd - 2], N = out.shape[nd - 1], K = a.shape[nd - (tA ? 2 : 1)];
  if (o.length === 0) return [o];
  const outBatch = out.shape.slice(0, -2);
  const aOffs = batchOffsets(a.shape.slice(0, -2), outBatch, M * K);
  const bOffs = batchOffsets(b.shape.slice(0, -2), outBatch, K * N);
  const d = out.dtype;
  if (!d.isFloat) {
    if (tA || tB) throw new Error('[matmul] integer products take row-major operands (the op does not fold transposes for them)');
    for (let i = 0; i < aOffs.length; i++) intMatmul(a.data, aOffs[i], b.data, bOffs[i], o, i * M * N, M, N, K, d);
    return [o];
  }
  const A = asFloats(a.data, d), B = asFloats(b.data, d);
  const C = isHalf(d) ? new Float32Array(o.length) : (o as Floats);
  const lda = tA ? M : K, ldb = tB ? K : N;
  // One tall product when b is shared and a's matrices are stored back to back, row-major.
  const shared = !tA && bOffs.every((x) => x === bOffs[0]) && aOffs.every((x, i) => x === i * M * K);
  if (shared) gemm(false, tB, M * aOffs.length, N, K, 1, A, 0, lda, B, bOffs[0], ldb, 0, C, 0, N);
  else for (let i = 0; i < aOffs.length; i++) gemm(tA, tB, M, N, K, 1, A, aOffs[i], lda, B, bOffs[i], ldb, 0, C, i * M * N, N);
  if (isHalf(d)) f32ToHalf(C as Float32Array, d, o as Uint16Array);
  return [o];
};

registerCpuKernels({ matmul });
