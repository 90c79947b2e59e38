// Quantization to ggml's Q8_0 and Q4_0 blocks, transcribed from ggml's reference
// `quantize_row_q8_0_ref` / `quantize_row_q4_0_ref` (ggml-quants.c). Every step there is a
// float32 operation, so each one is rounded with Math.fround here; the results are the same
// bytes as llama.cpp's (tested against gguf-py's port).
import { toF16 } from '../core/half.js';

const f32 = Math.fround;

function putF16(out: Uint8Array, at: number, v: number): void {
  const h = toF16(v);
  out[at] = h & 0xff;
  out[at + 1] = h >> 8;
}

/** Q8_0: per 32 values, d = max|x| / 127 (float16) and int8 q = round(x / d). */
export function quantizeQ8_0(x: Float32Array): Uint8Array {
  const blocks = x.length / 32;
  const out = new Uint8Array(blocks * 34);
  for (let i = 0, s = 0, o = 0; i < blocks; i++, s += 32, o += 34) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[s + j]));
    const d = f32(amax / 127);
    const id = d ? f32(1 / d) : 0;
    putF16(out, o, d);
    for (let j = 0; j < 32; j++) {
      const v = f32(x[s + j] * id);
      const r = Math.sign(v) * Math.floor(Math.abs(v) + 0.5); // roundf: halves away from zero
      out[o + 2 + j] = r & 0xff;
    }
  }
  return out;
}

/** Q4_0: per 32 values, d = (the value of largest magnitude) / -8 (float16) and q = x / d + 8 in [0, 15]. */
export function quantizeQ4_0(x: Float32Array): Uint8Array {
  const blocks = x.length / 32;
  const out = new Uint8Array(blocks * 18);
  for (let i = 0, s = 0, o = 0; i < blocks; i++, s += 32, o += 18) {
    let amax = 0, max = 0;
    for (let j = 0; j < 32; j++) {
      const v = x[s + j];
      if (amax < Math.abs(v)) { amax = Math.abs(v); max = v; }
    }
    const d = f32(max / -8);
    const id = d ? f32(1 / d) : 0;
    putF16(out, o, d);
    const q = (v: number) => Math.min(15, Math.trunc(f32(f32(v * id) + 8.5)));
    for (let j = 0; j < 16; j++) out[o + 2 + j] = q(x[s + j]) | (q(x[s + j + 16]) << 4);
  }
  return out;
}

/** The ggml types saveGguf can quantize to, with their block quantizers. */
export const ggmlQuantizers: Record<string, (x: Float32Array) => Uint8Array> = { Q8_0: quantizeQ8_0, Q4_0: quantizeQ4_0 };
