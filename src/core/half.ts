// Exact float16 / bfloat16 <-> float32 conversion (round to nearest even, NaN, Inf, subnormals).

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float16 bits -> number, through a 65536-entry table (exact). */
export const F16_TABLE: Float32Array = (() => {
  const t = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const s = h & 0x8000 ? -1 : 1;
    const e = (h >> 10) & 0x1f;
    const m = h & 0x3ff;
    if (e === 0) t[h] = s * m * 2 ** -24;
    else if (e === 31) t[h] = m ? NaN : s * Infinity;
    else t[h] = s * (1 + m / 1024) * 2 ** (e - 15);
  }
  return t;
})();

/** bfloat16 bits -> number (exact: the high half of a float32). */
export const BF16_TABLE: Float32Array = (() => {
  const t = new Float32Array(65536);
  const bits = new Uint32Array(t.buffer);
  for (let h = 0; h < 65536; h++) bits[h] = h << 16;
  return t;
})();

// A float32 tie may hide a float64 value just above or below it: break it by that value,
// so converting a float64 rounds once, like NumPy, not twice.
function tieUp(v: number, kept: number): boolean {
  const r = f32[0];
  if (r === v) return (kept & 1) === 1;
  return Math.abs(v) > Math.abs(r);
}

/** number -> float16 bits, rounding to nearest even. */
export function toF16(v: number): number {
  f32[0] = v; // first round to float32, as hardware conversion from float32 does
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  // Re-bias: float32 bias 127, float16 bias 15.
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign; // rounds to zero
    mant |= 0x800000; // implicit bit
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = mant & ((1 << shift) - 1);
    let m = mant >>> shift;
    if (rest > half || (rest === half && tieUp(v, m))) m++;
    return sign | m;
  }
  const m = mant >>> 13;
  const rest = mant & 0x1fff;
  let out = sign | (e << 10) | m;
  if (rest > 0x1000 || (rest === 0x1000 && tieUp(v, m))) out++; // carry may roll into the exponent: correct
  return out;
}

/** number -> bfloat16 bits, rounding to nearest even. */
export function toBF16(v: number): number {
  f32[0] = v;
  const x = u32[0];
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff)) return ((x >>> 16) | 0x40) & 0xffff; // quiet NaN
  const rest = x & 0xffff;
  const up = rest > 0x8000 || (rest === 0x8000 && tieUp(v, x >>> 16));
  return ((x >>> 16) + (up ? 1 : 0)) & 0xffff;
}

export const fromF16 = (h: number): number => F16_TABLE[h];
export const fromBF16 = (h: number): number => BF16_TABLE[h];
