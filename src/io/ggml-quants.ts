// ggml's tensor types: each type's block layout, and dequantization of the quantized ones to
// float32, transcribed from ggml's reference `dequantize_row_*` (ggml-quants.c). Every step
// there is a float32 operation whose inputs are exact in float32 (a float16 scale times a
// small integer), so computing in float64 and rounding once on store gives the same bits.
import { F16_TABLE } from '../core/half.js';
import { DType, float32, float16, bfloat16, float64, int8, int16, int32, int64 } from '../core/dtype.js';

export interface GgmlType {
  id: number;
  name: string;
  /** Elements per block, and bytes per block. */
  blockSize: number;
  typeSize: number;
  /** Plain types load as this lathe dtype, bytes unchanged. */
  dtype?: DType;
  /** Quantized types lathe can read: blocks in, float32 values out. */
  dequantize?: (src: Uint8Array, out: Float32Array, blocks: number) => void;
}

const f16 = (b: Uint8Array, i: number): number => F16_TABLE[b[i] | (b[i + 1] << 8)];

function q8_0(src: Uint8Array, out: Float32Array, blocks: number): void {
  for (let i = 0, s = 0, o = 0; i < blocks; i++, s += 34, o += 32) {
    const d = f16(src, s);
    for (let j = 0; j < 32; j++) out[o + j] = d * ((src[s + 2 + j] << 24) >> 24);
  }
}

function q4_0(src: Uint8Array, out: Float32Array, blocks: number): void {
  for (let i = 0, s = 0, o = 0; i < blocks; i++, s += 18, o += 32) {
    const d = f16(src, s);
    for (let j = 0; j < 16; j++) {
      const q = src[s + 2 + j];
      out[o + j] = ((q & 0xf) - 8) * d;
      out[o + j + 16] = ((q >> 4) - 8) * d;
    }
  }
}

function q4_1(src: Uint8Array, out: Float32Array, blocks: number): void {
  for (let i = 0, s = 0, o = 0; i < blocks; i++, s += 20, o += 32) {
    const d = f16(src, s), m = f16(src, s + 2);
    for (let j = 0; j < 16; j++) {
      const q = src[s + 4 + j];
      out[o + j] = (q & 0xf) * d + m;
      out[o + j + 16] = (q >> 4) * d + m;
    }
  }
}

function q5_0(src: Uint8Array, out: Float32Array, blocks: number): void {
  for (let i = 0, s = 0, o = 0; i < blocks; i++, s += 22, o += 32) {
    const d = f16(src, s);
    const qh = (src[s + 2] | (src[s + 3] << 8) | (src[s + 4] << 16) | (src[s + 5] << 24)) >>> 0;
    for (let j = 0; j < 16; j++) {
      const q = src[s + 6 + j];
      out[o + j] = (((q & 0xf) | (((qh >>> j) << 4) & 0x10)) - 16) * d;
      out[o + j + 16] = (((q >> 4) | ((qh >>> (j + 12)) & 0x10)) - 16) * d;
    }
  }
}

function q5_1(src: Uint8Array, out: Float32Array, blocks: number): void {
  for (let i = 0, s = 0, o = 0; i < blocks; i++, s += 24, o += 32) {
    const d = f16(src, s), m = f16(src, s + 2);
    const qh = (src[s + 4] | (src[s + 5] << 8) | (src[s + 6] << 16) | (src[s + 7] << 24)) >>> 0;
    for (let j = 0; j < 16; j++) {
      const q = src[s + 8 + j];
      out[o + j] = ((q & 0xf) | (((qh >>> j) << 4) & 0x10)) * d + m;
      out[o + j + 16] = ((q >> 4) | ((qh >>> (j + 12)) & 0x10)) * d + m;
    }
  }
}

// The 8 six-bit scales and mins of a K-quant super-block, packed into 12 bytes.
function scaleMin(src: Uint8Array, at: number, j: number): [number, number] {
  if (j < 4) return [src[at + j] & 63, src[at + j + 4] & 63];
  return [(src[at + j + 4] & 0xf) | ((src[at + j - 4] >> 6) << 4), (src[at + j + 4] >> 4) | ((src[at + j] >> 6) << 4)];
}

function q4_K(src: Uint8Array, out: Float32Array, blocks: number): void {
  for (let i = 0, s = 0, o = 0; i < blocks; i++, s += 144) {
    const d = f16(src, s), dmin = f16(src, s + 2);
    for (let j = 0, q = s + 16; j < 4; j++, q += 32) {
      const [sc1, m1] = scaleMin(src, s + 4, 2 * j);
      const [sc2, m2] = scaleMin(src, s + 4, 2 * j + 1);
      const d1 = d * sc1, dm1 = dmin * m1, d2 = d * sc2, dm2 = dmin * m2;
      for (let l = 0; l < 32; l++) out[o++] = d1 * (src[q + l] & 0xf) - dm1;
      for (let l = 0; l < 32; l++) out[o++] = d2 * (src[q + l] >> 4) - dm2;
    }
  }
}

function q5_K(src: Uint8Array, out: Float32Array, blocks: number): void {
  for (let i = 0, s = 0, o = 0; i < blocks; i++, s += 176) {
    const d = f16(src, s), dmin = f16(src, s + 2);
    const qh = s + 16;
    for (let j = 0, q = s + 48, u1 = 1, u2 = 2; j < 4; j++, q += 32, u1 <<= 2, u2 <<= 2) {
      const [sc1, m1] = scaleMin(src, s + 4, 2 * j);
      const [sc2, m2] = scaleMin(src, s + 4, 2 * j + 1);
      const d1 = d * sc1, dm1 = dmin * m1, d2 = d * sc2, dm2 = dmin * m2;
      for (let l = 0; l < 32; l++) out[o++] = d1 * ((src[q + l] & 0xf) + (src[qh + l] & u1 ? 16 : 0)) - dm1;
      for (let l = 0; l < 32; l++) out[o++] = d2 * ((src[q + l] >> 4) + (src[qh + l] & u2 ? 16 : 0)) - dm2;
    }
  }
}

function q6_K(src: Uint8Array, out: Float32Array, blocks: number): void {
  for (let i = 0, s = 0, o = 0; i < blocks; i++, s += 210) {
    const d = f16(src, s + 208);
    for (let n = 0; n < 2; n++, o += 128) {
      const ql = s + 64 * n, qh = s + 128 + 32 * n, sc = s + 192 + 8 * n;
      for (let l = 0; l < 32; l++) {
        const is = sc + (l >> 4), h = src[qh + l], lo = src[ql + l], hi = src[ql + l + 32];
        // d * scale is exact in float32 (an 11-bit by 8-bit product), as in ggml.
        const s0 = d * ((src[is] << 24) >> 24), s2 = d * ((src[is + 2] << 24) >> 24);
        const s4 = d * ((src[is + 4] << 24) >> 24), s6 = d * ((src[is + 6] << 24) >> 24);
        out[o + l] = s0 * (((lo & 0xf) | ((h & 3) << 4)) - 32);
        out[o + l + 32] = s2 * (((hi & 0xf) | (((h >> 2) & 3) << 4)) - 32);
        out[o + l + 64] = s4 * (((lo >> 4) | (((h >> 4) & 3) << 4)) - 32);
        out[o + l + 96] = s6 * (((hi >> 4) | (((h >> 6) & 3) << 4)) - 32);
      }
    }
  }
}

const table: GgmlType[] = [
  { id: 0, name: 'F32', blockSize: 1, typeSize: 4, dtype: float32 },
  { id: 1, name: 'F16', blockSize: 1, typeSize: 2, dtype: float16 },
  { id: 2, name: 'Q4_0', blockSize: 32, typeSize: 18, dequantize: q4_0 },
  { id: 3, name: 'Q4_1', blockSize: 32, typeSize: 20, dequantize: q4_1 },
  { id: 6, name: 'Q5_0', blockSize: 32, typeSize: 22, dequantize: q5_0 },
  { id: 7, name: 'Q5_1', blockSize: 32, typeSize: 24, dequantize: q5_1 },
  { id: 8, name: 'Q8_0', blockSize: 32, typeSize: 34, dequantize: q8_0 },
  { id: 10, name: 'Q2_K', blockSize: 256, typeSize: 84 },
  { id: 11, name: 'Q3_K', blockSize: 256, typeSize: 110 },
  { id: 12, name: 'Q4_K', blockSize: 256, typeSize: 144, dequantize: q4_K },
  { id: 13, name: 'Q5_K', blockSize: 256, typeSize: 176, dequantize: q5_K },
  { id: 14, name: 'Q6_K', blockSize: 256, typeSize: 210, dequantize: q6_K },
  { id: 15, name: 'Q8_K', blockSize: 256, typeSize: 292 },
  { id: 16, name: 'IQ2_XXS', blockSize: 256, typeSize: 66 },
  { id: 17, name: 'IQ2_XS', blockSize: 256, typeSize: 74 },
  { id: 18, name: 'IQ3_XXS', blockSize: 256, typeSize: 98 },
  { id: 19, name: 'IQ1_S', blockSize: 256, typeSize: 50 },
  { id: 20, name: 'IQ4_NL', blockSize: 32, typeSize: 18 },
  { id: 21, name: 'IQ3_S', blockSize: 256, typeSize: 110 },
  { id: 22, name: 'IQ2_S', blockSize: 256, typeSize: 82 },
  { id: 23, name: 'IQ4_XS', blockSize: 256, typeSize: 136 },
  { id: 24, name: 'I8', blockSize: 1, typeSize: 1, dtype: int8 },
  { id: 25, name: 'I16', blockSize: 1, typeSize: 2, dtype: int16 },
  { id: 26, name: 'I32', blockSize: 1, typeSize: 4, dtype: int32 },
  { id: 27, name: 'I64', blockSize: 1, typeSize: 8, dtype: int64 },
  { id: 28, name: 'F64', blockSize: 1, typeSize: 8, dtype: float64 },
  { id: 29, name: 'IQ1_M', blockSize: 256, typeSize: 56 },
  { id: 30, name: 'BF16', blockSize: 1, typeSize: 2, dtype: bfloat16 },
  { id: 34, name: 'TQ1_0', blockSize: 256, typeSize: 54 },
  { id: 35, name: 'TQ2_0', blockSize: 256, typeSize: 66 },
  { id: 39, name: 'MXFP4', blockSize: 32, typeSize: 17 },
];

export const ggmlTypes = new Map(table.map((t) => [t.id, t]));

/** The types lathe reads, by name, for error messages. */
export const readableTypes = table.filter((t) => t.dtype || t.dequantize).map((t) => t.name);

/** The ggml type that stores a lathe dtype as it is (F32, F16, BF16, F64, I8..I64). */
export function ggmlTypeOf(dtype: DType): GgmlType | undefined {
  return table.find((t) => t.dtype === dtype);
}
