// ggml blocks whose groups of 32 are exactly MLX's affine quantization (w = scale * q + bias
// with q in [0, 2^bits)): Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, and the K-quants Q4_K and Q5_K
// (whose 32-value sub-blocks carry scale d * sc and bias -dmin * m). Their integers are
// repacked into MLX's bit stream with no rounding, so the layer computes with the very values
// llama.cpp's dequantize_row_* gives (exactly so with float32 scales; float16 holds the _0 and
// _1 types' scales exactly too, while K-quant scales and bfloat16 round). Q6_K's 16-value
// sub-blocks have no MLX counterpart and are dequantized instead.
import { F16_TABLE } from '../../core/half.js';

export interface AffineBlocks {
  /** MLX's packed weight: rows x (cols * bits / 32) uint32. */
  packed: Uint32Array;
  /** Per 32 values: scale and bias (float32). */
  scales: Float32Array;
  biases: Float32Array;
  bits: number;
}

type Decoder = (src: Uint8Array, blocks: number, q: Uint8Array, scales: Float32Array, biases: Float32Array) => void;

const f16 = (b: Uint8Array, i: number): number => F16_TABLE[b[i] | (b[i + 1] << 8)];
const f32 = Math.fround;

const q8_0: Decoder = (src, blocks, q, sc, bi) => {
  for (let i = 0, s = 0; i < blocks; i++, s += 34) {
    const d = f16(src, s);
    sc[i] = d; bi[i] = -128 * d;
    for (let j = 0; j < 32; j++) q[32 * i + j] = ((src[s + 2 + j] << 24) >> 24) + 128;
  }
};

function nibbles(src: Uint8Array, at: number, q: Uint8Array, o: number, offset: number): void {
  for (let j = 0; j < 16; j++) {
    q[o + j] = (src[at + j] & 0xf) + offset;
    q[o + j + 16] = (src[at + j] >> 4) + offset;
  }
}

const q4_0: Decoder = (src, blocks, q, sc, bi) => {
  for (let i = 0, s = 0; i < blocks; i++, s += 18) {
    const d = f16(src, s);
    sc[i] = d; bi[i] = -8 * d;
    nibbles(src, s + 2, q, 32 * i, 0);
  }
};

const q4_1: Decoder = (src, blocks, q, sc, bi) => {
  for (let i = 0, s = 0; i < blocks; i++, s += 20) {
    sc[i] = f16(src, s); bi[i] = f16(src, s + 2);
    nibbles(src, s + 4, q, 32 * i, 0);
  }
};

function fifthBits(src: Uint8Array, at: number, q: Uint8Array, o: number): void {
  const qh = (src[at] | (src[at + 1] << 8) | (src[at + 2] << 16) | (src[at + 3] << 24)) >>> 0;
  for (let j = 0; j < 16; j++) {
    q[o + j] |= ((qh >>> j) << 4) & 0x10;
    q[o + j + 16] |= (qh >>> (j + 12)) & 0x10;
  }
}

const q5_0: Decoder = (src, blocks, q, sc, bi) => {
  for (let i = 0, s = 0; i < blocks; i++, s += 22) {
    const d = f16(src, s);
    sc[i] = d; bi[i] = -16 * d;
    nibbles(src, s + 6, q, 32 * i, 0);
    fifthBits(src, s + 2, q, 32 * i);
  }
};

const q5_1: Decoder = (src, blocks, q, sc, bi) => {
  for (let i = 0, s = 0; i < blocks; i++, s += 24) {
    sc[i] = f16(src, s); bi[i] = f16(src, s + 2);
    nibbles(src, s + 8, q, 32 * i, 0);
    fifthBits(src, s + 4, q, 32 * i);
  }
};

// The 8 six-bit scales and mins of a K-quant super-block, packed into 12 bytes.
function scaleMin(src: Uint8Array, at: number, j: number): [number, number] {
  if (j < 4) return [src[at + j] & 63, src[at + j + 4] & 63];
  return [(src[at + j + 4] & 0xf) | ((src[at + j - 4] >> 6) << 4), (src[at + j + 4] >> 4) | ((src[at + j] >> 6) << 4)];
}

function kQuant(blockBytes: number, highBits: boolean): Decoder {
  return (src, blocks, q, sc, bi) => {
    for (let i = 0, s = 0; i < blocks; i++, s += blockBytes) {
      const d = f16(src, s), dmin = f16(src, s + 2);
      const qs = s + (highBits ? 48 : 16), qh = s + 16;
      for (let j = 0; j < 4; j++) {
        for (let h = 0; h < 2; h++) {
          const sub = 8 * i + 2 * j + h;
          const [scale, min] = scaleMin(src, s + 4, 2 * j + h);
          sc[sub] = f32(d * scale); bi[sub] = -f32(dmin * min);
          const bit = 1 << (2 * j + h);
          for (let l = 0; l < 32; l++) {
            const byte = src[qs + 32 * j + l];
            q[32 * sub + l] = (h ? byte >> 4 : byte & 0xf) + (highBits && src[qh + l] & bit ? 16 : 0);
          }
        }
      }
    }
  };
}

const DECODERS: Record<string, { bits: number; blockSize: number; decode: Decoder }> = {
  Q8_0: { bits: 8, blockSize: 32, decode: q8_0 },
  Q4_0: { bits: 4, blockSize: 32, decode: q4_0 },
  Q4_1: { bits: 4, blockSize: 32, decode: q4_1 },
  Q5_0: { bits: 5, blockSize: 32, decode: q5_0 },
  Q5_1: { bits: 5, blockSize: 32, decode: q5_1 },
  Q4_K: { bits: 4, blockSize: 256, decode: kQuant(144, false) },
  Q5_K: { bits: 5, blockSize: 256, decode: kQuant(176, true) },
};

/** The ggml types that map onto MLX's affine quantization with groups of 32. */
export const AFFINE_TYPES = Object.keys(DECODERS);

/** The bits an affine ggml type keeps (undefined for other types). */
export const affineBits = (type: string): number | undefined => DECODERS[type]?.bits;

/** Repacks a (rows, cols) tensor of ggml blocks into MLX's affine layout (groups of 32). */
export function ggmlToAffine(type: string, src: Uint8Array, rows: number, cols: number): AffineBlocks {
  const t = DECODERS[type];
  if (!t) throw new Error(`[gguf] ggml type ${type} has no MLX affine layout (those that do: ${AFFINE_TYPES.join(', ')})`);
  const n = rows * cols;
  const q = new Uint8Array(n);
  const scales = new Float32Array(n / 32), biases = new Float32Array(n / 32);
  t.decode(src, n / t.blockSize, q, scales, biases);
  const bits = t.bits, words = (cols * bits) / 32;
  const packed = new Uint32Array(rows * words);
  for (let r = 0; r < rows; r++) {
    const row = r * words;
    for (let j = 0, pos = 0; j < cols; j++, pos += bits) {
      const v = q[r * cols + j], w = row + (pos >>> 5), off = pos & 31;
      packed[w] = (packed[w] | (v << off)) >>> 0;
      if (off + bits > 32) packed[w + 1] = (packed[w + 1] | (v >>> (32 - off))) >>> 0;
    }
  }
  return { packed, scales, biases, bits };
}
