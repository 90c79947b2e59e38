// Threefry-2x32 with 20 rounds (Salmon et al., "Parallel random numbers: as easy as 1, 2,
// 3"), the counter-based generator of JAX and MLX. Backends and the host key sequence share
// this code so a key gives the same bits everywhere.

const ROT0 = [13, 15, 26, 6];
const ROT1 = [17, 29, 16, 24];

/** Hashes counter (c0, c1) under key (k0, k1); writes the two words to out[i0] and out[i1]. */
export function threefry2x32(k0: number, k1: number, c0: number, c1: number, out: Uint32Array, i0: number, i1: number): void {
  const k2 = (k0 ^ k1 ^ 0x1bd11bda) >>> 0;
  const ks0 = k0 >>> 0, ks1 = k1 >>> 0;
  let x0 = (c0 + ks0) | 0;
  let x1 = (c1 + ks1) | 0;
  for (let i = 0; i < 5; i++) {
    const rot = i % 2 === 0 ? ROT0 : ROT1;
    for (let j = 0; j < 4; j++) {
      const r = rot[j];
      x0 = (x0 + x1) | 0;
      x1 = (x1 << r) | (x1 >>> (32 - r));
      x1 ^= x0;
    }
    const m = (i + 1) % 3;
    x0 = (x0 + (m === 0 ? ks0 : m === 1 ? ks1 : k2)) | 0;
    const n = (i + 2) % 3;
    x1 = (x1 + (n === 0 ? ks0 : n === 1 ? ks1 : k2) + i + 1) | 0;
  }
  out[i0] = x0;
  out[i1] = x1;
}

/**
 * The `words` 32-bit words one key yields, laid out as MLX's RandomBits does: counters
 * (i, half + odd + i) fill word i and word half + odd + i, and an odd count takes its middle
 * word from counter (half, 0). Writes into out[offset .. offset + words).
 */
export function keyWords(k0: number, k1: number, words: number, out: Uint32Array, offset = 0): void {
  const half = words >>> 1;
  const odd = words & 1;
  for (let i = 0; i < half; i++) threefry2x32(k0, k1, i, half + odd + i, out, offset + i, offset + half + odd + i);
  if (odd) {
    threefry2x32(k0, k1, half, 0, scratch, 0, 1);
    out[offset + half] = scratch[0];
  }
}
const scratch = new Uint32Array(2);

/**
 * Random bits for `keys` (flat pairs, one per leading batch entry): each key fills
 * `bytesPerKey` bytes of `out` (a little-endian byte view of the output).
 */
export function fillRandomBits(keys: Uint32Array, out: Uint8Array, bytesPerKey: number): void {
  const numKeys = keys.length / 2;
  const words = Math.ceil(bytesPerKey / 4);
  const aligned = out.byteOffset % 4 === 0 && bytesPerKey % 4 === 0;
  const tmp = aligned ? null : new Uint32Array(words);
  const tmpBytes = tmp && new Uint8Array(tmp.buffer);
  for (let k = 0; k < numKeys; k++) {
    if (tmp) {
      keyWords(keys[2 * k], keys[2 * k + 1], words, tmp);
      out.set(tmpBytes!.subarray(0, bytesPerKey), k * bytesPerKey);
    } else {
      const view = new Uint32Array(out.buffer, out.byteOffset + k * bytesPerKey, words);
      keyWords(keys[2 * k], keys[2 * k + 1], words, view);
    }
  }
}

/** Splits a key on the host: `num` new keys as flat pairs (row i is [out[2i], out[2i+1]]). */
export function splitKeyHost(k0: number, k1: number, num: number): Uint32Array {
  const out = new Uint32Array(2 * num);
  keyWords(k0, k1, 2 * num, out);
  return out;
}
